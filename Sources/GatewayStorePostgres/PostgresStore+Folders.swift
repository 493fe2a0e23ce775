import Foundation
import GatewayCore
import PostgresNIO

// Folders: (account, folderId) <-> mailbox wire name, as in the SQLite store. Replicas that first
// see the same mailbox at once take turns (the account's advisory lock), insert with ON CONFLICT DO
// NOTHING and read the row back, so both hand out the ID that won.
extension PostgresStore {
    /// Returns the folder ID of each of `mailboxes`, giving a new random ID to each mailbox that
    /// has none yet. An existing mailbox keeps its ID. All missing rows are inserted in one
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
        let names = Array(wanted)
        return try await transaction { connection in
            try await AdvisoryLock.folders.take(connection, account: account, logger: logger)
            // Stamped once the turn is ours, as SQLite stamps inside its write transaction.
            let createdAt = Date()
            // Read again inside the transaction: another replica may have added rows since.
            var ids: [String: String] = [:]
            let existing = try await connection.query(
                "SELECT mailbox, id FROM folder WHERE account = \(account) AND mailbox = ANY(\(names)::text[])", logger: logger)
            for try await (mailbox, id) in existing.decode((String, String).self) { ids[mailbox] = id }
            var taken = Set(known.values).union(ids.values)
            // A second round only when a new random ID collided with another folder's ID: the row
            // was not inserted, so its mailbox gets another.
            for _ in 0..<8 {
                var seen = Set<String>()
                let missing = mailboxes.filter { ids[$0] == nil && seen.insert($0).inserted }
                if missing.isEmpty { return ids }
                let newIDs = missing.map { _ in
                    var id = RandomToken.identifier()
                    while taken.contains(id) { id = RandomToken.identifier() }
                    taken.insert(id)
                    return id
                }
                try await connection.query(
                    """
                    INSERT INTO folder (account, id, mailbox, created_at)
                    SELECT \(account), t.id, t.mailbox, \(createdAt) FROM unnest(\(newIDs)::text[], \(missing)::text[]) AS t(id, mailbox)
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
                // Read back: a row another replica committed first is the one that counts.
                let rows = try await connection.query(
                    "SELECT mailbox, id FROM folder WHERE account = \(account) AND mailbox = ANY(\(missing)::text[])", logger: logger)
                for try await (mailbox, id) in rows.decode((String, String).self) {
                    ids[mailbox] = id
                    taken.insert(id)
                }
            }
            guard wanted.isSubset(of: ids.keys) else { throw StoreCorruption("folder IDs could not be recorded") }
            return ids
        }
    }

    /// Mailbox name → folder ID for every folder of the account.
    public func folderIDs(account: String) async throws -> [String: String] {
        var ids: [String: String] = [:]
        let rows = try await client.query("SELECT mailbox, id FROM folder WHERE account = \(account)", logger: logger)
        for try await (mailbox, id) in rows.decode((String, String).self) {
            ids[mailbox] = id
        }
        return ids
    }

    /// Deletes the folders of the account whose mailbox is not in `mailboxes` (the mailboxes that
    /// no longer exist upstream) and that were recorded before `listedAt`, with their sort orders,
    /// metadata, sort keys and thread headers. Should such a mailbox reappear later, it gets a new
    /// ID. Writes nothing when every folder is still listed.
    public func forgetFolders(account: String, except mailboxes: Set<String>, listedAt: Date) async throws {
        let known = try await folderIDs(account: account)
        guard known.keys.contains(where: { !mailboxes.contains($0) }) else { return }
        let listed = Array(mailboxes)
        try await transaction { connection in
            try await AdvisoryLock.folders.take(connection, account: account, logger: logger)
            try await AdvisoryLock.caches.take(connection, account: account, logger: logger)
            var gone: [String] = []
            let rows = try await connection.query(
                """
                DELETE FROM folder
                WHERE account = \(account) AND created_at < \(listedAt) AND mailbox <> ALL(\(listed)::text[])
                RETURNING id
                """, logger: logger)
            for try await id in rows.decode(String.self) { gone.append(id) }
            guard !gone.isEmpty else { return }
            for table in Self.perFolderTables {
                try await connection.query(
                    "DELETE FROM \(unescaped: table) WHERE account = \(account) AND folder_id = ANY(\(gone)::text[])", logger: logger)
            }
        }
    }

    /// The tables that cache something per folder: they forget what a forgotten folder had.
    /// (Constant names: the one place SQL text is built.)
    static let perFolderTables = [
        "sort_cache", "folder_sync", "message_meta", "sort_keys", "sort_key_sync", "thread_headers", "thread_header_sync",
    ]
}
