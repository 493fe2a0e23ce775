import Foundation
import GRDB
import GatewayCore

// Folders: (account, folderId) <-> mailbox wire name.
//
// Mailbox names are stored and compared exactly as given: callers pass the name as the server's
// LIST returned it (and normalise `INBOX`, which IMAP compares case-insensitively, before calling).
extension GatewayDatabase: FolderStore {
    /// Returns the folder ID of each of `mailboxes`, giving a new random ID to each mailbox that
    /// has none yet. An existing mailbox keeps its ID. All missing rows are inserted in one write
    /// transaction; when nothing is missing, no write happens at all.
    ///
    /// - Returns: mailbox name → folder ID, for exactly the (distinct) names in `mailboxes`.
    public func ensureFolders(account: String, mailboxes: [String]) async throws -> [String: String] {
        let wanted = Set(mailboxes)
        if wanted.isEmpty { return [:] }
        let known = try await folderIDs(account: account)
        if wanted.isSubset(of: known.keys) {
            return known.filter { wanted.contains($0.key) }
        }
        return try await writer.write { db in
            // Read again inside the transaction: another writer may have added rows since.
            var ids = try Self.folderIDs(db, account: account)
            var taken = Set(ids.values)
            let now = Date().timeIntervalSince1970
            for mailbox in mailboxes where ids[mailbox] == nil {
                var id = RandomToken.identifier()
                while taken.contains(id) { id = RandomToken.identifier() }
                try StoredFolder(account: account, id: id, mailbox: mailbox, createdAt: now).insert(db)
                ids[mailbox] = id
                taken.insert(id)
            }
            return ids.filter { wanted.contains($0.key) }
        }
    }

    /// Mailbox name → folder ID for every folder of the account.
    public func folderIDs(account: String) async throws -> [String: String] {
        try await writer.read { db in try Self.folderIDs(db, account: account) }
    }

    /// Deletes the folders of the account whose mailbox is not in `mailboxes` (the mailboxes that
    /// no longer exist upstream) and that were recorded before `listedAt`, with their sort orders
    /// and metadata. Should such a mailbox reappear later, it gets a new ID, so that mail IDs
    /// minted for the old one never address the new one. Writes nothing when every folder is still
    /// listed.
    public func forgetFolders(account: String, except mailboxes: Set<String>, listedAt: Date) async throws {
        let known = try await folderIDs(account: account)
        guard known.keys.contains(where: { !mailboxes.contains($0) }) else { return }
        try await writer.write { db in
            // Rows from before migration v4 have no createdAt: they are older than any LIST now.
            let rows = try Row.fetchAll(
                db, sql: "SELECT mailbox, id FROM folder WHERE account = ? AND (createdAt IS NULL OR createdAt < ?)",
                arguments: [account, listedAt.timeIntervalSince1970])
            let gone = rows.filter { !mailboxes.contains($0["mailbox"] as String) }.map { $0["id"] as String }
            // Chunked to stay far below SQLite's limit on bound parameters.
            var start = 0
            while start < gone.count {
                let chunk = Array(gone[start..<min(start + 500, gone.count)])
                try StoredFolder
                    .filter(StoredFolder.Columns.account == account && chunk.contains(StoredFolder.Columns.id))
                    .deleteAll(db)
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                for table in ["sortCache", "folderSync", "messageMeta", "sortKeys", "sortKeySync", "threadHeaders", "threadHeaderSync"] {
                    try db.execute(
                        sql: "DELETE FROM \(table) WHERE account = ? AND folderId IN (\(marks))",
                        arguments: StatementArguments([account] + chunk))
                }
                start += chunk.count
            }
        }
    }

    /// Mailbox name → folder ID for every folder of the account.
    private static func folderIDs(_ db: Database, account: String) throws -> [String: String] {
        let rows = try Row.fetchCursor(
            db, sql: "SELECT mailbox, id FROM folder WHERE account = ?", arguments: [account])
        var ids: [String: String] = [:]
        while let row = try rows.next() {
            ids[row[0]] = row[1]
        }
        return ids
    }
}
