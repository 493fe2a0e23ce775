import Foundation
import GatewayCore
import GatewayStorePostgres
import PostgresNIO
import Testing

/// Sessions every replica shares: two `PostgresSessionStore`s on two clients are two replicas.
@Suite(
    "PostgreSQL sessions",
    .enabled(if: PostgresTestDatabase.isEnabled, "needs POSTGRES_TEST_URL (integration/postgres-start.sh)"))
struct PostgresSessionStoreTests {
    private static let roomy = InMemorySessionStore.Limits(idleTimeout: .seconds(600), lifetime: .seconds(3_600), maxPerAccount: 10)

    /// Runs `body` with two session stores, each on a client of its own, over one migrated database.
    private func withReplicas(
        _ limits: InMemorySessionStore.Limits,
        _ body: (PostgresSessionStore, PostgresSessionStore, PostgresClient) async throws -> Void
    ) async throws {
        try await withClients { first, second in
            try await body(store(first, limits), store(second, limits), first)
        }
    }

    /// Runs `body` with two clients (two replicas) over one migrated database.
    private func withClients(_ body: (PostgresClient, PostgresClient) async throws -> Void) async throws {
        try await PostgresTestDatabase.withFreshDatabase { configuration in
            try await PostgresTestDatabase.withRunningClient(configuration) { first in
                try await PostgresStore(client: first, logger: PostgresTestDatabase.logger).migrate()
                try await PostgresTestDatabase.withRunningClient(configuration) { second in
                    try await body(first, second)
                }
            }
        }
    }

    private func store(_ client: PostgresClient, _ limits: InMemorySessionStore.Limits) -> PostgresSessionStore {
        PostgresSessionStore(client: client, limits: limits, logger: PostgresTestDatabase.logger)
    }

    /// Runs a timed scenario with its durations scaled ×1, ×2, ×4 until one run was conclusive.
    ///
    /// The store dates sessions by the server's clock. That a session is *still* alive can only be
    /// asserted when the client saw less than the limit pass around both statements (a loaded
    /// machine may take longer than planned); that it has *expired* always can, as sleeps only
    /// ever last longer. A run returns whether every "still alive" step was conclusive.
    private func withConclusiveTiming(_ run: (_ scale: Int) async throws -> Bool) async throws {
        for scale in [1, 2, 4] {
            if try await run(scale) { return }
        }
        Issue.record("the machine was too slow to time this scenario at any scale")
    }

    private func rowCount(_ client: PostgresClient) async throws -> Int {
        var count = -1
        for try await n in try await client.query("SELECT count(*) FROM login_session").decode(Int.self) { count = n }
        return count
    }

    @Test("a session opened through one replica is accepted by another, and removed for both")
    func sharedAcrossReplicas() async throws {
        try await withReplicas(Self.roomy) { one, two, _ in
            let alice = AccountCredentials(user: "alice", password: "alice-secret")
            let master = AccountCredentials(user: "bob", masterUser: "gateway-master", masterPassword: "master-secret")
            let aliceID = try await one.create(for: alice)
            let bobID = try await two.create(for: master)
            #expect(aliceID.utf8.count == 43)
            #expect(aliceID != bobID)

            #expect(try await two.credentials(for: aliceID) == alice)
            #expect(try await one.credentials(for: aliceID) == alice)
            #expect(try await one.credentials(for: bobID) == master, "a master login round-trips")
            #expect(try await one.credentials(for: RandomToken.make()) == nil, "an unknown ID opens nothing")

            try await two.remove(aliceID)
            #expect(try await one.credentials(for: aliceID) == nil)
            #expect(try await two.credentials(for: aliceID) == nil)
            #expect(try await one.credentials(for: bobID) == master, "other sessions stay")
        }
    }

    @Test("a session ends after its idle time; each use restarts the idle time")
    func idleExpiry() async throws {
        let clock = ContinuousClock()
        try await withClients { first, second in
            try await withConclusiveTiming { scale in
                let idle = Duration.seconds(1) * scale
                let limits = InMemorySessionStore.Limits(idleTimeout: idle, lifetime: .seconds(3_600), maxPerAccount: 10)
                let (one, two) = (store(first, limits), store(second, limits))
                let alice = AccountCredentials(user: "alice", password: "alice-secret")
                let beforeCreate = clock.now
                let id = try await one.create(for: alice)
                let afterCreate = clock.now
                try await Task.sleep(for: idle * 0.6)
                let beforeFirstUse = clock.now
                let firstUse = try await two.credentials(for: id)
                guard clock.now - beforeCreate < idle else { return false }
                #expect(firstUse == alice)
                try await Task.sleep(until: afterCreate + idle * 1.2)
                let secondUse = try await one.credentials(for: id)
                guard clock.now - beforeFirstUse < idle else { return false }
                #expect(secondUse == alice, "longer than the idle time after login, but less after its last use")
                try await Task.sleep(for: idle * 1.1)
                #expect(try await two.credentials(for: id) == nil, "idle for longer than the timeout")
                #expect(try await one.credentials(for: id) == nil)
                return true
            }
        }
    }

