import Foundation
import GRDB
import GatewayCore

// Jobs and their chunks (migration v3). The operation and each chunk are stored as JSON of the
// engine's Codable values; states as their raw names (`inProgress`, `planned`, …).
extension GatewayDatabase: JobStore {
    private static func json(_ value: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data("[]".utf8), as: UTF8.self)
    }

    private static func strings(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    /// A row of `job` as the engine's record; a row this version cannot read is an error.
    static func job(_ row: Row) throws -> JobRecord {
        let stateName: String = row["status"]
        guard let state = JobState(rawValue: stateName) else { throw StoreCorruption("job state \(stateName)") }
        let operation = try JSONDecoder().decode(MailBatchOperation.self, from: Data((row["operation"] as String).utf8))
        var job = JobRecord(
            key: row["key"], account: row["account"], operation: operation, state: state,
            totalItems: row["totalItems"], doneItems: row["doneItems"], failedItems: strings(row["failedItems"]),
            pendingItems: strings(row["pendingItems"]),
            itemAliases: (try? JSONDecoder().decode([String: String].self, from: Data((row["itemAliases"] as String? ?? "{}").utf8))) ?? [:],
            createdAt: Date(timeIntervalSince1970: row["createdAt"]),
            finishedAt: (row["finishedAt"] as Double?).map { Date(timeIntervalSince1970: $0) })
        job.cancelRequested = (row["cancelRequested"] as Int?) == 1
        job.leaseOwner = row["leaseOwner"]
        job.leaseUntil = (row["leaseUntil"] as Double?).map { Date(timeIntervalSince1970: $0) }
        return job
    }

    public func createJob(_ job: JobRecord) async throws {
        let operation = String(decoding: try JSONEncoder().encode(job.operation), as: UTF8.self)
        let aliases = String(decoding: try JSONEncoder().encode(job.itemAliases), as: UTF8.self)
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO job (key, account, operation, status, totalItems, doneItems, failedItems, pendingItems, createdAt,
                                     finishedAt, itemAliases)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    job.key, job.account, operation, job.state.rawValue, job.totalItems, job.doneItems, Self.json(job.failedItems),
                    Self.json(job.pendingItems), job.createdAt.timeIntervalSince1970, job.finishedAt?.timeIntervalSince1970,
                    aliases,
                ])
        }
    }

    /// The job, only if it belongs to `account`.
    public func job(key: String, account: String) async throws -> JobRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM job WHERE key = ? AND account = ?", arguments: [key, account]).map(Self.job)
        }
    }

    public func jobSummary(key: String, account: String) async throws -> JobRecord? {
        // The aliases matter only for failed items; the pending IDs not at all.
        try await writer.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT \(Self.summaryColumns) FROM job WHERE key = ? AND account = ?
                    """,
                arguments: [key, account]
            ).map(Self.job)
        }
    }

    /// Jobs not completed yet (to resume after a restart).
    public func unfinishedJobs() async throws -> [JobRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM job WHERE status != ? ORDER BY createdAt", arguments: [JobState.completed.rawValue]
            ).map(Self.job)
        }
    }

    /// A job's columns without its pending IDs (and without aliases when nothing failed).
    private static let summaryColumns = """
        key, account, operation, status, totalItems, doneItems, failedItems, '[]' AS pendingItems, createdAt, finishedAt,
        CASE WHEN failedItems = '[]' THEN '{}' ELSE itemAliases END AS itemAliases, cancelRequested, leaseOwner, leaseUntil
        """

    public func listJobs(account: String?, state: JobState?, limit: Int) async throws -> [JobRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.summaryColumns) FROM job
                    WHERE (?1 IS NULL OR account = ?1) AND (?2 IS NULL OR status = ?2)
                    ORDER BY createdAt DESC LIMIT ?3
                    """,
                arguments: [account, state?.rawValue, limit]
            ).map(Self.job)
        }
    }

    public func requestJobCancel(key: String) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE job SET cancelRequested = 1 WHERE key = ? AND status != ?", arguments: [key, JobState.completed.rawValue])
            return db.changesCount > 0
        }
    }

    public func jobCounts() async throws -> [JobState: Int] {
        try await writer.read { db in
            var counts: [JobState: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, COUNT(*) AS n FROM job GROUP BY status") {
                if let state = JobState(rawValue: row["status"]) { counts[state] = row["n"] }
            }
            return counts
        }
    }

    /// Records the chunks a job was planned into, the items that failed while planning, and
    /// clears the pending IDs — in one transaction, so planning happens exactly once.
    public func planJob(key: String, chunks: [BatchChunk], failed: [String]) async throws {
        let encoder = JSONEncoder()
        let encoded = try chunks.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try await writer.write { db in
            for (seq, (chunk, json)) in zip(chunks, encoded).enumerated() {
                try db.execute(
                    sql: "INSERT INTO jobChunk (jobKey, seq, chunk, itemCount, state) VALUES (?, ?, ?, ?, ?)",
                    arguments: [key, seq, json, chunk.uids.count, ChunkState.planned.rawValue])
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

    public func jobChunks(key: String) async throws -> [JobChunkRecord] {
        try await writer.read { db in
            let decoder = JSONDecoder()
            return try Row.fetchAll(
                db, sql: "SELECT seq, chunk, state, destinationUIDNext, startedAt FROM jobChunk WHERE jobKey = ? ORDER BY seq",
                arguments: [key]
            ).map { row in
                let stateName: String = row["state"]
                guard let state = ChunkState(rawValue: stateName) else { throw StoreCorruption("chunk state \(stateName)") }
                return JobChunkRecord(
                    seq: row["seq"], chunk: try decoder.decode(BatchChunk.self, from: Data((row["chunk"] as String).utf8)), state: state,
                    destinationUIDNext: (row["destinationUIDNext"] as Int64?).map { UInt32(truncatingIfNeeded: $0) },
                    startedAt: (row["startedAt"] as Double?).map { Date(timeIntervalSince1970: $0) })
            }
        }
    }

    /// Marks a chunk started now, with the destination's UIDNEXT seen just before (for copies).
    public func startJobChunk(key: String, seq: Int, destinationUIDNext: UInt32?) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE jobChunk SET state = ?, destinationUIDNext = ?, startedAt = ? WHERE jobKey = ? AND seq = ?",
                arguments: [ChunkState.started.rawValue, destinationUIDNext.map { Int64($0) }, Date().timeIntervalSince1970, key, seq])
        }
    }

    /// Marks a chunk done and adds its outcome to the job, in one transaction. A chunk already done
    /// adds nothing (a replica that lost its lease mid-chunk may record it after the one that took over).
    public func finishJobChunk(key: String, seq: Int, itemCount: Int, failed: [String]) async throws {
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT failedItems, doneItems FROM job WHERE key = ?", arguments: [key]) else {
                return
            }
            try db.execute(
                sql: "UPDATE jobChunk SET state = ? WHERE jobKey = ? AND seq = ? AND state != ?",
                arguments: [ChunkState.done.rawValue, key, seq, ChunkState.done.rawValue])
            guard db.changesCount > 0 else { return }
            try db.execute(
                sql: "UPDATE job SET failedItems = ?, doneItems = ? WHERE key = ?",
                arguments: [Self.json(Self.strings(row["failedItems"]) + failed), (row["doneItems"] as Int) + itemCount, key])
        }
    }

    public func completeJob(key: String, failed: [String] = []) async throws {
        try await writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT failedItems FROM job WHERE key = ?", arguments: [key]) else { return }
            try db.execute(
                sql: "UPDATE job SET status = ?, doneItems = totalItems, failedItems = ?, finishedAt = ? WHERE key = ?",
                arguments: [
                    JobState.completed.rawValue, Self.json(Self.strings(row["failedItems"]) + failed), Date().timeIntervalSince1970, key,
                ])
        }
    }

    /// Deletes jobs finished before `date` (their chunks go with them).
    @discardableResult
    public func purgeJobs(finishedBefore date: Date) async throws -> Int {
        try await writer.write { db in
            try db.execute(
                sql: "DELETE FROM job WHERE status = ? AND finishedAt < ?",
                arguments: [JobState.completed.rawValue, date.timeIntervalSince1970])
            return db.changesCount
        }
    }

    public func claimableJobs() async throws -> [JobRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.summaryColumns) FROM job
                    WHERE status != ? AND (leaseOwner IS NULL OR leaseUntil < ?) ORDER BY createdAt
                    """,
                arguments: [JobState.completed.rawValue, Date().timeIntervalSince1970]
            ).map(Self.job)
        }
    }

    public func claimJob(key: String, owner: String, lease: Duration) async throws -> Bool {
        let now = Date().timeIntervalSince1970
        return try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE job SET leaseOwner = ?, leaseUntil = ?
                    WHERE key = ? AND status != ? AND (leaseOwner IS NULL OR leaseOwner = ? OR leaseUntil < ?)
                    """,
                arguments: [owner, now + Self.seconds(lease), key, JobState.completed.rawValue, owner, now])
            return db.changesCount > 0
        }
    }

    public func renewJobLease(key: String, owner: String, lease: Duration) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE job SET leaseUntil = ? WHERE key = ? AND leaseOwner = ? AND status != ?",
                arguments: [Date().timeIntervalSince1970 + Self.seconds(lease), key, owner, JobState.completed.rawValue])
            return db.changesCount > 0
        }
    }

    public func releaseJobLease(key: String, owner: String) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE job SET leaseOwner = NULL, leaseUntil = NULL WHERE key = ? AND leaseOwner = ?", arguments: [key, owner])
        }
    }

    /// Releases every lease: an SQLite file belongs to one gateway, so at its start the leases of
    /// its previous run (ended by a crash or SIGKILL) are its own to take again, at once.
    public func releaseAllJobLeases() throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE job SET leaseOwner = NULL, leaseUntil = NULL WHERE leaseOwner IS NOT NULL")
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// A job by key, whatever its account (for the job runner itself, never for clients).
    public func jobAnyAccount(key: String) async throws -> JobRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM job WHERE key = ?", arguments: [key]).map(Self.job)
        }
    }
}

/// A row this version of the gateway cannot read (written by another version, or damaged).
struct StoreCorruption: Error, CustomStringConvertible {
    var what: String
    init(_ what: String) { self.what = what }
    var description: String { "unreadable database row: \(what)" }
}
