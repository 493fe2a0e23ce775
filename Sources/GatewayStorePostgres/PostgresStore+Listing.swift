import Foundation
import GatewayCore
import Logging
import PostgresNIO

// The caches behind listings and ranges, as in the SQLite store: sort orders (UIDs packed as
// little-endian UInt32 in `bytea`), per-message metadata and RFC 5256 sort keys, each with the
// folder state it was taken at. Large writes go as array binds (`unnest`), `batchSize` rows a
// statement, never a round trip per row. The sync steps of one account take turns (its advisory
// lock), as all writes do in SQLite: two replicas syncing one folder never deadlock on its rows.
extension PostgresStore {
    /// Rows per statement of a bulk write: 100,000 rows are ten statements.
    static let batchSize = 10_000

    public func cachedOrder(account: String, folderId: String, order: MailSortOrder) async throws -> CachedOrder? {
        let rows = try await client.query(
            """
            SELECT uid_validity, token, uids FROM sort_cache
            WHERE account = \(account) AND folder_id = \(folderId) AND field = \(order.field.rawValue)
              AND direction = \(order.direction.rawValue)
            """, logger: logger)
        var cached: CachedOrder?
        for try await (uidValidity, token, uids) in rows.decode((Int64, String, ByteBuffer).self) {
            cached = CachedOrder(
                uidValidity: try Column.uint32(uidValidity, "UIDVALIDITY"), token: token, uids: StoredEncoding.unpack(uids.readableBytesView))
        }
        return cached
    }

    public func storeOrder(account: String, folderId: String, order: MailSortOrder, cached: CachedOrder) async throws {
        try await client.query(
            """
            INSERT INTO sort_cache (account, folder_id, field, direction, uid_validity, token, uids)
            VALUES (\(account), \(folderId), \(order.field.rawValue), \(order.direction.rawValue), \(Int64(cached.uidValidity)),
                    \(cached.token), \(Self.pack(cached.uids)))
            ON CONFLICT (account, folder_id, field, direction)
            DO UPDATE SET uid_validity = excluded.uid_validity, token = excluded.token, uids = excluded.uids
            """, logger: logger)
    }

    public func folderSyncState(account: String, folderId: String) async throws -> FolderSyncState? {
        let rows = try await client.query(
            "SELECT uid_validity, uid_next, highest_mod_seq FROM folder_sync WHERE account = \(account) AND folder_id = \(folderId)",
            logger: logger)
        var state: FolderSyncState?
        for try await (uidValidity, uidNext, highestModSeq) in rows.decode((Int64, Int64, Int64).self) {
            state = FolderSyncState(
                uidValidity: try Column.uint32(uidValidity, "UIDVALIDITY"), uidNext: try Column.uint32(uidNext, "UIDNEXT"),
                highestModSeq: UInt64(bitPattern: highestModSeq))
        }
        return state
    }

    /// Applies one sync step in a single transaction: drop `removed` (or everything when `reset`),
    /// upsert `changed` (the last entry of a UID counts, as with SQLite's INSERT OR REPLACE), and
    /// record the new state.
    public func applyMetaSync(
        account: String, folderId: String, reset: Bool, removed: [UInt32], changed: [MessageMeta], state: FolderSyncState
    ) async throws {
        try await applyCacheSync(
            table: "message_meta", account: account, folderId: folderId, reset: reset, removed: removed,
            entries: Self.lastOfEachUID(changed)
        ) { connection, batch in
            let uids = batch.map { Int64($0.uid) }
            let flags = batch.map { $0.flags.words.joined(separator: " ") }
            let modSeqs = batch.map { Int64(bitPattern: $0.modSeq) }
            let importance = batch.map { Int64($0.importance.rawValue) }
            let attachments = batch.map(\.hasAttachment)
            try await connection.query(
                """
                INSERT INTO message_meta (account, folder_id, uid, flags, mod_seq, importance, has_attachment)
                SELECT \(account), \(folderId), t.* FROM unnest(
                    \(uids)::int8[], \(flags)::text[], \(modSeqs)::int8[], \(importance)::int8[], \(attachments)::bool[]) AS t
                ON CONFLICT (account, folder_id, uid) DO UPDATE SET
                    flags = excluded.flags, mod_seq = excluded.mod_seq, importance = excluded.importance,
                    has_attachment = excluded.has_attachment
                """, logger: logger)
        } record: { connection in
            try await connection.query(
                """
                INSERT INTO folder_sync (account, folder_id, uid_validity, uid_next, highest_mod_seq)
                VALUES (\(account), \(folderId), \(Int64(state.uidValidity)), \(Int64(state.uidNext)), \(Int64(bitPattern: state.highestModSeq)))
                ON CONFLICT (account, folder_id) DO UPDATE SET
                    uid_validity = excluded.uid_validity, uid_next = excluded.uid_next, highest_mod_seq = excluded.highest_mod_seq
                """, logger: logger)
        }
    }

