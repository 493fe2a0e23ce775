import Foundation
import GatewayCore
import GatewayStorePostgres
import PostgresNIO
import Testing

/// What only the PostgreSQL store has: its URL, its migrations shared by replicas, its write probe.
@Suite("PostgreSQL store")
struct PostgresStoreTests {
    @Test("a URL gives host, port, user, password, database and TLS mode")
    func parsesURL() throws {
        let configuration = try PostgresStore.clientConfiguration(url: "postgres://gateway:s%40cret@db.example:6543/mail?sslmode=disable")
        #expect(configuration.host == "db.example")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "gateway")
        #expect(configuration.password == "s@cret", "percent-encoding is undone")
        #expect(configuration.database == "mail")

        let defaults = try PostgresStore.clientConfiguration(url: "postgresql://gateway@[::1]/")
        #expect(defaults.host == "::1")
        #expect(defaults.port == 5432)
        #expect(defaults.password == nil)
        #expect(defaults.database == nil)
        _ = try PostgresStore.clientConfiguration(url: "postgres://u:p@h/d?sslmode=require")
        _ = try PostgresStore.clientConfiguration(url: "postgres://u:p@h/d?sslmode=verify-full")
    }

    @Test(
        "a URL that cannot be used is refused with a reason that never shows the password",
        arguments: [
            ("mysql://u:hunter2@h/d", "postgres://"),
            ("postgres://hunter2@/d", "no host"),
            ("postgres://:hunter2@h/d", "no user"),
            ("postgres://u:hunter2@h/d?sslmode=verify-sometimes", "sslmode"),
            ("postgres://u:hunter2@h/d?user=x", "unsupported parameter user"),
            ("postgres://u:hunter2@h/d/e", "database name"),
            ("postgres://u:hunter2@h:99999/d", "port"),
            ("not a url at all hunter2", "URL"),
        ])
    func refusesURL(url: String, reason: String) {
        do {
            _ = try PostgresStore.clientConfiguration(url: url)
            Issue.record("accepted \(url)")
        } catch {
            let message = "\(error)"
            #expect(message.contains(reason), "\(message)")
            #expect(!message.contains("hunter2"))
        }
    }

    @Test(
        "migrations run once, also when two replicas start at once",
        .enabled(if: PostgresTestDatabase.isEnabled, "needs POSTGRES_TEST_URL (integration/postgres-start.sh)"))
    func migrations() async throws {
        try await PostgresTestDatabase.withFreshDatabase { configuration in
            try await PostgresTestDatabase.withRunningClient(configuration) { first in
                try await PostgresTestDatabase.withRunningClient(configuration) { second in
                    let one = PostgresStore(client: first, logger: PostgresTestDatabase.logger)
                    let two = PostgresStore(client: second, logger: PostgresTestDatabase.logger)
                    async let a: Void = one.migrate()
                    async let b: Void = two.migrate()
                    _ = try await (a, b)
                    try await one.migrate()
                    var names: [String] = []
                    for try await name in try await first.query("SELECT name FROM schema_migrations").decode(String.self) {
                        names.append(name)
                    }
                    #expect(names == ["v1"])
                    _ = try await two.ensureFolders(account: "alice", mailboxes: ["INBOX"])
                    #expect(try await one.folderIDs(account: "alice").keys.sorted() == ["INBOX"])
                }
            }
        }
    }

    @Test(
        "the write probe passes on a writable database and fails on a read-only one",
        .enabled(if: PostgresTestDatabase.isEnabled, "needs POSTGRES_TEST_URL (integration/postgres-start.sh)"))
    func probeWrite() async throws {
        try await PostgresTestDatabase.withFreshDatabase { configuration in
            try await PostgresTestDatabase.withRunningClient(configuration) { client in
                let store = PostgresStore(client: client, logger: PostgresTestDatabase.logger)
                await #expect(throws: (any Error).self, "no schema yet") { try await store.probeWrite() }
                try await store.migrate()
                try await store.probeWrite()
                let name = try #require(configuration.database)
                try await client.query("ALTER DATABASE \(unescaped: name) SET default_transaction_read_only = on")
            }
            // New connections get the setting.
            try await PostgresTestDatabase.withRunningClient(configuration) { client in
                let store = PostgresStore(client: client, logger: PostgresTestDatabase.logger)
                await #expect(throws: PSQLError.self) { try await store.probeWrite() }
                let folders = try await store.folderIDs(account: "alice")
                #expect(folders.isEmpty, "reads still work")
            }
        }
    }

    @Test(
        "a row this version cannot read is an error, not a guess",
        .enabled(if: PostgresTestDatabase.isEnabled, "needs POSTGRES_TEST_URL (integration/postgres-start.sh)"))
    func unreadableRows() async throws {
        try await PostgresTestDatabase.withStore { store, client in
            try await store.createJob(
                JobRecord(
                    key: "k", account: "alice", operation: .move(destinationFolderId: "D"), state: .inProgress, totalItems: 1,
                    pendingItems: ["a"]))
            try await store.applyMetaSync(
                account: "alice", folderId: "F", reset: true, removed: [], changed: [],
                state: FolderSyncState(uidValidity: 1, uidNext: 2, highestModSeq: 3))
            try await client.query("UPDATE job SET status = 'pausedByAFutureVersion'")
            try await client.query("UPDATE folder_sync SET uid_validity = 4294967296")
            await #expect(throws: (any Error).self) { try await store.job(key: "k", account: "alice") }
            await #expect(throws: (any Error).self) { try await store.unfinishedJobs() }
            await #expect(throws: (any Error).self) { try await store.folderSyncState(account: "alice", folderId: "F") }
        }
    }

    @Test(
        "errors of the server reach the caller",
        .enabled(if: PostgresTestDatabase.isEnabled, "needs POSTGRES_TEST_URL (integration/postgres-start.sh)"))
    func serverErrors() async throws {
        try await PostgresTestDatabase.withStore { store in
            let job = JobRecord(
                key: "k", account: "alice", operation: .move(destinationFolderId: "D"), state: .inProgress, totalItems: 1,
                pendingItems: ["a"])
            try await store.createJob(job)
            let error = await #expect(throws: PSQLError.self) { try await store.createJob(job) }
            #expect(error?.serverInfo?[.sqlState] == "23505", "a duplicate key")
        }
    }
}
