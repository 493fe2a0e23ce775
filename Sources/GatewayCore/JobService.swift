import Foundation
import GatewayStore
import IMAPClient
import IMAPCore
import Logging

/// What `GET /api/v1/batch/jobs/{jobKey}` shows.
public struct JobStatus: Hashable, Sendable {
    public var jobKey: String
    /// `inProgress` or `completed`.
    public var status: String
    /// 0–100, monotonic.
    public var progress: Double
    public var failedItems: [String]
}

/// Asynchronous batch jobs: persisted in SQLite, run in chunks in the background, resumed after a
/// restart, bounded per account and overall, purged after a retention time.
///
/// A job holds one pooled connection while it runs and at most `maxJobsPerAccount` jobs of an
/// account run at once, so an account's synchronous requests always find other connections.
/// Restart: jobs are resumed with the master user's credentials when the gateway has them
/// (trusted mode, or `auth.masterUser` set); otherwise a job resumes as soon as its account
/// authenticates again, since the gateway never stores passwords.
public actor JobService {
    public struct Configuration: Sendable {
        public var maxConcurrentJobs: Int
        public var maxJobsPerAccount: Int
        /// Finished jobs are kept this long, then purged.
        public var retention: Duration
        /// Pause before retrying a job after an upstream failure.
        public var retryDelay: Duration
        public var maxAttempts: Int

        public init(
            maxConcurrentJobs: Int = 4, maxJobsPerAccount: Int = 1, retention: Duration = .seconds(86_400),
            retryDelay: Duration = .seconds(2), maxAttempts: Int = 5
        ) {
            self.maxConcurrentJobs = maxConcurrentJobs
            self.maxJobsPerAccount = maxJobsPerAccount
            self.retention = retention
            self.retryDelay = retryDelay
            self.maxAttempts = maxAttempts
        }
    }

    private let database: GatewayDatabase
    private let pool: IMAPConnectionPool
    private let executorConfiguration: MailBatchExecutor.Configuration
    private let configuration: Configuration
    private let resumeCredentials: @Sendable (String) -> IMAPCredentials?
    private let logger: Logger

    private var running: Set<String> = []
    private var runningPerAccount: [String: Int] = [:]
    private var queue: [(key: String, account: String)] = []
    /// Keys being written by ``submit``: not yet in the queue, already in the database, so a
    /// concurrent ``resumeUnfinished`` must not queue them a second time.
    private var submitting: Set<String> = []
    /// Credentials to run an account's jobs with; kept only while the account has unfinished jobs.
    private var credentials: [String: IMAPCredentials] = [:]
    /// How many runners each job key got since start (a job must have one at a time; tests read it).
    private(set) var runnersStarted: [String: Int] = [:]

    /// Runs between a new job's write and its queueing; tests use it to place a resume exactly in
    /// that window (the race of issue 13, finding 13). Nil in the server.
    var afterCreatingJob: (@Sendable () async -> Void)?

    func setAfterCreatingJob(_ hook: (@Sendable () async -> Void)?) { afterCreatingJob = hook }

    /// Accounts whose credentials the server refused while a job ran: their jobs wait for the
    /// next request that proves a password.
    private var awaitingCredentials: Set<String> = []

    /// - Parameter resumeCredentials: credentials to resume an account's jobs with when its own are
    ///   not known (the master user acting for the account), or nil.
    public init(
        database: GatewayDatabase, pool: IMAPConnectionPool, executorConfiguration: MailBatchExecutor.Configuration,
        configuration: Configuration = Configuration(),
        resumeCredentials: @escaping @Sendable (String) -> IMAPCredentials? = { _ in nil }, logger: Logger
    ) {
        self.database = database
        self.pool = pool
        self.executorConfiguration = executorConfiguration
        self.configuration = configuration
        self.resumeCredentials = resumeCredentials
        self.logger = logger
    }

    /// Persists a new job over already resolved IDs (`failed` are IDs that failed while resolving)
    /// and schedules it. Returns its first status.
    func submit(operation: MailBatchOperation, ids: [String], failed: [String], credentials: IMAPCredentials) async throws -> JobStatus {
        let key = Self.newKey()
        let operationJSON = String(decoding: try JSONEncoder().encode(operation), as: UTF8.self)
        let job = StoredJob(
            key: key, account: credentials.user, operation: operationJSON, status: "inProgress",
            totalItems: ids.count + failed.count, doneItems: failed.count, failedItems: failed, pendingItems: ids)
        submitting.insert(key)
        do {
            try await database.createJob(job)
        } catch {
            submitting.remove(key)
            throw error
        }
        await afterCreatingJob?()
        submitting.remove(key)
        self.credentials[credentials.user] = credentials
        enqueue(key, account: credentials.user)
        schedule()
        return JobStatus(jobKey: key, status: job.status, progress: job.progress, failedItems: job.failedItems)
    }

    /// The job's status, only for the account that created it.
    public func status(key: String, account: String) async throws -> JobStatus? {
        guard let job = try await database.job(key: key, account: account) else { return nil }
        return JobStatus(jobKey: job.key, status: job.status, progress: job.progress, failedItems: job.failedItems)
    }

    /// An account authenticated: remember its credentials and resume its unfinished jobs.
    public func noteCredentials(_ credentials: IMAPCredentials) async {
        let account = credentials.user
        if self.credentials[account] != nil {
            // Newer proven credentials replace older ones (a changed password).
            self.credentials[account] = credentials
            return
        }
        guard awaitingCredentials.contains(account) || !resumeChecked.contains(account) else { return }
        resumeChecked.insert(account)
        awaitingCredentials.remove(account)
        self.credentials[account] = credentials
        await resumeUnfinished(account: account)
        forgetCredentialsIfIdle(account)
    }

    /// Accounts already checked for unfinished jobs since start (each is checked once, then again
    /// only after its jobs waited for credentials).
    private var resumeChecked: Set<String> = []

    /// At start: resume every unfinished job whose account can be logged into now.
    public func resumeAtStart() async {
        await resumeUnfinished(account: nil)
    }

    /// Deletes finished jobs older than the retention time.
    @discardableResult
    public func purge() async throws -> Int {
        let seconds = Double(configuration.retention.components.seconds)
        return try await database.purgeJobs(finishedBefore: Date().addingTimeInterval(-seconds))
    }

    /// Resumes jobs at start, then purges finished ones periodically until cancelled.
    public func run() async {
        await resumeAtStart()
        while !Task.isCancelled {
            do {
                try await purge()
                try await Task.sleep(for: .seconds(60))
            } catch is CancellationError {
                return
            } catch {
                logger.warning("purging jobs failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func resumeUnfinished(account: String?) async {
        do {
            for job in try await database.unfinishedJobs() where account == nil || job.account == account {
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

    private func runJob(key: String, credentials initial: IMAPCredentials) async {
        var credentials = initial
        var attempt = 0
        while true {
            attempt += 1
            do {
                try await JobRunner(
                    key: key, database: database, pool: pool, configuration: executorConfiguration, logger: logger
                ).run(credentials: credentials)
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
            } catch let error as GatewayError where error.status < 500 {
                // The request can no longer be carried out (a label or folder was deleted): finish with the rest failed.
                logger.info("job cannot continue", metadata: ["error": "\(error)"])
                try? await JobRunner.failRemaining(key: key, database: database)
                break
            } catch {
                logger.warning("job interrupted", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                if attempt >= configuration.maxAttempts {
                    try? await JobRunner.failRemaining(key: key, database: database)
                    break
                }
                try? await Task.sleep(for: configuration.retryDelay)
            }
        }
        running.remove(key)
        let left = runningPerAccount[credentials.user, default: 1] - 1
        runningPerAccount[credentials.user] = left > 0 ? left : nil
        forgetCredentialsIfIdle(credentials.user)
        schedule()
    }

    static func isAuthenticationFailure(_ error: any Error) -> Bool {
        if case IMAPError.authenticationFailed = error { return true }
        if let error = error as? GatewayError, error.status == 401 { return true }
        return false
    }

    static func newKey() -> String { RandomToken.make() }
}

/// Unguessable tokens (job keys, session IDs): 256 bits from the system's CSPRNG, base64url (43 characters).
public enum RandomToken {
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}

/// Runs one job from wherever its persisted state says it stands (see ``BatchWork`` for why each
/// step can be resumed safely).
struct JobRunner {
    let key: String
    let database: GatewayDatabase
    let pool: IMAPConnectionPool
    let configuration: MailBatchExecutor.Configuration
    let logger: Logger

    func run(credentials: IMAPCredentials) async throws {
        guard let job = try await database.job(key: key, account: credentials.user), job.status != "completed" else { return }
        let operation = try JSONDecoder().decode(MailBatchOperation.self, from: Data(job.operation.utf8))
        try await pool.withConnection(credentials) { connection in
            let keyword = try await MailBatchExecutor.keyword(for: operation, account: credentials.user, database: database)
            var work = BatchWork(operation: operation, keyword: keyword, connection: connection, configuration: configuration, logger: logger)
            if !job.pendingItems.isEmpty {
                // Plan once: chunks and planning failures are recorded in one transaction.
                let directory = try await MailboxDirectory.load(connection: connection, database: database, account: credentials.user)
                let plan = BatchPlan(ids: job.pendingItems)
                try work.prepare(directory, plan: plan)
                var chunks: [BatchChunk] = []
                for group in plan.folders {
                    chunks += try await work.plan(group, directory: directory, maxUIDs: configuration.jobChunkSize)
                }
                let planned = Set(chunks.flatMap { $0.clientIDs($0.uids) })
                let encoder = JSONEncoder()
                try await database.planJob(
                    key: key,
                    chunks: try chunks.map { (String(decoding: try encoder.encode($0), as: UTF8.self), $0.uids.count) },
                    failed: plan.distinctIDs.filter { !planned.contains($0) })
            }
            let decoder = JSONDecoder()
            for stored in try await database.jobChunks(key: key) where stored.state != "done" {
                let chunk = try decoder.decode(BatchChunk.self, from: Data(stored.chunk.utf8))
                let resuming = stored.state == "started"
                var destinationUIDNext = stored.destinationUIDNext
                if !resuming {
                    if case .transfer(_, _, let mailbox, _) = chunk.action {
                        destinationUIDNext = try await connection.status(MailboxName(wire: mailbox), [.uidNext]).uidNext
                    }
                    try await database.startJobChunk(key: key, seq: stored.seq, destinationUIDNext: destinationUIDNext)
                }
                let result = try await work.execute(chunk, resuming: resuming, destinationUIDNext: destinationUIDNext)
                let failed = chunk.clientIDs(chunk.uidSet.subtracting(result.confirmed).values)
                try await database.finishJobChunk(key: key, seq: stored.seq, itemCount: chunk.uids.count, failed: failed)
            }
            try await database.completeJob(key: key)
        }
    }

    /// Finishes a job that cannot go on: every item not yet done is reported failed.
    static func failRemaining(key: String, database: GatewayDatabase) async throws {
        guard let job = try await database.jobAnyAccount(key: key) else { return }
        var failed = job.pendingItems
        for stored in try await database.jobChunks(key: key) where stored.state != "done" {
            if let chunk = try? JSONDecoder().decode(BatchChunk.self, from: Data(stored.chunk.utf8)) {
                failed += chunk.clientIDs(chunk.uids)
            }
        }
        try await database.completeJob(key: key, failed: failed)
    }
}