    @Test("a session ends after its lifetime however busy it is")
    func lifetime() async throws {
        let clock = ContinuousClock()
        try await withClients { first, second in
            try await withConclusiveTiming { scale in
                let lifetime = Duration.seconds(1) * scale
                let limits = InMemorySessionStore.Limits(idleTimeout: .seconds(600), lifetime: lifetime, maxPerAccount: 10)
                let (one, two) = (store(first, limits), store(second, limits))
                let alice = AccountCredentials(user: "alice", password: "alice-secret")
                let beforeCreate = clock.now
                let id = try await one.create(for: alice)
                let afterCreate = clock.now
                for _ in 0..<3 {
                    try await Task.sleep(for: lifetime * 0.2)
                    let use = try await two.credentials(for: id)
                    guard clock.now - beforeCreate < lifetime else { return false }
                    #expect(use == alice)
                }
                try await Task.sleep(until: afterCreate + lifetime * 1.1)
                #expect(try await two.credentials(for: id) == nil, "used all the time, but older than the lifetime")
                return true
            }
        }
    }

    @Test("at most maxPerAccount sessions per account: the least recently used goes")
    func perAccountLimit() async throws {
        let limits = InMemorySessionStore.Limits(idleTimeout: .seconds(600), lifetime: .seconds(3_600), maxPerAccount: 2)
        try await withReplicas(limits) { one, two, client in
            let alice = AccountCredentials(user: "alice", password: "alice-secret")
            let bob = AccountCredentials(user: "bob", password: "bob-secret")
            let first = try await one.create(for: alice)
            let second = try await two.create(for: alice)
            let bobs = try await one.create(for: bob)
            let bobsSecond = try await one.create(for: bob)
            #expect(try await two.credentials(for: first) == alice, "now the second is the least recently used")

            let third = try await two.create(for: alice)
            #expect(try await one.credentials(for: second) == nil)
            #expect(try await one.credentials(for: first) == alice)
            #expect(try await one.credentials(for: third) == alice)
            #expect(try await one.credentials(for: bobs) == bob, "another account's sessions do not count")
            #expect(try await one.credentials(for: bobsSecond) == bob)
            #expect(try await rowCount(client) == 4)
        }
    }

    @Test("expired sessions are purged from the table when sessions are created")
    func purge() async throws {
        let clock = ContinuousClock()
        try await withClients { first, second in
            try await withConclusiveTiming { scale in
                try await first.query("DELETE FROM login_session")
                let idle = Duration.seconds(1) * scale
                let limits = InMemorySessionStore.Limits(idleTimeout: idle, lifetime: .seconds(3_600), maxPerAccount: 10)
                let (one, two) = (store(first, limits), store(second, limits))
                let beforeFirst = clock.now
                _ = try await one.create(for: AccountCredentials(user: "alice", password: "a"))
                _ = try await two.create(for: AccountCredentials(user: "bob", password: "b"))
                let afterSecond = clock.now
                guard afterSecond - beforeFirst < idle else { return false }
                #expect(try await rowCount(first) == 2, "the first session was still alive when the second was created")
                try await Task.sleep(until: afterSecond + idle * 1.2)
                // The new session must still be alive when it is read: on a loaded machine (a
                // clean-clone CI run, 1 Dec 2026) that took longer than `idle`, so the read is
                // only conclusive within it.
                let beforeFresh = clock.now
                let fresh = try await two.create(for: AccountCredentials(user: "carol", password: "c"))
                let rows = try await rowCount(first)
                let read = try await one.credentials(for: fresh)?.user
                guard clock.now - beforeFresh < idle else { return false }
                #expect(rows == 1, "both expired rows are gone")
                #expect(read == "carol")
                return true
            }
        }
    }

    @Test("the table holds neither the session ID nor the password")
    func nothingInTheClear() async throws {
        try await withReplicas(Self.roomy) { one, _, client in
            let password = "pw-\(RandomToken.alphanumeric(length: 24))"
            let credentials = AccountCredentials(user: "alice", password: password)
            let id = try await one.create(for: credentials)

            // Every column of every row, as PostgreSQL renders it (bytea as hex).
            var rendered: [String] = []
            for try await text in try await client.query("SELECT row_to_json(s)::text FROM login_session s").decode(String.self) {
                rendered.append(text)
            }
            #expect(rendered.count == 1)
            let row = try #require(rendered.first)
            let hex = { (text: String) in text.utf8.map { String(format: "%02x", $0) }.joined() }
            #expect(row.contains("alice"), "the rendering is of the row (the account is kept in the clear)")
            for secret in [password, id] {
                #expect(!row.contains(secret))
                #expect(!row.lowercased().contains(hex(secret)))
            }

            // And the raw bytes of the sealed column.
            var stored: [(String, [UInt8])] = []
            for try await (key, sealed) in try await client.query("SELECT key, sealed FROM login_session").decode((String, ByteBuffer).self) {
                stored.append((key, Array(sealed.readableBytesView)))
            }
            let (key, sealed) = try #require(stored.first)
            #expect(key == SealedSession.lookupKey(for: id))
            #expect(key != id)
            for secret in [Array(password.utf8), Array(id.utf8)] {
                #expect(!sealed.indices.contains { sealed[$0...].starts(with: secret) })
            }
            #expect(try SealedSession.open(sealed, id: id) == credentials, "the ID opens the sealed credentials")
            #expect(throws: (any Error).self) { try SealedSession.open(sealed, id: RandomToken.make()) }
        }
    }

    @Test("removeAll(with:) cannot tell sealed sessions apart and ends none; remove(_:) ends the refused one")
    func removeAllEndsNothing() async throws {
        try await withReplicas(Self.roomy) { one, two, _ in
            let alice = AccountCredentials(user: "alice", password: "old")
            let first = try await one.create(for: alice)
            let second = try await two.create(for: alice)
            try await two.removeAll(with: alice)
            #expect(try await one.credentials(for: first) == alice)
            try await two.remove(second)
            #expect(try await one.credentials(for: second) == nil)
            #expect(try await one.credentials(for: first) == alice)
        }
    }
}
