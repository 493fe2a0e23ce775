import Foundation
import GRDB

/// A persisted batch job.
public struct StoredJob: Hashable, Sendable {
    public var key: String
    public var account: String
    public var operation: String
    /// `inProgress` or `completed`.
    public var status: String
    public var totalItems: Int
    public var doneItems: Int
    public var failedItems: [String]
    /// Resolved IDs not yet planned into chunks (empty once planned).
    public var pendingItems: [String]
    public var createdAt: Date
    public var finishedAt: Date?

    public init(
        key: String, account: String, operation: String, status: String, totalItems: Int, doneItems: Int = 0,
        failedItems: [String] = [], pendingItems: [String], createdAt: Date = Date(), finishedAt: Date? = nil
    ) {
        self.key = key
        self.account = account
        self.operation = operation
        self.status = status
        self.totalItems = totalItems
        self.doneItems = doneItems
        self.failedItems = failedItems
        self.pendingItems = pendingItems
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }

    /// 0–100, from the items done (monotonic: done items only grow).
    public var progress: Double {
        if status == "completed" { return 100 }
        guard totalItems > 0 else { return 0 }
        return min(99.9, Double(doneItems) * 100 / Double(totalItems))
    }
}

/// One chunk of a job, with the state it reached.
public struct StoredJobChunk: Hashable, Sendable {
    public var seq: Int
    public var chunk: String
    public var itemCount: Int
    /// `planned`, `started` or `done`.
    public var state: String
    public var destinationUIDNext: UInt32?
}

extension GatewayDatabase {
    private static func json(_ value: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data("[]".utf8), as: UTF8.self)
    }

    private static func strings(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    static func job(_ row: Row) -> StoredJob {
        StoredJob(
            key: row["key"], account: row["account"], operation: row["operation"], status: row["status"],
            totalItems: row["totalItems"], doneItems: row["doneItems"], failedItems: strings(row["failedItems"]),
            pendingItems: strings(row["pendingItems"]), createdAt: Date(timeIntervalSince1970: row["createdAt"]),
            finishedAt: (row["finishedAt"] as Double?).map { Date(timeIntervalSince1970: $0) })
    }

    public func createJob(_ job: StoredJob) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO job (key, account, operation, status, totalItems, doneItems, failedItems, pendingItems, createdAt, finishedAt)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    job.key, job.account, job.operation, job.status, job.totalItems, job.doneItems, Self.json(job.failedItems),
                    Self.json(job.pendingItems), job.createdAt.timeIntervalSince1970, job.finishedAt?.timeIntervalSince1970,
                ])
        }
    }

    /// The job, only if it belongs to `account`.
    public func job(key: String, account: String) async throws -> StoredJob? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM job WHERE key = ? AND account = ?", arguments: [key, account]).map(Self.job)
        }
    }

    /// Jobs not completed yet (to resume after a restart).
    public func unfinishedJobs() async throws -> [StoredJob] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM job WHERE status != 'completed' ORDER BY createdAt").map(Self.job)
        }
    }

    /// Records the chunks a job was planned into, the items that failed while planning, and
    /// clears the pending IDs — in one transaction, so planning happens exactly once.
    public func planJob(key: String, chunks: [(chunk: String, itemCount: Int)], failed: [String]) async throws {
        try await writer.write { db in
            for (seq, chunk) in chunks.enumerated() {
                try db.execute(
                    sql: "INSERT INTO jobChunk (jobKey, seq, chunk, itemCount, state) VALUES (?, ?, ?, ?, 'planned')",
                    arguments: [key, seq, chunk.chunk, chunk.itemCount])
            }
            guard let row = try Row.fetchOne(db, sql: "SELECT failedItems, doneItems FROM job WHERE key = ?", arguments: [key]) else {
                return
            }
            let allFailed = Self.strings(row["failedItems"]) + failed
            try db.execute(
                sql: "UPDATE job SET pendingItems = '[]', failedItems = ?, doneItems = ? WHERE key = ?",
                arguments: [Self.json(allFailed), (row["doneItems"] as Int) + failed.count, key])
        }
    }

    public func jobChunks(key: String) async throws -> [StoredJobChunk] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT seq, chunk, itemCount, state, destinationUIDNext FROM jobChunk WHERE jobKey = ? ORDER BY seq",
                arguments: [key]
            ).map {
                StoredJobChunk(
                    seq: $0["seq"], chunk: $0["chunk"], itemCount: $0["itemCount"], state: $0["state"],
                    destinationUIDNext: ($0["destinationUIDNext"] as Int64?).map { UInt32(truncatingIfNeeded: $0) })
            }
        }
    }

    /// Marks a chunk started, with the destination's UIDNEXT seen just before (for copies).
    public func startJobChunk(key: String, seq: Int, destinationUIDNext: UInt32?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE jobChunk SET state = 'started', destinationUIDNext = ? WHERE jobKey = ? AND seq = ?",
                arguments: [destinationUIDNext.map { Int64($0) }, key, seq])
        }
    }

    /// Marks a chunk done and adds its outcome to the job, in one transaction.
    public func finishJobChunk(key: String, seq: Int, itemCount: Int, failed: [String]) async throws {
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT failedItems, doneItems FROM job WHERE key = ?", arguments: [key]) else {
                return
            }
            try db.execute(sql: "UPDATE jobChunk SET state = 'done' WHERE jobKey = ? AND seq = ?", arguments: [key, seq])
            try db.execute(
                sql: "UPDATE job SET failedItems = ?, doneItems = ? WHERE key = ?",
                arguments: [Self.json(Self.strings(row["failedItems"]) + failed), (row["doneItems"] as Int) + itemCount, key])
        }
    }

    public func completeJob(key: String, failed: [String] = []) async throws {
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT failedItems FROM job WHERE key = ?", arguments: [key]) else { return }
            try db.execute(
                sql: "UPDATE job SET status = 'completed', doneItems = totalItems, failedItems = ?, finishedAt = ? WHERE key = ?",
                arguments: [Self.json(Self.strings(row["failedItems"]) + failed), Date().timeIntervalSince1970, key])
        }
    }

    /// Deletes jobs finished before `date` (their chunks go with them).
    @discardableResult
    public func purgeJobs(finishedBefore date: Date) async throws -> Int {
        try await writer.write { db in
            try db.execute(
                sql: "DELETE FROM job WHERE status = 'completed' AND finishedAt < ?", arguments: [date.timeIntervalSince1970])
            return db.changesCount
        }
    }
}

extension GatewayDatabase {
    /// A job by key, whatever its account (for the job runner itself, never for clients).
    public func jobAnyAccount(key: String) async throws -> StoredJob? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM job WHERE key = ?", arguments: [key]).map(Self.job)
        }
    }
}
