import IMAPClient
import IMAPCore
import Synchronization
import TestBedSupport
import Testing

/// The per-account pool against the real Dovecot test bed (as bob, so other suites are unaffected).
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct IMAPConnectionPoolTests {
    private func pool(
        _ bed: TestBed, perAccount: Int = 4, leaseTimeout: Duration = .seconds(10), clock: PoolClock = .continuous
    ) throws -> IMAPConnectionPool {
        IMAPConnectionPool(
            server: try bed.server(),
            configuration: .init(maxConnectionsPerAccount: perAccount, maxConnectionsTotal: 8, leaseTimeout: leaseTimeout),
            clock: clock, logger: TestBed.logger)
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
        // What is checked is the peak of 2. The pool's clock stands still, so however loaded the
        // machine, no waiting lease can time out (the default 10 s lease timeout stays). Each body
        // holds its connection until two bodies have run at once (a barrier, not a fixed sleep: under
        // load the second LOGIN once ended after a 200 ms hold of the first, and the peak was 1),
        // then 50 ms more, in which a pool ignoring its bound would let a third in.
        let pool = try pool(bed, perAccount: 2, clock: ManualPoolClock().clock)
        let gauge = Gauge()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<5 {
                group.addTask {
                    try await pool.withConnection(bed.bob) { connection in
                        await gauge.enter()
                        try await connection.noop()
                        try await gauge.waitForPeak(2, atMost: .seconds(30))
                        try await Task.sleep(for: .milliseconds(50))
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
        let manual = ManualPoolClock()
        let pool = try pool(bed, perAccount: 1, leaseTimeout: .seconds(30), clock: manual.clock)
        let held = try await pool.lease(bed.bob)
        let waiting = Task { try await pool.lease(bed.bob) }
        // The second lease waits as long as the pool's time stands still, and fails once 30 s pass.
        try await manual.waitForSleepers(1)
        manual.advance(by: .seconds(29))
        #expect(manual.sleepers == 1, "29 s: still waiting")
        manual.advance(by: .seconds(2))
        await #expect(throws: IMAPError.timeout(command: "waiting for a free IMAP connection")) {
            _ = try await waiting.value
        }
        await pool.release(held, credentials: bed.bob)
        await pool.shutdown()
    }

    /// Waiters share one timer: every release wakes every waiter and those still blocked wait
    /// again, so a timer per wait meant thousands a second under load (each kept by Dispatch until
    /// its deadline, even when cancelled). Each still times out at its own deadline.
    @Test func waitersShareOneTimerAndEachExpiresAtItsDeadline() async throws {
        let bed = try TestBed.require()
        let manual = ManualPoolClock()
        let pool = try pool(bed, perAccount: 1, leaseTimeout: .seconds(30), clock: manual.clock)
        let held = try await pool.lease(bed.bob)
        let first = Task { try await pool.lease(bed.bob) }
        try await manual.waitForSleepers(1)
        manual.advance(by: .seconds(10))
        let second = (0..<4).map { _ in Task { try await pool.lease(bed.bob) } }
        // Five waiting, woken again by a LOGIN-less release of another account's connection.
        let carol = IMAPCredentials(user: bed.users[2].name, password: bed.users[2].password)
        let other = try await pool.lease(carol)
        await pool.release(other, credentials: carol)
        try await Task.sleep(for: .milliseconds(200))
        #expect(manual.sleepers == 1, "one timer for five waiters")
        // The first waiter's 30 s end at 30 s, the others' at 40 s.
        manual.advance(by: .seconds(21))
        await #expect(throws: IMAPError.timeout(command: "waiting for a free IMAP connection")) {
            _ = try await first.value
        }
        try await manual.waitForSleepers(1)
        manual.advance(by: .seconds(8))
        #expect(manual.sleepers == 1, "39 s: the other four still wait")
        manual.advance(by: .seconds(2))
        for task in second {
            await #expect(throws: IMAPError.timeout(command: "waiting for a free IMAP connection")) {
                _ = try await task.value
            }
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

    /// Returns once `peak` has reached `target`, or after `limit` (the caller's expectations on
    /// `peak` then tell).
    func waitForPeak(_ target: Int, atMost limit: Duration) async throws {
        let deadline = ContinuousClock.now + limit
        while peak < target && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// A ``PoolClock`` the test moves by hand: time stands still until ``advance(by:)``, and sleepers
/// wake only when it passes their deadline.
final class ManualPoolClock: Sendable {
    private struct State {
        var offset = Duration.zero
        var sleepers: [Int: (deadline: ContinuousClock.Instant, continuation: CheckedContinuation<Void, any Error>)] = [:]
        var nextID = 0
    }

    private let start = ContinuousClock.now
    private let state = Mutex(State())

    var now: ContinuousClock.Instant { start + state.withLock { $0.offset } }

    /// Tasks waiting for a deadline now.
    var sleepers: Int { state.withLock { $0.sleepers.count } }

    var clock: PoolClock {
        PoolClock(now: { [self] in now }, sleep: { [self] deadline in try await sleep(until: deadline) })
    }

    func advance(by duration: Duration) {
        let due = state.withLock { state in
            state.offset += duration
            let now = start + state.offset
            let ids = state.sleepers.filter { $0.value.deadline <= now }.map(\.key)
            return ids.compactMap { state.sleepers.removeValue(forKey: $0)?.continuation }
        }
        for continuation in due { continuation.resume() }
    }

    /// Waits (in real time, briefly) until `count` tasks sleep on this clock.
    func waitForSleepers(_ count: Int) async throws {
        var tries = 0
        while sleepers < count, tries < 1000 {
            tries += 1
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(sleepers >= count, "the pool waits on its clock")
    }

    private func sleep(until deadline: ContinuousClock.Instant) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled || deadline <= start + state.offset { return true }
                    state.sleepers[id] = (deadline, continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.sleepers.removeValue(forKey: id) }?.continuation.resume(throwing: CancellationError())
        }
        try Task.checkCancellation()
    }
}
