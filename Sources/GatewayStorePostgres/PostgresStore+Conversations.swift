import Foundation
import GatewayCore
import Logging
import PostgresNIO

// The conversation index's per-message headers, as in the SQLite store: sort keys, Message ID and
// references as bytes (any byte may occur in a message ID), kept in step per folder.
extension PostgresStore {
    public func threadHeaderSyncState(account: String, folderId: String) async throws -> SortKeySyncState? {
        try await syncState(table: "thread_header_sync", account: account, folderId: folderId)
    }

    public func threadHeaders(account: String, folderId: String) async throws -> [UInt32: ThreadHeaders] {
        var out: [UInt32: ThreadHeaders] = [:]
        out.reserveCapacity(try await folderRows(table: "thread_headers", account: account, folderId: folderId))
        let rows = try await client.query(
            """
            SELECT uid, subject, from_key, to_key, sent_date, size, message_id, refs, is_reply
            FROM thread_headers WHERE account = \(account) AND folder_id = \(folderId)
            """, logger: logger)
        for try await row in rows {
            let (uid, subject, from, to, date, size, messageID, refs, isReply) = try row.decode(
                (Int64, ByteBuffer, ByteBuffer, ByteBuffer, Int64, Int64, ByteBuffer?, ByteBuffer, Bool).self)
            let keys = SortKeys(
                subject: Array(subject.readableBytesView), from: Array(from.readableBytesView), to: Array(to.readableBytesView),
                date: date, size: UInt64(max(0, size)))
            out[try Column.uint32(uid, "UID")] = ThreadHeaders(
                keys: keys, messageID: messageID.map { String(decoding: $0.readableBytesView, as: UTF8.self) },
                references: StoredEncoding.unpackStrings(refs.readableBytesView), isReplyOrForward: isReply)
        }
        return out
    }

    /// One sync step in one transaction: drop `removed` (everything when `reset`), add `added`
    /// (replacing what a UID had), record `state`.
    public func applyThreadHeaderSync(
        account: String, folderId: String, reset: Bool, removed: [UInt32], added: [UInt32: ThreadHeaders], state: SortKeySyncState
    ) async throws {
        try await applyCacheSync(
            table: "thread_headers", account: account, folderId: folderId, reset: reset, removed: removed, entries: Array(added)
        ) { connection, batch in
            let uids = batch.map { Int64($0.key) }
            let subjects = batch.map { ByteBuffer(bytes: $0.value.keys.subject) }
            let froms = batch.map { ByteBuffer(bytes: $0.value.keys.from) }
            let tos = batch.map { ByteBuffer(bytes: $0.value.keys.to) }
            let dates = batch.map(\.value.keys.date)
            let sizes = batch.map { Int64(clamping: $0.value.keys.size) }
            // Array binds cannot hold NULL: a flag says which messages have no Message ID.
            let hasMessageID = batch.map { $0.value.messageID != nil }
            let messageIDs = batch.map { ByteBuffer(bytes: Array(($0.value.messageID ?? "").utf8)) }
            let refs = batch.map { ByteBuffer(bytes: StoredEncoding.packStrings($0.value.references)) }
            let replies = batch.map(\.value.isReplyOrForward)
            try await connection.query(
                """
                INSERT INTO thread_headers
                    (account, folder_id, uid, subject, from_key, to_key, sent_date, size, message_id, refs, is_reply)
                SELECT \(account), \(folderId), t.uid, t.subject, t.from_key, t.to_key, t.sent_date, t.size,
                       CASE WHEN t.has_message_id THEN t.message_id END, t.refs, t.is_reply
                FROM unnest(
                    \(uids)::int8[], \(subjects)::bytea[], \(froms)::bytea[], \(tos)::bytea[], \(dates)::int8[], \(sizes)::int8[],
                    \(hasMessageID)::bool[], \(messageIDs)::bytea[], \(refs)::bytea[], \(replies)::bool[])
                    AS t(uid, subject, from_key, to_key, sent_date, size, has_message_id, message_id, refs, is_reply)
                ON CONFLICT (account, folder_id, uid) DO UPDATE SET
                    subject = excluded.subject, from_key = excluded.from_key, to_key = excluded.to_key,
                    sent_date = excluded.sent_date, size = excluded.size, message_id = excluded.message_id,
                    refs = excluded.refs, is_reply = excluded.is_reply
                """, logger: logger)
        } record: { connection in
            try await Self.recordSyncState(
                connection, table: "thread_header_sync", account: account, folderId: folderId, state: state, logger: logger)
        }
    }
}
