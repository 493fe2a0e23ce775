@testable import GatewayHTTP
import IMAPClient
import Testing

/// Sessions are bounded: an idle time, an absolute lifetime however busy, a cap per account, and
/// an end when the server refuses their password (issue 13, finding 10). Pure: no Dovecot.
struct SessionStoreTests {
    let alice = IMAPCredentials(user: "alice", password: "one")
    let bob = IMAPCredentials(user: "bob", password: "two")

    @Test func aBusySessionStillEndsAtItsLifetime() async throws {
        let store = SessionStore(limits: .init(idleTimeout: .seconds(60), lifetime: .milliseconds(300), maxPerAccount: 5))
        let id = await store.create(for: alice)
        for _ in 0..<3 {
            #expect(await store.credentials(for: id) == alice)
            try await Task.sleep(for: .milliseconds(50))
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(await store.credentials(for: id) == nil)
    }

    @Test func anIdleSessionEnds() async throws {
        let store = SessionStore(limits: .init(idleTimeout: .milliseconds(100), lifetime: .seconds(60), maxPerAccount: 5))
        let id = await store.create(for: alice)
        try await Task.sleep(for: .milliseconds(200))
        #expect(await store.credentials(for: id) == nil)
    }

    @Test func anAccountHoldsAtMostItsCapAndTheLeastRecentlyUsedGoes() async throws {
        let store = SessionStore(limits: .init(idleTimeout: .seconds(60), lifetime: .seconds(60), maxPerAccount: 2))
        let first = await store.create(for: alice)
        try await Task.sleep(for: .milliseconds(5))
        let second = await store.create(for: alice)
        try await Task.sleep(for: .milliseconds(5))
        let other = await store.create(for: bob)
        let third = await store.create(for: alice)
        #expect(await store.credentials(for: first) == nil)
        #expect(await store.credentials(for: second) == alice)
        #expect(await store.credentials(for: third) == alice)
        #expect(await store.credentials(for: other) == bob, "other accounts' sessions are not counted")
        #expect(await store.count == 3)
    }

    @Test func refusedCredentialsEndTheirSessions() async throws {
        let store = SessionStore(limits: .init(idleTimeout: .seconds(60), lifetime: .seconds(60), maxPerAccount: 5))
        let old = await store.create(for: alice)
        let renewed = await store.create(for: IMAPCredentials(user: "alice", password: "new"))
        await store.removeAll(with: alice)
        #expect(await store.credentials(for: old) == nil)
        #expect(await store.credentials(for: renewed) != nil)
    }
}
