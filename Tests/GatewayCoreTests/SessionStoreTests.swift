@testable import GatewayCore
import Synchronization
import Testing

/// A clock the test moves by hand, so no assertion depends on how loaded the machine is.
final class ManualClock: Sendable {
    private let start = ContinuousClock.now
    private let offset = Mutex(Duration.zero)

    var now: @Sendable () -> ContinuousClock.Instant { { [self] in start + offset.withLock { $0 } } }

    func advance(_ duration: Duration) { offset.withLock { $0 += duration } }
}

/// Sessions are bounded: an idle time, an absolute lifetime however busy, a cap per account, and
/// an end when the server refuses their password (issue 13, finding 10). Pure: no Dovecot.
struct SessionStoreTests {
    let alice = AccountCredentials(user: "alice", password: "one")
    let bob = AccountCredentials(user: "bob", password: "two")

    @Test func aBusySessionStillEndsAtItsLifetime() async throws {
        let clock = ManualClock()
        let store = InMemorySessionStore(limits: .init(idleTimeout: .seconds(60), lifetime: .seconds(300), maxPerAccount: 5), now: clock.now)
        let id = await store.create(for: alice)
        for _ in 0..<9 {
            #expect(await store.credentials(for: id) == alice)
            clock.advance(.seconds(30))
        }
        clock.advance(.seconds(30))
        #expect(await store.credentials(for: id) == nil)
    }

    @Test func anIdleSessionEnds() async throws {
        let clock = ManualClock()
        let store = InMemorySessionStore(limits: .init(idleTimeout: .seconds(100), lifetime: .seconds(600), maxPerAccount: 5), now: clock.now)
        let id = await store.create(for: alice)
        clock.advance(.seconds(99))
        #expect(await store.credentials(for: id) == alice)
        clock.advance(.seconds(101))
        #expect(await store.credentials(for: id) == nil)
    }

    @Test func anAccountHoldsAtMostItsCapAndTheLeastRecentlyUsedGoes() async throws {
        let clock = ManualClock()
        let store = InMemorySessionStore(limits: .init(idleTimeout: .seconds(60), lifetime: .seconds(60), maxPerAccount: 2), now: clock.now)
        let first = await store.create(for: alice)
        clock.advance(.seconds(1))
        let second = await store.create(for: alice)
        clock.advance(.seconds(1))
        let other = await store.create(for: bob)
        let third = await store.create(for: alice)
        #expect(await store.credentials(for: first) == nil)
        #expect(await store.credentials(for: second) == alice)
        #expect(await store.credentials(for: third) == alice)
        #expect(await store.credentials(for: other) == bob, "other accounts' sessions are not counted")
        #expect(await store.count == 3)
    }

    @Test func refusedCredentialsEndTheirSessions() async throws {
        let store = InMemorySessionStore(limits: .init(idleTimeout: .seconds(60), lifetime: .seconds(60), maxPerAccount: 5))
        let old = await store.create(for: alice)
        let renewed = await store.create(for: AccountCredentials(user: "alice", password: "new"))
        await store.removeAll(with: alice)
        #expect(await store.credentials(for: old) == nil)
        #expect(await store.credentials(for: renewed) != nil)
    }
}
