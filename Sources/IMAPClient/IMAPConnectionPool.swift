import DequeModule
import IMAPCore
import Logging
import NIOCore
import NIOPosix

/// Logged-in connections, kept per account and reused across requests (no LOGIN per request).
///
/// Bounded per account and overall; a caller over the bound waits (up to `leaseTimeout`). A
/// connection that broke is dropped and replaced on the next lease; one idle for longer than
/// `healthCheckAfter` is checked with NOOP before reuse. Connections keep their selected mailbox,
/// so a repeated SELECT is skipped.
///
/// Passwords are proven by the server, not by the pool's memory (SPEC §3): a caller gets a pooled
/// connection only for exactly the credentials it logged in with, and only while those credentials
/// were accepted by a LOGIN within `verifyInterval`; after that the next lease logs in afresh. A LOGIN
/// happens before the new connection takes a slot, so a wrong password never evicts anybody's warm
/// connection, and connections of an old password never lock a changed one out: once the new one
/// is accepted, the old ones' slots are taken over. Logins in flight are bounded on their own
/// (`maxConcurrentLogins`), apart from the connection slots.
public actor IMAPConnectionPool {
    /// Limits and timings of the pool.
    public struct Configuration: Sendable {
        public var maxConnectionsPerAccount: Int
        public var maxConnectionsTotal: Int
        public var leaseTimeout: Duration
        public var healthCheckAfter: Duration
        public var maxIdleTime: Duration
        /// How long a successful LOGIN vouches for its credentials (`auth.verifySeconds`).
        public var verifyInterval: Duration
        /// Most connects + LOGINs in flight at once, all accounts together.
        public var maxConcurrentLogins: Int

        public init(
            maxConnectionsPerAccount: Int = 4, maxConnectionsTotal: Int = 64, leaseTimeout: Duration = .seconds(30),
            healthCheckAfter: Duration = .seconds(30), maxIdleTime: Duration = .seconds(300), verifyInterval: Duration = .seconds(60),
            maxConcurrentLogins: Int = 16
        ) {
            self.maxConnectionsPerAccount = maxConnectionsPerAccount
            self.maxConnectionsTotal = maxConnectionsTotal
            self.leaseTimeout = leaseTimeout
            self.healthCheckAfter = healthCheckAfter
            self.maxIdleTime = maxIdleTime
            self.verifyInterval = verifyInterval
            self.maxConcurrentLogins = maxConcurrentLogins
        }
    }

    /// Counters for metrics and tests.
    public struct Statistics: Sendable, Hashable {
        public var open = 0
        public var idle = 0
        public var created = 0
        public var reused = 0
        public var discarded = 0
        /// LOGINs the server refused.
        public var failedLogins = 0
        /// Connects + LOGINs in flight now.
        public var loggingIn = 0
        /// Leases waiting for a free connection now.
        public var waiting = 0
        /// Connections leased out now (open and not idle).
        public var busy: Int { open - idle }
    }

    private struct IdleConnection {
        var connection: IMAPConnection
        var credentials: IMAPCredentials
        var since: ContinuousClock.Instant
    }

    private struct Waiter {
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let server: IMAPServerConfiguration
    private let configuration: Configuration
    private let eventLoopGroup: any EventLoopGroup
    private let metrics: IMAPMetrics
    private let logger: Logger
    /// Idle connections per account, oldest first.
    private var idle: [String: [IdleConnection]] = [:]
    private var openPerAccount: [String: Int] = [:]
    private var loggingInPerAccount: [String: Int] = [:]
    /// When the server last accepted each set of credentials.
    private var verifiedAt: [IMAPCredentials: ContinuousClock.Instant] = [:]
    private var statistics = Statistics()
    private var waiters: Deque<Waiter> = []
    /// The one task that fails waiters whose deadline passed, and the deadline it sleeps until.
    private var expiry: (task: Task<Void, Never>, until: ContinuousClock.Instant)?
    private var shutDown = false

    /// The pool's time: ``PoolClock/continuous`` in the server; tests pass a clock they move by hand.
    private let clock: PoolClock

    public init(
        server: IMAPServerConfiguration, configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, clock: PoolClock = .continuous,
        metrics: IMAPMetrics = .disabled, logger: Logger
    ) {
        self.server = server
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.clock = clock
        self.metrics = metrics
        self.logger = logger
    }

    public var stats: Statistics {
        var s = statistics
        s.idle = idle.values.reduce(0) { $0 + $1.count }
        s.loggingIn = loggingInPerAccount.values.reduce(0, +)
        s.waiting = waiters.count
        return s
    }

    /// Whether the server accepted exactly these credentials within `verifyInterval`, so a lease
    /// needs no LOGIN to prove them.
    public func isVerified(_ credentials: IMAPCredentials) -> Bool {
        guard let at = verifiedAt[credentials] else { return false }
        return clock.now() - at < configuration.verifyInterval
    }

    /// Runs `body` with a logged-in connection for `credentials`, then returns the connection to the pool
    /// (or drops it if it broke). Authentication failures are thrown as ``IMAPError/authenticationFailed(_:)``.
    nonisolated public func withConnection<R: Sendable>(
        _ credentials: IMAPCredentials, _ body: (IMAPConnection) async throws -> R
    ) async throws -> R {
        let connection = try await lease(credentials)
        do {
            let result = try await body(connection)
            await release(connection, credentials: credentials)
            return result
        } catch {
            await release(connection, credentials: credentials)
            throw error
        }
    }

    /// Takes a connection out of the pool (or opens one). Pair with ``release(_:credentials:)``.
    public func lease(_ credentials: IMAPCredentials) async throws -> IMAPConnection {
        let deadline = clock.now() + configuration.leaseTimeout
        while true {
            guard !shutDown else { throw IMAPError.connectionClosed(reason: "the connection pool is shut down") }
            if isVerified(credentials), let connection = await takeIdle(credentials) {
                statistics.reused += 1
                return connection
            }
            if mayStartLogin(credentials) {
                let connection = try await logIn(credentials)
                try await place(connection, credentials: credentials, until: deadline)
                return connection
            }
            try await waitForRelease(until: deadline)
        }
    }

    /// Gives a leased connection back; broken ones are closed and their slot freed.
    public func release(_ connection: IMAPConnection, credentials: IMAPCredentials) {
        if connection.isUsable && !shutDown {
            idle[credentials.user, default: []].append(IdleConnection(connection: connection, credentials: credentials, since: clock.now()))
        } else {
            discard(connection, account: credentials.user)
        }
        wakeWaiters()
    }

    /// Whether the server answers: connects (TLS as configured), reads its greeting, logs out.
    /// No account is involved and no pool slot is taken. Throws what connecting threw.
    nonisolated public func probe() async throws {
        let connection = try await IMAPConnection.connect(to: server, eventLoopGroup: eventLoopGroup, metrics: metrics, logger: logger)
        await connection.logout()
    }

    /// Logs out and closes every idle connection; later leases fail. Leased connections close on release.
    public func shutdown() async {
        shutDown = true
        let all = idle.values.flatMap { $0 }
        idle = [:]
        for entry in all {
            await entry.connection.logout()
            statistics.open -= 1
        }
        openPerAccount = [:]
        for waiter in waiters { waiter.continuation.resume(throwing: IMAPError.connectionClosed(reason: "shut down")) }
        waiters = []
        expiry?.task.cancel()
        expiry = nil
    }

    // MARK: Policy

    /// A LOGIN may start when the account has a free slot (counting logins in flight), or when it has
    /// an idle connection this caller cannot use (other credentials, or no longer vouched for) whose
    /// slot a successful LOGIN may take over; and always within `maxConcurrentLogins`.
    private func mayStartLogin(_ credentials: IMAPCredentials) -> Bool {
        guard stats.loggingIn < configuration.maxConcurrentLogins else { return false }
        let account = credentials.user
        let inFlight = loggingInPerAccount[account, default: 0]
        if openPerAccount[account, default: 0] + inFlight < configuration.maxConnectionsPerAccount { return true }
        let verified = isVerified(credentials)
        let replaceable = idle[account, default: []].filter { !verified || $0.credentials != credentials }.count
        return replaceable > inFlight
    }

    /// Gives a freshly logged-in connection a slot: a free one, else the longest-idle connection of
    /// another account (global bound) or of its own account (per-account bound) is closed. Only a
    /// connection whose LOGIN succeeded gets here, so failed logins never evict anybody.
    private func place(_ connection: IMAPConnection, credentials: IMAPCredentials, until deadline: ContinuousClock.Instant) async throws {
        let account = credentials.user
        while true {
            if openPerAccount[account, default: 0] < configuration.maxConnectionsPerAccount {
                if statistics.open >= configuration.maxConnectionsTotal { evictOldestIdle(preferring: nil, credentials: nil) }
                if statistics.open < configuration.maxConnectionsTotal { break }
            } else if evictOldestIdle(preferring: account, credentials: credentials) {
                continue
            }
            do {
                try await waitForRelease(until: deadline)
            } catch {
                await connection.logout()
                throw error
            }
            guard !shutDown else {
                await connection.logout()
                throw IMAPError.connectionClosed(reason: "the connection pool is shut down")
            }
        }
        statistics.open += 1
        openPerAccount[account, default: 0] += 1
    }

    private func takeIdle(_ credentials: IMAPCredentials) async -> IMAPConnection? {
        let account = credentials.user
        while let index = idle[account]?.lastIndex(where: { $0.credentials == credentials }) {
            let entry = idle[account]!.remove(at: index)
            if idle[account]!.isEmpty { idle[account] = nil }
            let idleFor = clock.now() - entry.since
            guard entry.connection.isUsable, idleFor < configuration.maxIdleTime else {
                await entry.connection.logout()
                discard(entry.connection, account: account)
                continue
            }
            if idleFor >= configuration.healthCheckAfter {
                do {
                    try await entry.connection.noop()
                } catch {
                    logger.info("idle IMAP connection failed its check; replacing it", metadata: ["error": "\(error)"])
                    discard(entry.connection, account: account)
                    continue
                }
            }
            return entry.connection
        }
        return nil
    }

    /// Connects and logs in, outside the connection slots. A refused LOGIN forgets every idle
    /// connection of those credentials (the password changed) and is thrown.
    private func logIn(_ credentials: IMAPCredentials) async throws -> IMAPConnection {
        let account = credentials.user
        loggingInPerAccount[account, default: 0] += 1
        defer {
            let left = loggingInPerAccount[account, default: 1] - 1
            loggingInPerAccount[account] = left > 0 ? left : nil
            wakeWaiters()
        }
        let connection = try await IMAPConnection.connect(to: server, eventLoopGroup: eventLoopGroup, metrics: metrics, logger: logger)
        do {
            try await connection.login(credentials)
        } catch {
            connection.close()
            if case IMAPError.authenticationFailed = error {
                statistics.failedLogins += 1
                forget(credentials)
            }
            throw error
        }
        statistics.created += 1
        verifiedAt[credentials] = clock.now()
        logger.debug("opened IMAP connection", metadata: ["account": "\(credentials)"])
        return connection
    }

    /// The server refused these credentials: their idle connections vouch for nothing any more.
    private func forget(_ credentials: IMAPCredentials) {
        verifiedAt[credentials] = nil
        guard let list = idle[credentials.user] else { return }
        let (stale, kept) = (list.filter { $0.credentials == credentials }, list.filter { $0.credentials != credentials })
        idle[credentials.user] = kept.isEmpty ? nil : kept
        for entry in stale { discard(entry.connection, account: credentials.user) }
    }

    private func discard(_ connection: IMAPConnection, account: String) {
        connection.close()
        statistics.open -= 1
        statistics.discarded += 1
        let remaining = openPerAccount[account, default: 1] - 1
        openPerAccount[account] = remaining > 0 ? remaining : nil
    }

    /// Closes one idle connection to make room: of `account` when given (preferring those that
    /// `credentials` cannot use), else the longest-idle of any account. Returns whether one was closed.
    @discardableResult
    private func evictOldestIdle(preferring account: String?, credentials: IMAPCredentials?) -> Bool {
        var victim: (account: String, index: Int, since: ContinuousClock.Instant, usable: Bool)?
        for (owner, list) in idle where account == nil || owner == account {
            for (index, entry) in list.enumerated() {
                let usable = credentials.map { entry.credentials == $0 } ?? false
                let better: Bool
                if let current = victim {
                    better = (usable == current.usable) ? entry.since < current.since : !usable
                } else {
                    better = true
                }
                if better { victim = (owner, index, entry.since, usable) }
            }
        }
        guard let victim else { return false }
        let entry = idle[victim.account]!.remove(at: victim.index)
        if idle[victim.account]!.isEmpty { idle[victim.account] = nil }
        discard(entry.connection, account: victim.account)
        return true
    }

    private func waitForRelease(until deadline: ContinuousClock.Instant) async throws {
        guard clock.now() < deadline else {
            throw IMAPError.timeout(command: "waiting for a free IMAP connection")
        }
        try await withCheckedThrowingContinuation { continuation in
            waiters.append(Waiter(deadline: deadline, continuation: continuation))
            scheduleExpiry(deadline)
        }
    }

    /// Deadlines are kept by one task for all waiters, not a timer per wait: every release wakes
    /// every waiter, and those still blocked wait again. With a timer per wait, 32 clients of one
    /// account on its 4 connections started thousands a second, and a cancelled `Task.sleep` keeps
    /// its Dispatch timer until the deadline: 436 MB of them after 10 s (heaptrack, clients-32x1).
    private func scheduleExpiry(_ deadline: ContinuousClock.Instant) {
        if let expiry, expiry.until <= deadline { return }
        expiry?.task.cancel()
        expiry = (Task { [weak self, clock] in
            do {
                try await clock.sleep(deadline)
            } catch {
                return  // cancelled: a waiter with a sooner deadline has a task of its own
            }
            await self?.expireWaiters()
        }, deadline)
    }

    /// Fails the waiters whose deadline passed, then sleeps until the next deadline, if any.
    private func expireWaiters() {
        expiry = nil
        let now = clock.now()
        var kept: Deque<Waiter> = []
        var expired: [Waiter] = []
        for waiter in waiters {
            if waiter.deadline <= now { expired.append(waiter) } else { kept.append(waiter) }
        }
        waiters = kept
        for waiter in expired {
            waiter.continuation.resume(throwing: IMAPError.timeout(command: "waiting for a free IMAP connection"))
        }
        if let next = waiters.map(\.deadline).min() { scheduleExpiry(next) }
    }

    /// Lets every waiter try again (each re-checks the bounds; those still blocked wait again).
    private func wakeWaiters() {
        let woken = waiters
        waiters = []
        for waiter in woken { waiter.continuation.resume() }
    }
}

/// The time an ``IMAPConnectionPool`` goes by: when it is now (verify interval, idle time, lease
/// deadlines), and how to wait for a deadline. Injected so that tests decide when time passes
/// instead of depending on how loaded the machine is.
public struct PoolClock: Sendable {
    public var now: @Sendable () -> ContinuousClock.Instant
    /// Returns at `deadline` (or throws `CancellationError` when the waiting task is cancelled).
    public var sleep: @Sendable (_ deadline: ContinuousClock.Instant) async throws -> Void

    public init(
        now: @escaping @Sendable () -> ContinuousClock.Instant,
        sleep: @escaping @Sendable (_ deadline: ContinuousClock.Instant) async throws -> Void
    ) {
        self.now = now
        self.sleep = sleep
    }

    /// The real, continuous clock.
    public static let continuous = PoolClock(now: { .now }, sleep: { try await Task.sleep(until: $0, clock: .continuous) })
}
