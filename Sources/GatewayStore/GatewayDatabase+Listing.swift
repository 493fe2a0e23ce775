import Foundation
import GRDB

/// A cached sort order: the UIDs of a folder in order, and the folder state it is valid for.
public struct CachedOrder: Hashable, Sendable {
    public var uidValidity: UInt32
    public var token: String
    public var uids: [UInt32]

    public init(uidValidity: UInt32, token: String, uids: [UInt32]) {
        self.uidValidity = uidValidity
        self.token = token
        self.uids = uids
    }
}

/// Where a folder's metadata cache stands.
public struct FolderSyncState: Hashable, Sendable {
    public var uidValidity: UInt32
    public var uidNext: UInt32
    public var highestModSeq: UInt64

    public init(uidValidity: UInt32, uidNext: UInt32, highestModSeq: UInt64) {
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.highestModSeq = highestModSeq
    }
}

/// What the gateway keeps per message to order by flags, importance and attachments.
public struct MessageMeta: Hashable, Sendable {
    public var uid: UInt32
    /// Flags and keywords, space-separated, as the server reported them.
    public var flags: String
    public var modSeq: UInt64
    /// 0 low, 1 normal, 2 high.
    public var importance: Int
    public var hasAttachment: Bool

    public init(uid: UInt32, flags: String, modSeq: UInt64, importance: Int, hasAttachment: Bool) {
        self.uid = uid
        self.flags = flags
        self.modSeq = modSeq
        self.importance = importance
        self.hasAttachment = hasAttachment
    }
}

extension GatewayDatabase {
    public func cachedOrder(account: String, folderId: String, field: String, direction: String) async throws -> CachedOrder? {
        try await writer.read { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT uidValidity, token, uids FROM sortCache WHERE account = ? AND folderId = ? AND field = ? AND direction = ?",
                    arguments: [account, folderId, field, direction])
            else { return nil }
            let blob: [UInt8] = Array(row["uids"] as Data)
            return CachedOrder(uidValidity: UInt32(row["uidValidity"] as Int64), token: row["token"], uids: Self.unpack(blob))
        }
    }

    public func storeOrder(account: String, folderId: String, field: String, direction: String, order: CachedOrder) async throws {
        let blob = Data(Self.pack(order.uids))
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO sortCache (account, folderId, field, direction, uidValidity, token, uids)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [account, folderId, field, direction, Int64(order.uidValidity), order.token, blob])
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
                    account, folderId, Int64(meta.uid), meta.flags, Int64(meta.modSeq), meta.importance, meta.hasAttachment ? 1 : 0,
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
            let rows = try Row.fetchCursor(
                db, sql: "SELECT uid, flags, modSeq, importance, hasAttachment FROM messageMeta WHERE account = ? AND folderId = ?",
                arguments: [account, folderId])
            while let row = try rows.next() {
                let uid = UInt32(row["uid"] as Int64)
                out[uid] = MessageMeta(
                    uid: uid, flags: row["flags"], modSeq: UInt64(row["modSeq"] as Int64), importance: row["importance"],
                    hasAttachment: (row["hasAttachment"] as Int64) != 0)
            }
            return out
        }
    }

    static func pack(_ uids: [UInt32]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(uids.count * 4)
        for uid in uids {
            out.append(UInt8(truncatingIfNeeded: uid))
            out.append(UInt8(truncatingIfNeeded: uid >> 8))
            out.append(UInt8(truncatingIfNeeded: uid >> 16))
            out.append(UInt8(truncatingIfNeeded: uid >> 24))
        }
        return out
    }

    static func unpack(_ bytes: [UInt8]) -> [UInt32] {
        var out = [UInt32]()
        out.reserveCapacity(bytes.count / 4)
        var i = 0
        while i + 3 < bytes.count {
            out.append(UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            i += 4
        }
        return out
    }
}
