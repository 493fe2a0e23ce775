import Foundation
import IMAPCore

/// One folder of an account: its stable ID, IMAP name, place in the hierarchy and role.
public struct FolderInfo: Hashable, Sendable {
    public var id: String
    public var mailbox: MailboxName
    /// The last level of the hierarchy, decoded.
    public var name: String
    public var parentId: String?
    public var role: FolderRole
    public var delimiter: Character?
    public var selectable: Bool
    public var status: MailboxStatus?

    public init(
        id: String, mailbox: MailboxName, name: String, parentId: String? = nil, role: FolderRole = .none,
        delimiter: Character? = "/", selectable: Bool = true, status: MailboxStatus? = nil
    ) {
        self.id = id
        self.mailbox = mailbox
        self.name = name
        self.parentId = parentId
        self.role = role
        self.delimiter = delimiter
        self.selectable = selectable
        self.status = status
    }
}

extension FolderInfo {
    /// Messages in the folder (STATUS MESSAGES), 0 when not asked.
    public var totalItems: Int { Int(status?.messages ?? 0) }
    /// Unread messages (STATUS UNSEEN), 0 when not asked.
    public var unreadItems: Int { Int(status?.unseen ?? 0) }
    /// Octets (STATUS SIZE, RFC 8438), 0 when the server cannot tell.
    public var sizeOctets: UInt64 { status?.size ?? 0 }
}

/// The account's folders as the server lists them now, with the IDs the store keeps for them.
/// Loaded per request (one LIST), so it is always in step with the server.
public struct MailboxDirectory: Sendable {
    public private(set) var folders: [FolderInfo]
    private var byId: [String: Int]

    /// LISTs the account's mailboxes (with STATUS where asked), assigns IDs to new ones and
    /// forgets those no longer listed, so a mailbox that reappears gets a new ID (SPEC §2).
    public static func load(
        session: any MailSession, store: any FolderStore, account: String, status: [StatusItem] = []
    ) async throws -> MailboxDirectory {
        let listedAt = Date()
        let listings = try await session.list(status: status)
        let wireNames = listings.map { String(decoding: $0.name.wire, as: UTF8.self) }
        let ids = try await store.ensureFolders(account: account, mailboxes: wireNames)
        try await store.forgetFolders(account: account, except: Set(wireNames), listedAt: listedAt)
        var folders: [FolderInfo] = []
        for (listing, wire) in zip(listings, wireNames) {
            guard let id = ids[wire] else { continue }
            let decoded = listing.name.name
            var name = decoded
            var parentId: String?
            if let delimiter = listing.entry.delimiter, let cut = decoded.lastIndex(of: delimiter) {
                name = String(decoded[decoded.index(after: cut)...])
                let parent = MailboxName(String(decoded[..<cut]))
                parentId = ids[String(decoding: parent.wire, as: UTF8.self)]
            }
            folders.append(
                FolderInfo(
                    id: id, mailbox: listing.name, name: name, parentId: parentId, role: Self.role(listing),
                    delimiter: listing.entry.delimiter, selectable: listing.isSelectable, status: listing.status))
        }
        return MailboxDirectory(folders: folders)
    }

    public init(folders: [FolderInfo]) {
        self.folders = folders
        byId = Dictionary(folders.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func folder(id: String) -> FolderInfo? { byId[id].map { folders[$0] } }

    /// The Trash folder (SPECIAL-USE `\Trash`).
    public var trash: FolderInfo? { folders.first { $0.role == .trash } }

    /// Whether `folder` is the Trash folder or below it.
    public func isInTrash(_ folder: FolderInfo) -> Bool {
        guard let trash else { return false }
        if folder.id == trash.id { return true }
        guard let delimiter = trash.delimiter else { return false }
        return folder.mailbox.name.hasPrefix(trash.mailbox.name + String(delimiter))
    }

    static func role(_ listing: MailboxListing) -> FolderRole {
        if listing.name.isInbox { return .inbox }
        switch listing.specialUse?.lowercased() {
        case "\\drafts": return .drafts
        case "\\sent": return .sent
        case "\\trash": return .trash
        case "\\junk": return .junk
        case "\\archive": return .archive
        default: return .none
        }
    }
}