    /// Every cached message of a folder, by UID.
    public func messageMeta(account: String, folderId: String) async throws -> [UInt32: MessageMeta] {
        var out: [UInt32: MessageMeta] = [:]
        out.reserveCapacity(try await folderRows(table: "message_meta", account: account, folderId: folderId))
        let rows = try await client.query(
            """
            SELECT uid, flags, mod_seq, importance, has_attachment FROM message_meta
            WHERE account = \(account) AND folder_id = \(folderId)
            """, logger: logger)
        for try await (uid, flags, modSeq, importance, hasAttachment) in rows.decode((Int64, String, Int64, Int64, Bool).self) {
            let uid = try Column.uint32(uid, "UID")
            out[uid] = MessageMeta(
                uid: uid, flags: MessageFlags(words: flags.split(separator: " ")), modSeq: UInt64(bitPattern: modSeq),
                importance: Int(exactly: importance).flatMap(Importance.init(rawValue:)) ?? .normal, hasAttachment: hasAttachment)
        }
        return out
    }

    /// How many rows of a per-folder cache table the folder has: a dictionary read from it is
    /// sized once (as the SQLite store does, for the memory peak of large folders).
    func folderRows(table: String, account: String, folderId: String) async throws -> Int {
        let rows = try await client.query(
            "SELECT count(*) FROM \(unescaped: table) WHERE account = \(account) AND folder_id = \(folderId)", logger: logger)
        var count = 0
        for try await n in rows.decode(Int.self) { count = n }
        return count
    }

    public func sortKeySyncState(account: String, folderId: String) async throws -> SortKeySyncState? {
        try await syncState(table: "sort_key_sync", account: account, folderId: folderId)
    }

    public func sortKeys(account: String, folderId: String) async throws -> [UInt32: SortKeys] {
        var out: [UInt32: SortKeys] = [:]
        out.reserveCapacity(try await folderRows(table: "sort_keys", account: account, folderId: folderId))
        let rows = try await client.query(
            """
            SELECT uid, subject, from_key, to_key, sent_date, size FROM sort_keys
            WHERE account = \(account) AND folder_id = \(folderId)
            """, logger: logger)
        for try await (uid, subject, from, to, date, size) in rows.decode((Int64, ByteBuffer, ByteBuffer, ByteBuffer, Int64, Int64).self) {
            out[try Column.uint32(uid, "UID")] = SortKeys(
                subject: Array(subject.readableBytesView), from: Array(from.readableBytesView), to: Array(to.readableBytesView),
                date: date, size: UInt64(max(0, size)))
        }
        return out
    }

    /// One sort-key sync step in one transaction: drop `removed` (everything when `reset`), add
    /// `added` (replacing what a UID had), record `state`. Sizes beyond `Int64.max` are stored
    /// clamped, as in the SQLite store.
    public func applySortKeySync(
        account: String, folderId: String, reset: Bool, removed: [UInt32], added: [UInt32: SortKeys], state: SortKeySyncState
    ) async throws {
        try await applyCacheSync(
            table: "sort_keys", account: account, folderId: folderId, reset: reset, removed: removed, entries: Array(added)
        ) { connection, batch in
            let uids = batch.map { Int64($0.key) }
            let subjects = batch.map { ByteBuffer(bytes: $0.value.subject) }
            let froms = batch.map { ByteBuffer(bytes: $0.value.from) }
            let tos = batch.map { ByteBuffer(bytes: $0.value.to) }
            let dates = batch.map(\.value.date)
            let sizes = batch.map { Int64(clamping: $0.value.size) }
            try await connection.query(
                """
                INSERT INTO sort_keys (account, folder_id, uid, subject, from_key, to_key, sent_date, size)
                SELECT \(account), \(folderId), t.* FROM unnest(
                    \(uids)::int8[], \(subjects)::bytea[], \(froms)::bytea[], \(tos)::bytea[], \(dates)::int8[], \(sizes)::int8[]) AS t
                ON CONFLICT (account, folder_id, uid) DO UPDATE SET
                    subject = excluded.subject, from_key = excluded.from_key, to_key = excluded.to_key,
                    sent_date = excluded.sent_date, size = excluded.size
                """, logger: logger)
        } record: { connection in
            try await Self.recordSyncState(connection, table: "sort_key_sync", account: account, folderId: folderId, state: state, logger: logger)
        }
    }

