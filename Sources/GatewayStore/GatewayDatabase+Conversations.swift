import Foundation
import GRDB
import GatewayCore

extension GatewayDatabase: ConversationCache {
    public func threadHeaderSyncState(account: String, folderId: String) async throws -> SortKeySyncState? {
        try await writer.read { db in
            try Row.fetchOne(
                db, sql: "SELECT uidValidity, uidNext, version FROM threadHeaderSync WHERE account = ? AND folderId = ?",
                arguments: [account, folderId]
            ).map {
                SortKeySyncState(
                    uidValidity: UInt32($0["uidValidity"] as Int64), uidNext: UInt32($0["uidNext"] as Int64), version: $0["version"])
            }
        }
    }

    public func threadHeaders(account: String, folderId: String) async throws -> [UInt32: ThreadHeaders] {
        try await writer.read { db in
            var out: [UInt32: ThreadHeaders] = [:]
            out.reserveCapacity(try Self.folderRows(db, table: "threadHeaders", account: account, folderId: folderId))
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT uid, subject, fromKey, toKey, sentDate, size, messageId, refs, isReply
                    FROM threadHeaders WHERE account = ? AND folderId = ?
                    """,
                arguments: [account, folderId])
            while let row = try rows.next() {
                let keys = SortKeys(
                    subject: Array(row["subject"] as Data), from: Array(row["fromKey"] as Data), to: Array(row["toKey"] as Data),
                    date: row["sentDate"], size: UInt64(max(0, row["size"] as Int64)))
                out[UInt32(row["uid"] as Int64)] = ThreadHeaders(
                    keys: keys, messageID: (row["messageId"] as Data?).map { String(decoding: $0, as: UTF8.self) },
                    references: StoredEncoding.unpackStrings(Array(row["refs"] as Data)), isReplyOrForward: (row["isReply"] as Int64) != 0)
            }
            return out
        }
    }

    public func applyThreadHeaderSync(
        account: String, folderId: String, reset: Bool, removed: [UInt32], added: [UInt32: ThreadHeaders], state: SortKeySyncState
    ) async throws {
        try await writer.write { db in
            if reset {
                try db.execute(sql: "DELETE FROM threadHeaders WHERE account = ? AND folderId = ?", arguments: [account, folderId])
            }
            for uid in removed {
                try db.execute(
                    sql: "DELETE FROM threadHeaders WHERE account = ? AND folderId = ? AND uid = ?",
                    arguments: [account, folderId, Int64(uid)])
            }
            let statement = try db.makeStatement(
                sql: """
                    INSERT OR REPLACE INTO threadHeaders
                    (account, folderId, uid, subject, fromKey, toKey, sentDate, size, messageId, refs, isReply)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
            for (uid, headers) in added {
                let keys = headers.keys
                try statement.execute(arguments: [
                    account, folderId, Int64(uid), Data(keys.subject), Data(keys.from), Data(keys.to), keys.date,
                    Int64(clamping: keys.size), headers.messageID.map { Data($0.utf8) },
                    Data(StoredEncoding.packStrings(headers.references)), headers.isReplyOrForward ? 1 : 0,
                ])
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO threadHeaderSync (account, folderId, uidValidity, uidNext, version) VALUES (?, ?, ?, ?, ?)",
                arguments: [account, folderId, Int64(state.uidValidity), Int64(state.uidNext), state.version])
        }
    }
}
