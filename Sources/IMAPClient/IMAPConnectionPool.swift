import DequeModule
import IMAPCore
import Logging
import NIOCore
import NIOPosix

/// Logged-in connections, kept per account and reused across requests (no LOGIN per request).
///
/// Bounded per account and overall; a caller over the bound waits (up to `leaseTimeout`). A
/// connection that broke is dropped and replaced on the next lease; one idle for longer than
/// `healthCheckAfter` is checked with NOOP before reuse. Idle connections are keyed by the full
/// credentials, so a caller only ever gets a connection logged in with exactly the credentials it
/// presented. Connections keep their selected mailbox, so a repeated SELECT is skipped.
public actor IMAPConnectionPool {
    /// Limits and timings of the pool.
    public struct Configuration: Sendable {
        public var maxConnectionsPerAccount: Int
        public var maxConnectionsTotal: Int
        public var leaseTimeout: Duration
        public var healthCheckAfter: Duration
        public var maxIdleTime: Duration

        public init(
            maxConnectionsPerAccount: Int = 4, maxConnectionsTotal: Int = 64, leaseTimeout: Duration = .seconds(30),
            healthCheckAfter: Duration = .seconds(30), maxIdleTime: Duration = .seconds(300)
        ) {
            self.maxConnectionsPerAccount = maxConnectionsPerAccount
            self.maxConnectionsTotal = maxConnectionsTotal
            self.leaseTimeout = leaseTimeout
            self.healthCheckAfter = healthCheckAfter
            self.maxIdleTime = maxIdleTime
        }
    }

    /// Counters for metrics and tests.
    public struct Statistics: Sendable, Hashable {
        public var open = 0
        public var idle = 0
        public var created = 0
        public var reused = 0
        public var discarded = 0
    }

    private struct IdleConnection {
        var connection: IMAPConnection
        var since: ContinuousClock.Instant
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let server: IMAPServerConfiguration
    private let configuration: Configuration
    private let eventLoopGroup: any EventLoopGroup
    private let logger: Logger
    private var idle: [IMAPCredentials: [IdleConnection]] = [:]
    private var openPerAccount: [String: Int] = [:]
    private var statistics = Statistics()
    private var waiters: Deque<Waiter> = []
    private var nextWaiterID = 0
    private var shutDown = false

    public init(
        server: IMAPServerConfiguration, configuration: Configuration = Configuration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) {
        self.server = server
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    public var stats: Statistics {
        var s = statistics
        s.idle = idle.values.reduce(0) { $0 + $1.count }
        return s
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
        let deadline = ContinuousClock.now + configuration.leaseTimeout
        while true {
            guard !shutDown else { throw IMAPError.connectionClosed(reason: "the connection pool is shut down") }
            if let connection = await takeIdle(credentials) {
                statistics.reused += 1
                return connection
            }
            let account = credentials.user
            if openPerAccount[account, default: 0] < configuration.maxConnectionsPerAccount {
                if statistics.open >= configuration.maxConnectionsTotal { evictOneIdle() }
                if statistics.open < configuration.maxConnectionsTotal {
                    return try await open(credentials)
                }
            }
            try await waitForRelease(until: deadline)
        }
    }

    /// Gives a leased connection back; broken ones are closed and their slot freed.
    public func release(_ connection: IMAPConnection, credentials: IMAPCredentials) {
        if connection.isUsable && !shutDown {
            idle[credentials, default: []].append(IdleConnection(connection: connection, since: .now))
        } else {
            discard(connection, account: credentials.user)
        }
        wakeWaiters()
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
    }

    private func takeIdle(_ credentials: IMAPCredentials) async -> IMAPConnection? {
        while var list = idle[credentials], let entry = list.popLast() {
            idle[credentials] = list.isEmpty ? nil : list
            let idleFor = ContinuousClock.now - entry.since
            guard entry.connection.isUsable, idleFor < configuration.maxIdleTime else {
                await entry.connection.logout()
                discard(entry.connection, account: credentials.user)
                continue
            }
            if idleFor >= configuration.healthCheckAfter {
                do {
                    try await entry.connection.noop()
                } catch {
                    logger.info("idle IMAP connection failed its check; replacing it", metadata: ["error": "\(error)"])
                    discard(entry.connection, account: credentials.user)
                    continue
                }
            }
            return entry.connection
        }
        return nil
    }

    private func open(_ credentials: IMAPCredentials) async throws -> IMAPConnection {
        // Reserve the slot before suspending, so concurrent leases respect the bounds.
        statistics.open += 1
        openPerAccount[credentials.user, default: 0] += 1
        do {
            let connection = try await IMAPConnection.connect(to: server, eventLoopGroup: eventLoopGroup, logger: logger)
            do {
                try await connection.login(credentials)
            } catch {
                connection.close()
                throw error
            }
            statistics.created += 1
            logger.debug("opened IMAP connection", metadata: ["account": "\(credentials)"])
            return connection
        } catch {
            statistics.open -= 1
            openPerAccount[credentials.user, default: 1] -= 1
            wakeWaiters()
            throw error
        }
    }

    private func discard(_ connection: IMAPConnection, account: String) {
        connection.close()
        statistics.open -= 1
        statistics.discarded += 1
        let remaining = openPerAccount[account, default: 1] - 1
        openPerAccount[account] = remaining > 0 ? remaining : nil
    }

    /// Closes the longest-idle connection of any account to make room under the global bound.
    private func evictOneIdle() {
        var oldest: (IMAPCredentials, Int, ContinuousClock.Instant)?
        for (credentials, list) in idle {
            for (index, entry) in list.enumerated() where oldest == nil || entry.since < oldest!.2 {
                oldest = (credentials, index, entry.since)
            }
        }
        guard let (credentials, index, _) = oldest else { return }
        let entry = idle[credentials]!.remove(at: index)
        if idle[credentials]!.isEmpty { idle[credentials] = nil }
        discard(entry.connection, account: credentials.user)
    }

    private func waitForRelease(until deadline: ContinuousClock.Instant) async throws {
        guard ContinuousClock.now < deadline else {
            throw IMAPError.timeout(command: "waiting for a free IMAP connection")
        }
        nextWaiterID += 1
        let id = nextWaiterID
        let timeout = Task { [weak self] in
            try await Task.sleep(until: deadline, clock: .continuous)
            await self?.expireWaiter(id)
        }
        defer { timeout.cancel() }
        try await withCheckedThrowingContinuation { continuation in
            waiters.append(Waiter(id: id, continuation: continuation))
        }
    }

    private func expireWaiter(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: IMAPError.timeout(command: "waiting for a free IMAP connection"))
    }

    /// Lets every waiter try again (each re-checks the bounds; those still blocked wait again).
    private func wakeWaiters() {
        let woken = waiters
        waiters = []
        for waiter in woken { waiter.continuation.resume() }
    }
}