    // MARK: - Shared by the per-folder caches

    /// One sync step of a per-folder cache in one transaction, under the account's cache lock:
    /// drop `removed` from `table` (everything of the folder when `reset`), `insert` `entries`
    /// ``batchSize`` at a time (one array-bind statement each), then `record` the new state.
    func applyCacheSync<Entry>(
        table: String, account: String, folderId: String, reset: Bool, removed: [UInt32], entries: [Entry],
        insert: (PostgresConnection, ArraySlice<Entry>) async throws -> Void, record: (PostgresConnection) async throws -> Void
    ) async throws {
        try await transaction { connection in
            try await AdvisoryLock.caches.take(connection, account: account, logger: logger)
            try await Self.remove(connection, table: table, account: account, folderId: folderId, reset: reset, removed: removed, logger: logger)
            var start = 0
            while start < entries.count {
                let end = min(start + Self.batchSize, entries.count)
                try await insert(connection, entries[start..<end])
                start = end
            }
            try await record(connection)
        }
    }

    /// A per-folder state row (`sort_key_sync`, `thread_header_sync`).
    func syncState(table: String, account: String, folderId: String) async throws -> SortKeySyncState? {
        let rows = try await client.query(
            "SELECT uid_validity, uid_next, version FROM \(unescaped: table) WHERE account = \(account) AND folder_id = \(folderId)",
            logger: logger)
        var state: SortKeySyncState?
        for try await (uidValidity, uidNext, version) in rows.decode((Int64, Int64, Int).self) {
            state = SortKeySyncState(
                uidValidity: try Column.uint32(uidValidity, "UIDVALIDITY"), uidNext: try Column.uint32(uidNext, "UIDNEXT"), version: version)
        }
        return state
    }

    static func recordSyncState(
        _ connection: PostgresConnection, table: String, account: String, folderId: String, state: SortKeySyncState, logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO \(unescaped: table) (account, folder_id, uid_validity, uid_next, version)
            VALUES (\(account), \(folderId), \(Int64(state.uidValidity)), \(Int64(state.uidNext)), \(state.version))
            ON CONFLICT (account, folder_id) DO UPDATE SET
                uid_validity = excluded.uid_validity, uid_next = excluded.uid_next, version = excluded.version
            """, logger: logger)
    }

    /// Deletes a folder's rows of a per-message table: all of them when `reset`, else `removed`.
    static func remove(
        _ connection: PostgresConnection, table: String, account: String, folderId: String, reset: Bool, removed: [UInt32],
        logger: Logger
    ) async throws {
        if reset {
            try await connection.query(
                "DELETE FROM \(unescaped: table) WHERE account = \(account) AND folder_id = \(folderId)", logger: logger)
            return
        }
        var start = 0
        while start < removed.count {
            let batch = removed[start..<min(start + batchSize, removed.count)].map { Int64($0) }
            try await connection.query(
                "DELETE FROM \(unescaped: table) WHERE account = \(account) AND folder_id = \(folderId) AND uid = ANY(\(batch)::int8[])",
                logger: logger)
            start += batch.count
        }
    }

    /// `metas` with one entry per UID, the last one given (an upsert may touch a row only once
    /// per statement), in their first order.
    static func lastOfEachUID(_ metas: [MessageMeta]) -> [MessageMeta] {
        var index: [UInt32: Int] = [:]
        index.reserveCapacity(metas.count)
        var out: [MessageMeta] = []
        out.reserveCapacity(metas.count)
        for meta in metas {
            if let at = index[meta.uid] {
                out[at] = meta
            } else {
                index[meta.uid] = out.count
                out.append(meta)
            }
        }
        return out
    }

    /// ``StoredEncoding/pack(_:)`` as a `bytea` bind.
    static func pack(_ uids: [UInt32]) -> ByteBuffer { ByteBuffer(bytes: StoredEncoding.pack(uids)) }
}
