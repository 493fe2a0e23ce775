import IMAPCore

/// One unit of batch work: one folder, a bounded UID set (one command line's worth), one action.
/// Jobs persist chunks (as JSON) so a restart knows exactly what each step was.
public struct BatchChunk: Codable, Hashable, Sendable {
    /// What a chunk does to its messages.
    public enum Action: Codable, Hashable, Sendable {
        /// COPY (or MOVE) to a folder; `move` without server MOVE is COPY + `\Deleted` + UID EXPUNGE.
        case transfer(move: Bool, destinationId: String, destinationMailbox: [UInt8], reportNewIds: Bool)
        /// `\Deleted` + UID EXPUNGE of exactly these UIDs.
        case expunge
        /// Flag or keyword changes: (add?, flag) pairs.
        case store(add: [String], remove: [String])
        /// Nothing to do (e.g. a move into the folder the messages are already in).
        case none
    }

    public var folderId: String
    public var mailbox: [UInt8]
    public var uidValidity: UInt32
    public var uids: [UInt32]
    public var action: Action

    public init(folderId: String, mailbox: [UInt8], uidValidity: UInt32, uids: [UInt32], action: Action) {
        self.folderId = folderId
        self.mailbox = mailbox
        self.uidValidity = uidValidity
        self.uids = uids
        self.action = action
    }

    /// The client's IDs of `uids` (IDs are canonical, so they are derived, not stored).
    public func clientIDs(_ uids: some Sequence<UInt32>) -> [String] {
        uids.map { MailID(folderId: folderId, uidValidity: uidValidity, uid: $0).encoded }
    }

    public var uidSet: UIDSet { UIDSet(uids) }
}

/// What a chunk achieved: the UIDs the server confirmed, and new UIDs from COPYUID.
public struct ChunkResult: Hashable, Sendable {
    public var confirmed: UIDSet
    public var newUIDs: [UInt32: UInt32]
    public var destinationUIDValidity: UInt32?

    public init(confirmed: UIDSet, newUIDs: [UInt32: UInt32] = [:], destinationUIDValidity: UInt32? = nil) {
        self.confirmed = confirmed
        self.newUIDs = newUIDs
        self.destinationUIDValidity = destinationUIDValidity
    }

    /// Nothing confirmed.
    static let none = ChunkResult(confirmed: UIDSet())
}
