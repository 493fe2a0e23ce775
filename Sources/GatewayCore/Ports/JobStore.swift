import Foundation

/// Where a job stands.
public enum JobState: String, Hashable, Sendable, Codable, CaseIterable {
    case inProgress
    case completed
}

/// Where a chunk of a job stands: planned, started (sent, outcome not recorded), done.
public enum ChunkState: String, Hashable, Sendable, Codable {
    case planned
    case started
    case done
}

/// A persisted batch job.
public struct JobRecord: Hashable, Sendable {
    public var key: String
    public var account: String
    public var operation: MailBatchOperation
    public var state: JobState
    public var totalItems: Int
    public var doneItems: Int
    public var failedItems: [String]
    /// Resolved IDs not yet planned into chunks (empty once planned).
    public var pendingItems: [String]
    /// The client's ID for an item the job knows by another (a conversation batch: mail ID →
    /// conversation ID): failed items are reported by the client's IDs.
    public var itemAliases: [String: String]
    public var createdAt: Date
    public var finishedAt: Date?
    /// An operator asked to cancel it (`mailbox-gateway jobs cancel`); the runner stops at its
    /// next chunk boundary and reports what is not done as failed.
    public var cancelRequested = false
    /// The replica holding the job's lease, and until when (``JobStore/claimJob(key:owner:lease:)``);
    /// nil when none does. For operators (`mailbox-gateway jobs show`).
    public var leaseOwner: String?
    public var leaseUntil: Date?

    public init(
        key: String, account: String, operation: MailBatchOperation, state: JobState, totalItems: Int, doneItems: Int = 0,
        failedItems: [String] = [], pendingItems: [String], itemAliases: [String: String] = [:], createdAt: Date = Date(),
        finishedAt: Date? = nil
    ) {
        self.key = key
        self.account = account
        self.operation = operation
        self.state = state
        self.totalItems = totalItems
        self.doneItems = doneItems
        self.failedItems = failedItems
        self.pendingItems = pendingItems
        self.itemAliases = itemAliases
        self.createdAt = createdAt
        self.finishedAt = finishedAt
    }

    /// The failed items as the client named them: aliased IDs replaced, each reported once.
    public var reportedFailedItems: [String] { BatchOutcome.aliased(failedItems, aliases: itemAliases) }

    /// 0–100, from the items done (monotonic: done items only grow).
    public var progress: Double {
        if state == .completed { return 100 }
        guard totalItems > 0 else { return 0 }
        return min(99.9, Double(doneItems) * 100 / Double(totalItems))
    }
}

/// One chunk of a job, with the state it reached.
public struct JobChunkRecord: Hashable, Sendable {
    public var seq: Int
    public var chunk: BatchChunk
    public var state: ChunkState
    /// The destination's UIDNEXT seen just before a copy-like chunk started (resume evidence).
    public var destinationUIDNext: UInt32?
    /// When the chunk was marked started (nil for chunks started before migration v8).
    public var startedAt: Date?

    public init(seq: Int, chunk: BatchChunk, state: ChunkState, destinationUIDNext: UInt32? = nil, startedAt: Date? = nil) {
        self.seq = seq
        self.chunk = chunk
        self.state = state
        self.destinationUIDNext = destinationUIDNext
        self.startedAt = startedAt
    }
}

/// Jobs and their chunks, persisted so a restart resumes where the gateway stopped. Each method
/// is one transaction.
public protocol JobStore: Sendable {
    func createJob(_ job: JobRecord) async throws
    /// The job, only if it belongs to `account`.
    func job(key: String, account: String) async throws -> JobRecord?
    /// The job without its pending IDs (`pendingItems` empty), only if it belongs to `account`:
    /// what a status poll needs. A job of 10,000 IDs keeps them until it is planned, and a poll
    /// every 10 ms decoding them competed with the job for the CPU.
    func jobSummary(key: String, account: String) async throws -> JobRecord?
    /// The job whatever its account (for the job runner, never for clients).
    func jobAnyAccount(key: String) async throws -> JobRecord?
    /// Jobs not completed yet, oldest first.
    func unfinishedJobs() async throws -> [JobRecord]
    /// How many jobs there are in each state, all accounts together (for metrics).
    func jobCounts() async throws -> [JobState: Int]
    /// Jobs without their pending IDs, newest first, of every account or of one, in one state or
    /// any (for operators: `mailbox-gateway jobs list`).
    func listJobs(account: String?, state: JobState?, limit: Int) async throws -> [JobRecord]
    /// Marks an unfinished job to be cancelled; false when there is no such unfinished job.
    func requestJobCancel(key: String) async throws -> Bool
    /// Records the chunks a job was planned into and the items that failed while planning, and
    /// clears the pending IDs, so planning happens exactly once.
    func planJob(key: String, chunks: [BatchChunk], failed: [String]) async throws
    func jobChunks(key: String) async throws -> [JobChunkRecord]
    /// Marks a chunk started now, with the destination's UIDNEXT seen just before (for copies).
    func startJobChunk(key: String, seq: Int, destinationUIDNext: UInt32?) async throws
    /// Marks a chunk done and adds its outcome to the job.
    func finishJobChunk(key: String, seq: Int, itemCount: Int, failed: [String]) async throws
    func completeJob(key: String, failed: [String]) async throws
    /// Deletes jobs finished before `date`; returns how many.
    @discardableResult
    func purgeJobs(finishedBefore date: Date) async throws -> Int

    // Leases (SPEC §5 `jobs.leaseSeconds`): which gateway replica runs a job. The store's clock
    // (the database server's, where there is one) dates them, so replicas need not agree on time.

    /// Unfinished jobs no replica holds a live lease on, oldest first, without their pending IDs:
    /// what a replica may take.
    func claimableJobs() async throws -> [JobRecord]
    /// Takes the job for `owner` for `lease` from now, if it is unfinished and no other owner holds
    /// a live lease on it; true when `owner` holds it now. Two replicas claiming at once: one wins.
    func claimJob(key: String, owner: String, lease: Duration) async throws -> Bool
    /// Extends `owner`'s lease by `lease` from now; false when the job is no longer `owner`'s (its
    /// lease expired and another replica took it, or it finished), so the runner must stop.
    func renewJobLease(key: String, owner: String, lease: Duration) async throws -> Bool
    /// Gives `owner`'s lease up (a checkpoint, a job waiting for credentials), so another replica
    /// may take the job at once instead of after the lease runs out.
    func releaseJobLease(key: String, owner: String) async throws
}
