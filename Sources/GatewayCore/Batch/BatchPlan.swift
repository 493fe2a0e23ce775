import IMAPCore

/// A batch's IDs decoded and grouped per folder, so that each folder costs one SELECT and a few
/// commands on compressed UID sets. Pure: no I/O, so it is unit-tested directly.
public struct BatchPlan: Hashable, Sendable {
    /// The messages of one folder (at one UIDVALIDITY) that a batch names.
    public struct FolderItems: Hashable, Sendable {
        public var folderId: String
        public var uidValidity: UInt32
        /// UID → the client's ID string.
        public var ids: [UInt32: String]

        public var uids: UIDSet { UIDSet(ids.keys) }

        /// The client IDs of `uids` (those that belong to this group).
        public func clientIDs(_ uids: UIDSet) -> [String] { uids.values.compactMap { ids[$0] } }
    }

    /// Groups in order of first appearance.
    public var folders: [FolderItems]
    /// IDs that do not decode: they fail without any IMAP traffic.
    public var undecodable: [String]
    /// The distinct IDs in request order (duplicates are acted on once and reported once).
    public var distinctIDs: [String]

    public init(ids: [String]) {
        var seen = Set<String>()
        struct GroupKey: Hashable {
            var folderId: String
            var uidValidity: UInt32
        }
        var groups: [GroupKey: Int] = [:]
        folders = []
        undecodable = []
        distinctIDs = []
        for id in ids where seen.insert(id).inserted {
            distinctIDs.append(id)
            guard let mail = MailID(id) else {
                undecodable.append(id)
                continue
            }
            let key = GroupKey(folderId: mail.folderId, uidValidity: mail.uidValidity)
            if let index = groups[key] {
                folders[index].ids[mail.uid] = id
            } else {
                groups[key] = folders.count
                folders.append(FolderItems(folderId: mail.folderId, uidValidity: mail.uidValidity, ids: [mail.uid: id]))
            }
        }
    }

    /// Orders a set of failed IDs as the request listed them.
    public func ordered(_ failed: Set<String>) -> [String] { distinctIDs.filter { failed.contains($0) } }
}
