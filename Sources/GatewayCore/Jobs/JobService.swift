import Foundation
import IMAPCore
import Logging
import Tracing

/// Where a job stands, for its account: its key, state, progress and the items that failed so far.
public struct JobStatus: Hashable, Sendable {
    public var jobKey: String
    public var state: JobState
    /// 0–100, monotonic.
    public var progress: Double
    public var failedItems: [String]
}

/// Asynchronous batch jobs: persisted in the job store, run in chunks in the background, resumed after a
/// restart, bounded per account and overall, purged after a retention time.
///
/// A job holds one pooled connection while it runs and at most `maxJobsPerAccount` jobs of an
/// account run at once, so an account's synchronous requests always find other connections.
/// Restart: jobs are resumed with the master user's credentials when the gateway has them
/// (trusted mode, or `auth.masterUser` set); otherwise a job resumes as soon as its account
/// authenticates again, since the gateway never stores passwords.
///
/// Replicas (several gateways on one shared store): a job runs where it holds a lease
/// (``JobStore/claimJob(key:owner:lease:)``), renewed while it runs and before each chunk. A
/// replica whose renewal fails stops at the next chunk boundary. A job whose lease ran out (its
/// replica died) is taken by another replica that can log in for its account: every replica looks
/// for such jobs every ``Configuration/takeoverInterval``, and again when one of the account's
/// requests reaches it. The taker resumes by the same crash-safety rules as a restart.
public actor JobService {
    public struct Configuration: Sendable {
        public var maxConcurrentJobs: Int
        public var maxJobsPerAccount: Int
        /// Finished jobs are kept this long, then purged.
        public var retention: Duration
        /// Pause before retrying a job after an upstream failure.
        public var retryDelay: Duration
        public var maxAttempts: Int
        /// How long after a copy or move chunk was started a resume may look at the mailboxes: the
        /// server may still be running the interrupted command (Dovecot finishes a `UID MOVE` whose
        /// client died), and a resume overlapping it would transfer the same messages twice. The
        /// IMAP command timeout: the longest the interrupted attempt would have waited for it.
        public var resumeGuard: Duration
        /// How long a job stays with its replica without a renewal (`jobs.leaseSeconds`).
        public var lease: Duration

        /// How often a replica renews its jobs' leases, and looks for jobs whose lease ran out: a
        /// third of the lease, so two renewals may fail before another replica takes a job.
        public var takeoverInterval: Duration { max(.milliseconds(200), lease / 3) }

        public init(
            maxConcurrentJobs: Int = 4, maxJobsPerAccount: Int = 1, retention: Duration = .seconds(86_400),
            retryDelay: Duration = .seconds(2), maxAttempts: Int = 5, resumeGuard: Duration = .seconds(120), lease: Duration = .seconds(30)
        ) {
            self.maxConcurrentJobs = maxConcurrentJobs
            self.maxJobsPerAccount = maxJobsPerAccount
            self.retention = retention
            self.retryDelay = retryDelay
            self.maxAttempts = maxAttempts
            self.resumeGuard = resumeGuard
            self.lease = lease
        }
    }

    /// This replica's name in job leases: random per process, so a restarted gateway is another owner.
    public nonisolated let owner = RandomToken.make()

    private let ports: JobRunner.Ports
    private let executorConfiguration: MailBatchExecutor.Configuration
    private let configuration: Configuration
    private let resumeCredentials: @Sendable (String) -> AccountCredentials?
    private let metrics: GatewayMetrics
    private let logger: Logger
    /// Set by ``checkpoint(within:)``: no job starts, and running ones stop at their next chunk boundary.
    private var stopping = false

    private var running: Set<String> = []
    private var runningPerAccount: [String: Int] = [:]
    private var queue: [(key: String, account: String)] = []
    /// Keys being written by ``submit``: not yet in the queue, already in the database, so a
    /// concurrent ``resumeUnfinished`` must not queue them a second time.
    private var submitting: Set<String> = []
    /// Credentials to run an account's jobs with; kept only while the account has unfinished jobs.
    private var credentials: [String: AccountCredentials] = [:]
    /// How many runners each job key got since start (a job must have one at a time; tests read it).
    private(set) var runnersStarted: [String: Int] = [:]

    /// Runs between a new job's write and its queueing; tests use it to place a resume exactly in
    /// that window (the race of issue 13, finding 13). Nil in the server.
    var afterCreatingJob: (@Sendable () async -> Void)?

    func setAfterCreatingJob(_ hook: (@Sendable () async -> Void)?) { afterCreatingJob = hook }

    /// Accounts whose credentials the server refused while a job ran: their jobs wait for the
    /// next request that proves a password.
    private var awaitingCredentials: Set<String> = []
    /// Jobs this replica runs whose lease another replica took (a renewal found it gone): they
    /// stop at their next chunk boundary.
    private var leaseLost: Set<String> = []

    /// - Parameter resumeCredentials: credentials to resume an account's jobs with when its own are
    ///   not known (the master user acting for the account), or nil.
    public init(
        mailServer: any MailServer, store: any JobStore, folders: any FolderStore, labels: any LabelStore,
        executorConfiguration: MailBatchExecutor.Configuration, configuration: Configuration = Configuration(),
        resumeCredentials: @escaping @Sendable (String) -> AccountCredentials? = { _ in nil },
        metrics: GatewayMetrics = GatewayMetrics(), logger: Logger
    ) {
        self.ports = JobRunner.Ports(mailServer: mailServer, store: store, folders: folders, labels: labels)
        self.executorConfiguration = executorConfiguration
        self.configuration = configuration
        self.resumeCredentials = resumeCredentials
        self.metrics = metrics
        self.logger = logger
    }

    /// Persists a new job over already resolved IDs (`failed` are IDs that failed while resolving)
    /// and schedules it. Returns its first status.
    func submit(
        operation: MailBatchOperation, ids: [String], failed: [String], aliases: [String: String] = [:], credentials: AccountCredentials
    ) async throws -> JobStatus {
        let key = RandomToken.jobKey()
        let job = JobRecord(
            key: key, account: credentials.user, operation: operation, state: .inProgress,
            totalItems: ids.count + failed.count, doneItems: failed.count, failedItems: failed, pendingItems: ids, itemAliases: aliases)
        submitting.insert(key)
        do {
            try await ports.store.createJob(job)
            // Ours from the start: another replica looking for jobs must not take it meanwhile.
            _ = try await ports.store.claimJob(key: key, owner: owner, lease: configuration.lease)
        } catch {
            submitting.remove(key)
            throw error
        }
        await afterCreatingJob?()
        submitting.remove(key)
        self.credentials[credentials.user] = credentials
        enqueue(key, account: credentials.user)
        schedule()
        return JobStatus(job)
    }

    /// The job's status, only for the account that created it.
    public func status(key: String, account: String) async throws -> JobStatus? {
        try await ports.store.jobSummary(key: key, account: account).map(JobStatus.init)
    }

    /// An account authenticated: remember its credentials and resume its unfinished jobs that no
    /// replica holds (once per ``Configuration/takeoverInterval`` per account, and at once after
    /// its jobs waited for credentials).
    public func noteCredentials(_ credentials: AccountCredentials) async {
        let account = credentials.user
        if self.credentials[account] != nil {
            // Newer proven credentials replace older ones (a changed password).
            self.credentials[account] = credentials
            return
        }
        let now = ContinuousClock.now
        if !awaitingCredentials.contains(account), let last = lastResumeCheck[account], now - last < configuration.takeoverInterval {
            return
        }
        if lastResumeCheck.count >= 10_000 {
            lastResumeCheck = lastResumeCheck.filter { now - $0.value < configuration.takeoverInterval }
        }
        lastResumeCheck[account] = now
        awaitingCredentials.remove(account)
        self.credentials[account] = credentials
        await resumeUnfinished(account: account)
        forgetCredentialsIfIdle(account)
    }

    /// When each account was last checked for jobs to resume (by ``noteCredentials(_:)``).
    private var lastResumeCheck: [String: ContinuousClock.Instant] = [:]

    /// At start: resume every unfinished job whose account can be logged into now.
    public func resumeAtStart() async {
        await resumeUnfinished(account: nil)
    }

    /// Deletes finished jobs older than the retention time.
    @discardableResult
    public func purge() async throws -> Int {
        let seconds = Double(configuration.retention.components.seconds)
        return try await ports.store.purgeJobs(finishedBefore: Date().addingTimeInterval(-seconds))
    }

    /// Resumes jobs at start; then, until cancelled, takes over jobs whose lease ran out (every
    /// ``Configuration/takeoverInterval``) and purges finished ones (every minute).
    public func run() async {
        // The name this replica holds leases under, as `mailbox-gateway jobs show` prints it.
        logger.info("job service started", metadata: ["replica": "\(owner)"])
        await resumeAtStart()
        var lastPurge: ContinuousClock.Instant?
        while !Task.isCancelled {
            if lastPurge.map({ ContinuousClock.now - $0 >= .seconds(60) }) ?? true {
                lastPurge = .now
                do {
                    try await purge()
                } catch {
                    logger.warning("purging jobs failed", metadata: ["error": "\(error)"])
                }
            }
            do {
                try await Task.sleep(for: configuration.takeoverInterval)
            } catch {
                return
            }
            if !stopping { await resumeUnfinished(account: nil) }
        }
    }

    /// For shutdown: starts no more jobs and lets each running one finish the chunk it is carrying
    /// out, record it, and stop there, so it resumes on the next start from a recorded boundary
    /// (no interrupted command to wait out). Returns when none runs, or after `grace` (those still
    /// running then resume by the crash-safety rules). Returns how many were still running.
    @discardableResult
    public func checkpoint(within grace: Duration) async -> Int {
        stopping = true
        queue = []
        if !running.isEmpty { logger.info("stopping jobs at their next chunk boundary", metadata: ["running": "\(running.count)"]) }
        let deadline = ContinuousClock.now + grace
        while !running.isEmpty, ContinuousClock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
        }
        return running.count
    }

    /// Whether running jobs are to stop at their next chunk boundary.
    func isStopping() -> Bool { stopping }

    /// Before each chunk of `key`: throws ``JobRunner/Checkpointed`` when the gateway shuts down,
    /// ``JobRunner/LeaseLost`` when another replica holds the job now (a renewal found its lease
    /// gone, or this one does).
    func checkBeforeChunk(key: String) async throws {
        if stopping { throw JobRunner.Checkpointed() }
        if leaseLost.contains(key) { throw JobRunner.LeaseLost() }
        guard try await ports.store.renewJobLease(key: key, owner: owner, lease: configuration.lease) else {
            leaseLost.insert(key)
            throw JobRunner.LeaseLost()
        }
    }

    /// Renews the lease of a running job every ``Configuration/takeoverInterval`` until cancelled
    /// (a chunk may take longer than the lease). A failed renewal is tried again; a lease found
    /// taken marks the job lost.
    private func renewLease(key: String) async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.takeoverInterval)
            } catch {
                return
            }
            do {
                if try await !ports.store.renewJobLease(key: key, owner: owner, lease: configuration.lease) {
                    leaseLost.insert(key)
                    return
                }
            } catch {
                logger.warning("renewing a job's lease failed", metadata: ["jobKey": "\(key)", "error": "\(error)"])
            }
        }
    }

    private func resumeUnfinished(account: String?) async {
        do {
            for job in try await ports.store.claimableJobs() where account == nil || job.account == account {
                if running.contains(job.key) || queue.contains(where: { $0.key == job.key }) || submitting.contains(job.key) { continue }
                if job.cancelRequested {
                    // Cancelled by an operator while no runner had it: nothing to log in for.
                    guard try await ports.store.claimJob(key: job.key, owner: owner, lease: configuration.lease) else { continue }
                    try await JobRunner.failRemaining(key: job.key, store: ports.store)
                    logger.info("job cancelled by an operator", metadata: ["jobKey": "\(job.key)"])
                    continue
                }
                if credentials[job.account] == nil, let master = resumeCredentials(job.account) {
                    credentials[job.account] = master
                }
                guard credentials[job.account] != nil else { continue }
                if enqueue(job.key, account: job.account) {
                    logger.info("resuming job", metadata: ["account": "\(job.account)"])
                }
            }
        } catch {
            logger.error("cannot read unfinished jobs", metadata: ["error": "\(error)"])
        }
        schedule()
    }

    /// Queues a job unless it is already queued, running or being submitted: one job never has two
    /// runners (two would copy the same messages twice).
    @discardableResult
    private func enqueue(_ key: String, account: String) -> Bool {
        guard !running.contains(key), !submitting.contains(key), !queue.contains(where: { $0.key == key }) else { return false }
        queue.append((key, account))
        return true
    }

    /// Credentials are kept only while they are needed to run the account's jobs.
    private func forgetCredentialsIfIdle(_ account: String) {
        guard runningPerAccount[account, default: 0] == 0, !queue.contains(where: { $0.account == account }) else { return }
        credentials[account] = nil
    }

    /// Starts queued jobs while the global and per-account limits allow, oldest first.
    private func schedule() {
        guard !stopping else { return }
        var index = 0
        while index < queue.count, running.count < configuration.maxConcurrentJobs {
            let (key, account) = queue[index]
            guard runningPerAccount[account, default: 0] < configuration.maxJobsPerAccount, let credentials = credentials[account] else {
                index += 1
                continue
            }
            queue.remove(at: index)
            runnersStarted[key, default: 0] += 1
            running.insert(key)
            runningPerAccount[account, default: 0] += 1
            Task { await self.runJob(key: key, credentials: credentials) }
        }
    }

    private func runJob(key: String, credentials initial: AccountCredentials) async {
        var credentials = initial
        var attempt = 0
        // Taken by another replica since it was queued: not ours to run.
        let claimed: Bool
        do {
            claimed = try await ports.store.claimJob(key: key, owner: owner, lease: configuration.lease)
        } catch {
            logger.warning("cannot claim a job", metadata: ["jobKey": "\(key)", "error": "\(error)"])
            claimed = false
        }
        let renewal = Task { await self.renewLease(key: key) }
        var release = true
        while claimed {
            attempt += 1
            do {
                // A trace of its own: the job outlives the request that submitted it.
                try await withSpan("job", context: .topLevel) { span in
                    span.attributes["job.attempt"] = attempt
                    try await JobRunner(
                        key: key, ports: ports, configuration: executorConfiguration, resumeGuard: configuration.resumeGuard,
                        metrics: metrics, beforeChunk: { try await self.checkBeforeChunk(key: key) }, logger: logger
                    ).run(credentials: credentials)
                }
                break
            } catch is JobRunner.Checkpointed {
                logger.info("job stopped at a chunk boundary; it resumes on the next start (or on another replica)")
                break
            } catch is JobRunner.LeaseLost {
                logger.warning("job taken over by another replica; stopped at a chunk boundary", metadata: ["jobKey": "\(key)"])
                release = false
                break
            } catch let error where Self.isAuthenticationFailure(error) {
                // The password changed or was revoked: the job waits, unchanged, for the next
                // request of this account that proves a password, instead of failing its items.
                if let newer = self.credentials[credentials.user], newer != credentials {
                    // A request proved another password while this attempt ran: go on with it.
                    credentials = newer
                    continue
                }
                logger.info("job waits for valid credentials", metadata: ["account": "\(credentials.user)"])
                self.credentials[credentials.user] = nil
                awaitingCredentials.insert(credentials.user)
                break
            } catch let error as GatewayError where error.kind.isRequestProblem {
                // The request can no longer be carried out (a label or folder was deleted): finish with the rest failed.
                logger.info("job cannot continue", metadata: ["error": "\(error)"])
                try? await JobRunner.failRemaining(key: key, store: ports.store)
                break
            } catch {
                logger.warning("job interrupted", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                if stopping { break }
                if attempt >= configuration.maxAttempts {
                    try? await JobRunner.failRemaining(key: key, store: ports.store)
                    break
                }
                try? await Task.sleep(for: configuration.retryDelay)
            }
        }
        renewal.cancel()
        leaseLost.remove(key)
        if claimed, release {
            // Finished, checkpointed or waiting: another replica may take an unfinished job at once.
            try? await ports.store.releaseJobLease(key: key, owner: owner)
        }
        running.remove(key)
        let left = runningPerAccount[credentials.user, default: 1] - 1
        runningPerAccount[credentials.user] = left > 0 ? left : nil
        forgetCredentialsIfIdle(credentials.user)
        schedule()
    }

    static func isAuthenticationFailure(_ error: any Error) -> Bool {
        if let error = error as? MailServerError, error.kind == .authenticationFailed { return true }
        if let error = error as? GatewayError, error.kind == .unauthorized { return true }
        return false
    }
}

