import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// The per-account pool against the real Dovecot test bed (as bob, so other suites are unaffected).
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct IMAPConnectionPoolTests {
    private func pool(_ bed: TestBed, perAccount: Int = 4, leaseTimeout: Duration = .seconds(10)) throws -> IMAPConnectionPool {
        IMAPConnectionPool(
            server: try bed.server(),
            configuration: .init(maxConnectionsPerAccount: perAccount, maxConnectionsTotal: 8, leaseTimeout: leaseTimeout),
            logger: TestBed.logger)
    }

    @Test func reusesLoggedInConnectionsAndRemembersTheSelectedMailbox() async throws {
        let bed = try TestBed.require()
        let pool = try pool(bed)
        let first = try await pool.withConnection(bed.bob) { connection in
            try await connection.select(.inbox)
            return ObjectIdentifier(connection)
        }
        let (second, skipped) = try await pool.withConnection(bed.bob) { connection in
            let sent = connection.commandsSent
            try await connection.select(.inbox)
            return (ObjectIdentifier(connection), connection.commandsSent == sent)
        }
        #expect(first == second)
        #expect(skipped, "the pooled connection still has INBOX selected")
        let stats = await pool.stats
        #expect(stats.created == 1)
        #expect(stats.reused == 1)
        await pool.shutdown()
    }

    @Test func boundsConnectionsPerAccount() async throws {
        let bed = try TestBed.require()
        // What is checked is the peak of 2; the lease timeout only has to outlast a loaded CI machine
        // (a clean-clone run once waited more than 10 s while every suite started at once).
        let pool = try pool(bed, perAccount: 2, leaseTimeout: .seconds(120))
        let gauge = Gauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<5 {
                group.addTask {
                    try await pool.withConnection(bed.bob) { connection in
                        await gauge.enter()
                        try await connection.noop()
                        try await Task.sleep(for: .milliseconds(200))
                        await gauge.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await gauge.peak == 2)
        #expect(await pool.stats.created == 2)
        await pool.shutdown()
    }

    @Test func waitingForAFreeConnectionTimesOut() async throws {
        let bed = try TestBed.require()
        let pool = try pool(bed, perAccount: 1, leaseTimeout: .milliseconds(300))
        let held = try await pool.lease(bed.bob)
        await #expect(throws: IMAPError.timeout(command: "waiting for a free IMAP connection")) {
            _ = try await pool.lease(bed.bob)
        }
        await pool.release(held, credentials: bed.bob)
        await pool.shutdown()
    }

    @Test func brokenConnectionIsReplaced() async throws {
        let bed = try TestBed.require()
        let pool = try pool(bed)
        try await pool.withConnection(bed.bob) { connection in connection.close() }
        let usable = try await pool.withConnection(bed.bob) { connection in
            try await connection.noop()
            return connection.isUsable
        }
        #expect(usable)
        let stats = await pool.stats
        #expect(stats.created == 2)
        #expect(stats.discarded == 1)
        await pool.shutdown()
    }

    /// A pooled connection is only handed to a caller presenting the same credentials.
    @Test func wrongPasswordNeverGetsAPooledConnection() async throws {
        let bed = try TestBed.require()
        let pool = try pool(bed)
        try await pool.withConnection(bed.bob) { try await $0.noop() }
        await #expect {
            try await pool.withConnection(IMAPCredentials(user: bed.bob.user, password: "guess")) { try await $0.noop() }
        } throws: { error in
            guard case IMAPError.authenticationFailed = error else { return false }
            return true
        }
        let stats = await pool.stats
        #expect(stats.open == 1)
        #expect(stats.reused == 0)
        await pool.shutdown()
    }
}

/// Tracks how many bodies run at once.
actor Gauge {
    private(set) var current = 0
    private(set) var peak = 0

    func enter() {
        current += 1
        peak = max(peak, current)
    }

    func leave() { current -= 1 }
}
