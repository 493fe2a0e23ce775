import Foundation
import GRDB
import GatewayCore

extension GatewayDatabase: ListingCache {
    public func cachedOrder(account: String, folderId: String, order: MailSortOrder) async throws -> CachedOrder? {
        try await writer.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT uidValidity, token, uids FROM sortCache WHERE account = ? AND folderId = ? AND field = ? AND direction = ?",
                    arguments: [account, folderId, order.field.rawValue, order.direction.rawValue])
            else { return nil }
            let blob: [UInt8] = Array(row["uids"] as Data)
            return CachedOrder(uidValidity: UInt32(row["uidValidity"] as Int64), token: row["token"], uids: StoredEncoding.unpack(blob))
        }
    }

    public func storeOrder(account: String, folderId: String, order: MailSortOrder, cached: CachedOrder) async throws {
        let blob = Data(StoredEncoding.pack(cached.uids))
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO sortCache (account, folderId, field, direction, uidValidity, token, uids)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    account, folderId, order.field.rawValue, order.direction.rawValue, Int64(cached.uidValidity), cached.token, blob,
                ])
        }
    }

    public func folderSyncState(account: String, folderId: String) async throws -> FolderSyncState? {
        try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT uidValidity, uidNext, highestModSeq FROM folderSync WHERE account = ? AND folderId = ?",
                arguments: [account, folderId]
            ).map {
                FolderSyncState(
                    uidValidity: UInt32($0["uidValidity"] as Int64), uidNext: UInt32($0["uidNext"] as Int64),
                    highestModSeq: UInt64($0["highestModSeq"] as Int64))
            }
        }
    }

    /// Applies one sync step in a single transaction: drop `removed` (or everything when `reset`),
    /// upsert `changed`, and record the new state.
    public func applyMetaSync(
        account: String, folderId: String, reset: Bool, removed: [UInt32], changed: [MessageMeta], state: FolderSyncState
    ) async throws {
        try await writer.write { db in
            if reset {
                try db.execute(sql: "DELETE FROM messageMeta WHERE account = ? AND folderId = ?", arguments: [account, folderId])
            }
            for uid in removed {
                try db.execute(
                    sql: "DELETE FROM messageMeta WHERE account = ? AND folderId = ? AND uid = ?",
                    arguments: [account, folderId, Int64(uid)])
            }
            let statement = try db.makeStatement(
                sql: """
                    INSERT OR REPLACE INTO messageMeta (account, folderId, uid, flags, modSeq, importance, hasAttachment)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
            for meta in changed {
                try statement.execute(arguments: [
                    account, folderId, Int64(meta.uid), meta.flags.words.joined(separator: " "), Int64(meta.modSeq),
                    meta.importance.rawValue, meta.hasAttachment ? 1 : 0,
                ])
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO folderSync (account, folderId, uidValidity, uidNext, highestModSeq) VALUES (?, ?, ?, ?, ?)",
                arguments: [account, folderId, Int64(state.uidValidity), Int64(state.uidNext), Int64(state.highestModSeq)])
        }
    }

    /// Every cached message of a folder, by UID.
    public func messageMeta(account: String, folderId: String) async throws -> [UInt32: MessageMeta] {
        try await writer.read { db in
            var out: [UInt32: MessageMeta] = [:]
            out.reserveCapacity(try Self.folderRows(db, table: "messageMeta", account: account, folderId: folderId))
            let rows = try Row.fetchCursor(
                db, sql: "SELECT uid, flags, modSeq, importance, hasAttachment FROM messageMeta WHERE account = ? AND folderId = ?",
                arguments: [account, folderId])
            while let row = try rows.next() {
                let uid = UInt32(row["uid"] as Int64)
                let flags: String = row["flags"]
                out[uid] = MessageMeta(
                    uid: uid, flags: MessageFlags(words: flags.split(separator: " ")), modSeq: UInt64(row["modSeq"] as Int64),
                    importance: Importance(rawValue: row["importance"]) ?? .normal, hasAttachment: (row["hasAttachment"] as Int64) != 0)
            }
            return out
        }
    }

    /// How many rows of a per-folder cache table the folder has: a dictionary read from it is
    /// sized once, where growing by doubling held the old table beside the new one (at 60,000
    /// messages, 6 to 10 MB of a conversation build's peak, heaptrack).
    static func folderRows(_ db: Database, table: String, account: String, folderId: String) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table) WHERE account = ? AND folderId = ?", arguments: [account, folderId]) ?? 0
    }

    public func sortKeySyncState(account: String, folderId: String) async throws -> SortKeySyncState? {
        try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT uidValidity, uidNext, version FROM sortKeySync WHERE account = ? AND folderId = ?",
                arguments: [account, folderId]
            ).map {
                SortKeySyncState(
                    uidValidity: UInt32($0["uidValidity"] as Int64), uidNext: UInt32($0["uidNext"] as Int64), version: $0["version"])
            }
        }
    }

    public func sortKeys(account: String, folderId: String) async throws -> [UInt32: SortKeys] {
        try await writer.read { db in
            var out: [UInt32: SortKeys] = [:]
            out.reserveCapacity(try Self.folderRows(db, table: "sortKeys", account: account, folderId: folderId))
            let rows = try Row.fetchCursor(
                db, sql: "SELECT uid, subject, fromKey, toKey, sentDate, size FROM sortKeys WHERE account = ? AND folderId = ?",
                arguments: [account, folderId])
            while let row = try rows.next() {
                out[UInt32(row["uid"] as Int64)] = SortKeys(
                    subject: Array(row["subject"] as Data), from: Array(row["fromKey"] as Data), to: Array(row["toKey"] as Data),
                    date: row["sentDate"], size: UInt64(max(0, row["size"] as Int64)))
            }
            return out
        }
    }

    public func applySortKeySync(
        account: String, folderId: String, reset: Bool, removed: [UInt32], added: [UInt32: SortKeys], state: SortKeySyncState
    ) async throws {
        try await writer.write { db in
            if reset {
                try db.execute(sql: "DELETE FROM sortKeys WHERE account = ? AND folderId = ?", arguments: [account, folderId])
            }
            for uid in removed {
                try db.execute(
                    sql: "DELETE FROM sortKeys WHERE account = ? AND folderId = ? AND uid = ?", arguments: [account, folderId, Int64(uid)])
            }
            let statement = try db.makeStatement(
                sql: """
                    INSERT OR REPLACE INTO sortKeys (account, folderId, uid, subject, fromKey, toKey, sentDate, size)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for (uid, keys) in added {
                try statement.execute(arguments: [
                    account, folderId, Int64(uid), Data(keys.subject), Data(keys.from), Data(keys.to), keys.date,
                    Int64(clamping: keys.size),
                ])
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO sortKeySync (account, folderId, uidValidity, uidNext, version) VALUES (?, ?, ?, ?, ?)",
                arguments: [account, folderId, Int64(state.uidValidity), Int64(state.uidNext), state.version])
        }
    }
}
