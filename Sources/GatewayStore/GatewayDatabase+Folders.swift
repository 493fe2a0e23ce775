import GRDB

// Folders: (account, folderId) <-> mailbox wire name (+ UIDVALIDITY).
//
// Mailbox names are stored and compared exactly as given: callers pass the name as the server's
// LIST returned it (and normalise `INBOX`, which IMAP compares case-insensitively, before calling).
extension GatewayDatabase {
    /// Returns the folder ID of each of `mailboxes`, giving a new random ID to each mailbox that
    /// has none yet. An existing mailbox keeps its ID. All missing rows are inserted in one write
    /// transaction; when nothing is missing, no write happens at all.
    ///
    /// - Returns: mailbox name → folder ID, for exactly the (distinct) names in `mailboxes`.
    public func ensureFolders(account: String, mailboxes: [String]) async throws -> [String: String] {
        let wanted = Set(mailboxes)
        if wanted.isEmpty { return [:] }
        let known = try await writer.read { db in try Self.folderIDs(db, account: account) }
        if wanted.isSubset(of: known.keys) {
            return known.filter { wanted.contains($0.key) }
        }
        return try await writer.write { db in
            // Read again inside the transaction: another writer may have added rows since.
            var ids = try Self.folderIDs(db, account: account)
            var taken = Set(ids.values)
            for mailbox in mailboxes where ids[mailbox] == nil {
                var id = RandomIdentifier.make()
                while taken.contains(id) { id = RandomIdentifier.make() }
                try StoredFolder(account: account, id: id, mailbox: mailbox).insert(db)
                ids[mailbox] = id
                taken.insert(id)
            }
            return ids.filter { wanted.contains($0.key) }
        }
    }

    /// The folder with this ID in this account, or `nil`.
    public func folder(account: String, id: String) async throws -> StoredFolder? {
        guard RandomIdentifier.isWellFormed(id) else { return nil }
        return try await writer.read { db in
            try StoredFolder.fetchOne(db, key: ["account": account, "id": id])
        }
    }

    /// The folder of this mailbox (exact wire name) in this account, or `nil`.
    public func folder(account: String, mailbox: String) async throws -> StoredFolder? {
        try await writer.read { db in
            try StoredFolder.fetchOne(db, key: ["account": account, "mailbox": mailbox])
        }
    }

    /// All folders of the account, ordered by mailbox name.
    public func folders(account: String) async throws -> [StoredFolder] {
        try await writer.read { db in
            try StoredFolder
                .filter(StoredFolder.Columns.account == account)
                .order(StoredFolder.Columns.mailbox)
                .fetchAll(db)
        }
    }

    /// Records the UIDVALIDITY the server reported for the folder.
    ///
    /// - Throws: ``GatewayStoreError/folderNotFound(_:)`` when the account has no such folder.
    public func setUIDValidity(account: String, folderId: String, uidValidity: UInt32) async throws {
        let updated = try await writer.write { db in
            try StoredFolder
                .filter(key: ["account": account, "id": folderId])
                .updateAll(db, StoredFolder.Columns.uidValidity.set(to: uidValidity))
        }
        if updated == 0 { throw GatewayStoreError.folderNotFound(folderId) }
    }

    /// Deletes the folders of the account whose mailbox is not in `mailboxes` (the mailboxes that
    /// no longer exist upstream). Should such a mailbox reappear later, it gets a new ID, so that
    /// mail IDs minted for the old one never address the new one.
    public func forgetFolders(account: String, except mailboxes: Set<String>) async throws {
        try await writer.write { db in
            let gone = try Self.folderIDs(db, account: account)
                .filter { !mailboxes.contains($0.key) }
                .map(\.value)
            if gone.isEmpty { return }
            // Chunked to stay far below SQLite's limit on bound parameters.
            var start = 0
            while start < gone.count {
                let chunk = gone[start..<min(start + 500, gone.count)]
                try StoredFolder
                    .filter(StoredFolder.Columns.account == account && chunk.contains(StoredFolder.Columns.id))
                    .deleteAll(db)
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
