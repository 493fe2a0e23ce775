import GatewayStore
import IMAPClient
import IMAPCore

/// One folder of an account: its stable ID, IMAP name, place in the hierarchy and role.
public struct FolderInfo: Hashable, Sendable {
    public var id: String
    public var mailbox: MailboxName
    /// The last level of the hierarchy, decoded.
    public var name: String
    public var parentId: String?
    /// `inbox`, `drafts`, `sent`, `trash`, `junk`, `archive` or empty (from SPECIAL-USE).
    public var role: String
    public var delimiter: Character?
    public var selectable: Bool
    public var status: MailboxStatus?
}

/// The account's folders as the server lists them now, with the IDs the store keeps for them.
/// Loaded per request (one LIST), so it is always in step with the server.
public struct MailboxDirectory: Sendable {
    public private(set) var folders: [FolderInfo]
    private var byId: [String: Int]

    /// LISTs the account's mailboxes (with STATUS where asked) and assigns IDs to new ones.
    public static func load(
        connection: IMAPConnection, database: GatewayDatabase, account: String, status: [StatusItem] = []
    ) async throws -> MailboxDirectory {
        let listings = try await connection.list(status: status)
        let wireNames = listings.map { String(decoding: $0.name.wire, as: UTF8.self) }
        let ids = try await database.ensureFolders(account: account, mailboxes: wireNames)
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
                    id: id, mailbox: listing.name, name: name, parentId: parentId,
                    role: Self.role(listing), delimiter: listing.entry.delimiter, selectable: listing.isSelectable,
                    status: listing.status))
        }
        return MailboxDirectory(folders: folders)
    }

    init(folders: [FolderInfo]) {
        self.folders = folders
        byId = Dictionary(folders.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func folder(id: String) -> FolderInfo? { byId[id].map { folders[$0] } }

    /// The Trash folder (SPECIAL-USE `\Trash`).
    public var trash: FolderInfo? { folders.first { $0.role == "trash" } }

    /// Whether `folder` is the Trash folder or below it.
    public func isInTrash(_ folder: FolderInfo) -> Bool {
        guard let trash else { return false }
        if folder.id == trash.id { return true }
        guard let delimiter = trash.delimiter else { return false }
        return folder.mailbox.name.hasPrefix(trash.mailbox.name + String(delimiter))
    }

    private static func role(_ listing: MailboxListing) -> String {
        if listing.name.isInbox { return "inbox" }
        switch listing.specialUse?.lowercased() {
        case "\\drafts": return "drafts"
        case "\\sent": return "sent"
        case "\\trash": return "trash"
        case "\\junk": return "junk"
        case "\\archive": return "archive"
        default: return ""
        }
    }
}
