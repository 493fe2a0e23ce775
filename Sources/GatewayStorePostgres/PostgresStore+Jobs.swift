import Foundation
import GatewayCore
import Logging
import PostgresNIO

// Jobs and their chunks, as in the SQLite store: the operation and each chunk as JSON of the
// engine's Codable values, states as their raw names. Each method is one transaction (or one
// statement). Writers that read a job row to change it lock it first (`FOR UPDATE`), so two
// replicas never lose each other's update; leases are dated by the database server's clock.
extension PostgresStore {
    private static func json(_ value: [String]) -> String {
        String(decoding: (try? JSONEncoder().encode(value)) ?? Data("[]".utf8), as: UTF8.self)
    }

    private static func strings(_ text: String) -> [String] {
        (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }

    /// The columns ``job(_:)`` reads, in order.
    private static let columns = """
        key, account, operation, status, total_items, done_items, failed_items, pending_items, item_aliases, created_at,
        finished_at, cancel_requested, lease_owner, lease_until
        """

    /// The same without the pending IDs (and without aliases when nothing failed): a status poll's read.
    private static let summaryColumns = """
        key, account, operation, status, total_items, done_items, failed_items, '[]' AS pending_items,
        CASE WHEN failed_items = '[]' THEN '{}' ELSE item_aliases END AS item_aliases, created_at, finished_at, cancel_requested,
        lease_owner, lease_until
        """

    /// A row of ``columns`` as the engine's record; a row this version cannot read is an error.
    private static func job(_ row: PostgresRow) throws -> JobRecord {
        let (key, account, operationJSON, stateName, total, done, failed, pending, aliases, createdAt, finishedAt, cancel, leaseOwner, leaseUntil) =
            try row.decode((String, String, String, String, Int, Int, String, String, String, Date, Date?, Bool, String?, Date?).self)
        guard let state = JobState(rawValue: stateName) else { throw StoreCorruption("job state \(stateName)") }
        let operation = try JSONDecoder().decode(MailBatchOperation.self, from: Data(operationJSON.utf8))
        var job = JobRecord(
            key: key, account: account, operation: operation, state: state, totalItems: total, doneItems: done,
            failedItems: strings(failed), pendingItems: strings(pending),
            itemAliases: (try? JSONDecoder().decode([String: String].self, from: Data(aliases.utf8))) ?? [:], createdAt: createdAt,
            finishedAt: finishedAt)
        job.cancelRequested = cancel
        job.leaseOwner = leaseOwner
        job.leaseUntil = leaseUntil
        return job
    }

    private static func jobs(_ rows: PostgresRowSequence) async throws -> [JobRecord] {
        var out: [JobRecord] = []
        for try await row in rows { out.append(try job(row)) }
        return out
    }

    public func createJob(_ job: JobRecord) async throws {
        let operation = String(decoding: try JSONEncoder().encode(job.operation), as: UTF8.self)
        let aliases = String(decoding: try JSONEncoder().encode(job.itemAliases), as: UTF8.self)
        try await client.query(
            """
            INSERT INTO job (key, account, operation, status, total_items, done_items, failed_items, pending_items, created_at,
                             finished_at, item_aliases)
            VALUES (\(job.key), \(job.account), \(operation), \(job.state.rawValue), \(job.totalItems), \(job.doneItems),
                    \(Self.json(job.failedItems)), \(Self.json(job.pendingItems)), \(job.createdAt), \(job.finishedAt), \(aliases))
            """, logger: logger)
    }

    /// The job, only if it belongs to `account`.
    public func job(key: String, account: String) async throws -> JobRecord? {
        try await Self.jobs(
            client.query("SELECT \(unescaped: Self.columns) FROM job WHERE key = \(key) AND account = \(account)", logger: logger)
        ).first
    }

    public func jobSummary(key: String, account: String) async throws -> JobRecord? {
        try await Self.jobs(
            client.query("SELECT \(unescaped: Self.summaryColumns) FROM job WHERE key = \(key) AND account = \(account)", logger: logger)
        ).first
    }

    /// A job by key, whatever its account (for the job runner itself, never for clients).
    public func jobAnyAccount(key: String) async throws -> JobRecord? {
        try await Self.jobs(client.query("SELECT \(unescaped: Self.columns) FROM job WHERE key = \(key)", logger: logger)).first
    }

    /// Jobs not completed yet (to resume after a restart), oldest first.
    public func unfinishedJobs() async throws -> [JobRecord] {
        try await Self.jobs(
            client.query(
                "SELECT \(unescaped: Self.columns) FROM job WHERE status <> \(JobState.completed.rawValue) ORDER BY created_at, key",
                logger: logger))
    }

    public func listJobs(account: String?, state: JobState?, limit: Int) async throws -> [JobRecord] {
        try await Self.jobs(
            client.query(
                """
                SELECT \(unescaped: Self.summaryColumns) FROM job
                WHERE (\(account)::text IS NULL OR account = \(account)) AND (\(state?.rawValue)::text IS NULL OR status = \(state?.rawValue))
                ORDER BY created_at DESC, key DESC LIMIT \(max(0, limit))
                """, logger: logger))
    }

    public func requestJobCancel(key: String) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE job SET cancel_requested = true WHERE key = \(key) AND status <> \(JobState.completed.rawValue) RETURNING key
            """, logger: logger)
        return try await !rows.collect().isEmpty
    }

    public func jobCounts() async throws -> [JobState: Int] {
        var counts: [JobState: Int] = [:]
        let rows = try await client.query("SELECT status, count(*) FROM job GROUP BY status", logger: logger)
        for try await (status, count) in rows.decode((String, Int).self) {
            if let state = JobState(rawValue: status) { counts[state] = count }
        }
        return counts
    }

    /// Records the chunks a job was planned into, the items that failed while planning, and
    /// clears the pending IDs — in one transaction, so planning happens exactly once (a second
    /// planning finds the chunks there and fails on their primary key).
    public func planJob(key: String, chunks: [BatchChunk], failed: [String]) async throws {
        let encoder = JSONEncoder()
        let encoded = try chunks.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
        try await transaction { connection in
            let row = try await Self.lockedOutcome(connection, key: key, logger: logger)
            if !chunks.isEmpty {
                let seqs = Array(0..<chunks.count)
                let counts = chunks.map(\.uids.count)
                let states = Array(repeating: ChunkState.planned.rawValue, count: chunks.count)
                try await connection.query(
                    """
                    INSERT INTO job_chunk (job_key, seq, chunk, item_count, state)
                    SELECT \(key), t.* FROM unnest(\(seqs)::int8[], \(encoded)::text[], \(counts)::int8[], \(states)::text[]) AS t
                    """, logger: logger)
            }
            guard case let (failedItems, doneItems)? = row else { return }
            try await connection.query(
                """
                UPDATE job SET pending_items = '[]', failed_items = \(Self.json(Self.strings(failedItems) + failed)),
                               done_items = \(doneItems + failed.count)
                WHERE key = \(key)
                """, logger: logger)
        }
    }

    public func jobChunks(key: String) async throws -> [JobChunkRecord] {
        let rows = try await client.query(
            "SELECT seq, chunk, state, destination_uid_next, started_at FROM job_chunk WHERE job_key = \(key) ORDER BY seq",
            logger: logger)
        let decoder = JSONDecoder()
        var out: [JobChunkRecord] = []
        for try await (seq, chunk, stateName, destinationUIDNext, startedAt) in rows.decode((Int, String, String, Int64?, Date?).self) {
            guard let state = ChunkState(rawValue: stateName) else { throw StoreCorruption("chunk state \(stateName)") }
            out.append(
                JobChunkRecord(
                    seq: seq, chunk: try decoder.decode(BatchChunk.self, from: Data(chunk.utf8)), state: state,
                    destinationUIDNext: destinationUIDNext.map { UInt32(truncatingIfNeeded: $0) }, startedAt: startedAt))
        }
        return out
    }

    /// Marks a chunk started now, with the destination's UIDNEXT seen just before (for copies).
    public func startJobChunk(key: String, seq: Int, destinationUIDNext: UInt32?) async throws {
        try await client.query(
            """
            UPDATE job_chunk SET state = \(ChunkState.started.rawValue), destination_uid_next = \(destinationUIDNext.map { Int64($0) }),
                                 started_at = \(Date())
            WHERE job_key = \(key) AND seq = \(seq)
            """, logger: logger)
    }

    /// Marks a chunk done and adds its outcome to the job, in one transaction that holds the job's
    /// row lock: two writers never lose each other's done or failed items. A chunk already done
    /// adds nothing: a replica that lost its lease mid-chunk may record the chunk after the replica
    /// that took the job over did.
    public func finishJobChunk(key: String, seq: Int, itemCount: Int, failed: [String]) async throws {
        try await transaction { connection in
            guard case let (failedItems, doneItems)? = try await Self.lockedOutcome(connection, key: key, logger: logger) else { return }
            let marked = try await connection.query(
                """
                UPDATE job_chunk SET state = \(ChunkState.done.rawValue)
                WHERE job_key = \(key) AND seq = \(seq) AND state <> \(ChunkState.done.rawValue) RETURNING seq
                """, logger: logger)
            guard try await !marked.collect().isEmpty else { return }
            try await connection.query(
                """
                UPDATE job SET failed_items = \(Self.json(Self.strings(failedItems) + failed)), done_items = \(doneItems + itemCount)
                WHERE key = \(key)
                """, logger: logger)
        }
    }

    public func completeJob(key: String, failed: [String] = []) async throws {
        try await transaction { connection in
            guard case let (failedItems, _)? = try await Self.lockedOutcome(connection, key: key, logger: logger) else { return }
            try await connection.query(
                """
                UPDATE job SET status = \(JobState.completed.rawValue), done_items = total_items,
                               failed_items = \(Self.json(Self.strings(failedItems) + failed)), finished_at = \(Date())
                WHERE key = \(key)
                """, logger: logger)
        }
    }

    /// Deletes jobs finished before `date` (their chunks go with them).
    @discardableResult
    public func purgeJobs(finishedBefore date: Date) async throws -> Int {
        let rows = try await client.query(
            "DELETE FROM job WHERE status = \(JobState.completed.rawValue) AND finished_at < \(date) RETURNING key", logger: logger)
        return try await rows.collect().count
    }

    /// The job's failed items (JSON) and done count, its row locked until the transaction ends.
    private static func lockedOutcome(_ connection: PostgresConnection, key: String, logger: Logger) async throws -> (String, Int)? {
        let rows = try await connection.query("SELECT failed_items, done_items FROM job WHERE key = \(key) FOR UPDATE", logger: logger)
        var outcome: (String, Int)?
        for try await row in rows.decode((String, Int).self) { outcome = row }
        return outcome
    }

    // MARK: - Leases (the database server's clock)

    /// Unfinished jobs no replica holds a live lease on, oldest first, without their pending IDs.
    public func claimableJobs() async throws -> [JobRecord] {
        try await Self.jobs(
            client.query(
                """
                SELECT \(unescaped: Self.summaryColumns) FROM job
                WHERE status <> \(JobState.completed.rawValue) AND (lease_owner IS NULL OR lease_until < now())
                ORDER BY created_at, key
                """, logger: logger))
    }

    /// Takes the job for `owner` until `lease` from now, if it is unfinished and no other owner
    /// holds a live lease on it. The row is locked with SKIP LOCKED: of two replicas claiming at
    /// once, the one that finds it locked gives up (false), and the other sees no live lease. A
    /// row locked for a moment (a chunk being recorded) is skipped too, so when the skip leaves
    /// nothing, a lease `owner` already holds is kept by renewing it (which waits for the lock).
    public func claimJob(key: String, owner: String, lease: Duration) async throws -> Bool {
        if try await takeUnlocked(key: key, owner: owner, lease: lease) { return true }
        return try await renewJobLease(key: key, owner: owner, lease: lease)
    }

    private func takeUnlocked(key: String, owner: String, lease: Duration) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE job SET lease_owner = \(owner), lease_until = now() + \(Column.seconds(lease))::float8 * interval '1 second'
            WHERE key = (
                SELECT key FROM job
                WHERE key = \(key) AND status <> \(JobState.completed.rawValue)
                  AND (lease_owner IS NULL OR lease_owner = \(owner) OR lease_until < now())
                FOR UPDATE SKIP LOCKED)
            RETURNING key
            """, logger: logger)
        return try await !rows.collect().isEmpty
    }

    /// Extends `owner`'s lease to `lease` from now; false when the job is no longer `owner`'s.
    public func renewJobLease(key: String, owner: String, lease: Duration) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE job SET lease_until = now() + \(Column.seconds(lease))::float8 * interval '1 second'
            WHERE key = \(key) AND lease_owner = \(owner) AND status <> \(JobState.completed.rawValue)
            RETURNING key
            """, logger: logger)
        return try await !rows.collect().isEmpty
    }

    /// Gives `owner`'s lease up, so another replica may take the job at once.
    public func releaseJobLease(key: String, owner: String) async throws {
        try await client.query(
            "UPDATE job SET lease_owner = NULL, lease_until = NULL WHERE key = \(key) AND lease_owner = \(owner)", logger: logger)
    }
}