extension JobStatus {
    init(_ job: JobRecord) {
        self.init(jobKey: job.key, state: job.state, progress: job.progress, failedItems: job.reportedFailedItems)
    }
}

/// Runs one job from wherever its persisted state says it stands (see ``BatchWork`` for why each
/// step can be resumed safely).
struct JobRunner {
    /// What a job needs from outside the engine.
    struct Ports: Sendable {
        var mailServer: any MailServer
        var store: any JobStore
        var folders: any FolderStore
        var labels: any LabelStore
    }

    let key: String
    let ports: Ports
    let configuration: MailBatchExecutor.Configuration
    /// See ``JobService/Configuration/resumeGuard``.
    let resumeGuard: Duration
    let metrics: GatewayMetrics
    /// Called before each chunk: throws ``Checkpointed`` when the gateway shuts down, ``LeaseLost``
    /// when the job is no longer this replica's.
    let beforeChunk: @Sendable () async throws -> Void
    let logger: Logger

    /// Thrown at a chunk boundary when the gateway shuts down: every chunk so far is recorded.
    struct Checkpointed: Error {}

    /// Thrown at a chunk boundary when another replica took the job (this one's lease ran out).
    struct LeaseLost: Error {}

    func run(credentials: AccountCredentials) async throws {
        let store = ports.store
        guard let job = try await store.job(key: key, account: credentials.user), job.state != .completed else { return }
        if job.cancelRequested { return try await cancel() }
        let operation = job.operation
        try await ports.mailServer.withSession(credentials) { session in
            let keyword = try await MailBatchExecutor.keyword(for: operation, account: credentials.user, labels: ports.labels)
            var work = BatchWork(operation: operation, keyword: keyword, session: session, configuration: configuration, logger: logger)
            if !job.pendingItems.isEmpty {
                // Plan once: chunks and planning failures are recorded in one transaction.
                let directory = try await MailboxDirectory.load(session: session, store: ports.folders, account: credentials.user)
                let plan = BatchPlan(ids: job.pendingItems)
                try await work.prepare(directory, plan: plan)
                var chunks: [BatchChunk] = []
                for group in plan.folders {
                    chunks += try await work.plan(group, directory: directory, maxUIDs: configuration.jobChunkSize)
                }
                let planned = Set(chunks.flatMap { $0.clientIDs($0.uids) })
                try await store.planJob(key: key, chunks: chunks, failed: plan.distinctIDs.filter { !planned.contains($0) })
            }
            for stored in try await store.jobChunks(key: key) where stored.state != .done {
                try await beforeChunk()
                if try await store.jobAnyAccount(key: key)?.cancelRequested == true { return try await cancel() }
                let chunk = stored.chunk
                let resuming = stored.state == .started
                if resuming, case .transfer = chunk.action, let startedAt = stored.startedAt {
                    try await waitOutInterruptedCommand(startedAt: startedAt)
                }
                let started = ContinuousClock.now
                var destinationUIDNext = stored.destinationUIDNext
                if !resuming {
                    if case .transfer(_, _, let mailbox, _) = chunk.action {
                        destinationUIDNext = try await session.status(MailboxName(wire: mailbox), [.uidNext]).uidNext
                    }
                    try await store.startJobChunk(key: key, seq: stored.seq, destinationUIDNext: destinationUIDNext)
                }
                let result = try await work.execute(chunk, resuming: resuming, destinationUIDNext: destinationUIDNext)
                let failed = chunk.clientIDs(chunk.uidSet.subtracting(result.confirmed).values)
                try await store.finishJobChunk(key: key, seq: stored.seq, itemCount: chunk.uids.count, failed: failed)
                metrics.recordJobChunk(operation: operation.name, duration: ContinuousClock.now - started)
            }
            try await store.completeJob(key: key, failed: [])
        }
    }

    /// An operator cancelled the job: it completes here, with every item not done reported failed.
    private func cancel() async throws {
        try await Self.failRemaining(key: key, store: ports.store)
        logger.info("job cancelled by an operator", metadata: ["jobKey": "\(key)"])
    }

    /// Sleeps until `resumeGuard` after the interrupted chunk started, so the command it sent has
    /// ended on the server before the mailboxes are read to re-derive what it did.
    private func waitOutInterruptedCommand(startedAt: Date) async throws {
        let left = resumeGuard / .seconds(1) - max(0, Date().timeIntervalSince(startedAt))
        guard left > 0 else { return }
        logger.info("waiting for the interrupted chunk's command to end on the server", metadata: ["seconds": "\(Int(left.rounded(.up)))"])
        try await Task.sleep(for: .seconds(left))
    }

    /// Finishes a job that cannot go on: every item not yet done is reported failed.
    static func failRemaining(key: String, store: any JobStore) async throws {
        guard let job = try await store.jobAnyAccount(key: key) else { return }
        var failed = job.pendingItems
        for stored in try await store.jobChunks(key: key) where stored.state != .done {
            failed += stored.chunk.clientIDs(stored.chunk.uids)
        }
        try await store.completeJob(key: key, failed: failed)
    }
}
