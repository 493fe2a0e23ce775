import Foundation
import GRDB
import GatewayCore
import GatewayStore
import GatewayStorePostgres
import Logging
import PostgresNIO
import Synchronization
import Testing

/// The kinds of database the store tests run against: SQLite's two, as GRDB's own tests do, and
/// PostgreSQL when a test server is configured.
enum StoreKind: String, Sendable, CustomStringConvertible {
    /// `DatabaseQueue()` in memory.
    case inMemoryQueue
    /// `DatabasePool` (WAL) on a file in a fresh temporary directory.
    case filePool
    /// A fresh database on the server of `POSTGRES_TEST_URL` (``PostgresTestDatabase``).
    case postgres

    var description: String { rawValue }

    /// The SQLite kinds: for tests that look at GRDB itself (commits, files).
    static let sqlite: [StoreKind] = [.inMemoryQueue, .filePool]

    /// Every kind a port test runs against: PostgreSQL too when its test server is configured, or
    /// required (`POSTGRES_TEST_REQUIRED=1`, where a missing server fails those tests).
    static let all: [StoreKind] = sqlite + (PostgresTestDatabase.isEnabled ? [.postgres] : [])
}

/// What the port tests use of a store: the engine's store ports, plus the two look-ups both
/// stores offer beyond them.
protocol StoreUnderTest: FolderStore, LabelStore, ListingCache, ConversationCache, JobStore {
    func folderIDs(account: String) async throws -> [String: String]
    func label(account: String, name: String) async throws -> Label?
}

extension GatewayDatabase: StoreUnderTest {}
extension PostgresStore: StoreUnderTest {}

/// A temporary directory that is removed when the test is done with it.
struct TemporaryDirectory: ~Copyable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("gatewaystore-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A database path inside a subdirectory that does not exist yet (the store must create it).
    var databasePath: String {
        url.appendingPathComponent("state", isDirectory: true).appendingPathComponent("gateway.sqlite").path
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Runs `body` with a fresh, migrated store of the given kind, used through its ports.
func withStore(_ kind: StoreKind, _ body: (any StoreUnderTest) async throws -> Void) async throws {
    switch kind {
    case .inMemoryQueue, .filePool:
        try await withDatabase(kind) { db in try await body(db) }
    case .postgres:
        try await PostgresTestDatabase.withStore { store in try await body(store) }
    }
}

/// Runs `body` with a fresh, migrated SQLite database of the given kind (``StoreKind/sqlite``).
func withDatabase(_ kind: StoreKind, _ body: (GatewayDatabase) async throws -> Void) async throws {
    switch kind {
    case .inMemoryQueue:
        try await body(GatewayDatabase.inMemory())
    case .filePool:
        let directory = try TemporaryDirectory()
        try await body(GatewayDatabase(path: directory.databasePath))
        _ = consume directory
    case .postgres:
        Issue.record("withDatabase is for SQLite; use withStore")
    }
}

/// The PostgreSQL server of the tests: `POSTGRES_TEST_URL` (as `integration/postgres-start.sh`
/// writes it into its env file), whose role may create databases. Each test gets a database of its
/// own, created for it and dropped after it.
enum PostgresTestDatabase {
    static let url: String? = ProcessInfo.processInfo.environment["POSTGRES_TEST_URL"].flatMap { $0.isEmpty ? nil : $0 }

    /// PostgreSQL tests run when the URL is set, and must run (fail, not skip) when
    /// `POSTGRES_TEST_REQUIRED=1`, as `IMAP_TEST_REQUIRED` does for the Dovecot test bed.
    static let isEnabled = url != nil || ProcessInfo.processInfo.environment["POSTGRES_TEST_REQUIRED"] == "1"

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "POSTGRES_TEST_REQUIRED=1 but POSTGRES_TEST_URL is not set: run integration/postgres-start.sh and source its env file"
        }
    }

    /// Quiet: only warnings and errors of the clients and stores under test.
    static let logger: Logger = {
        var logger = Logger(label: "GatewayStoreTests.postgres")
        logger.logLevel = .warning
        return logger
    }()

    /// Runs `body` with a fresh, migrated store on a database of its own.
    static func withStore(_ body: (PostgresStore) async throws -> Void) async throws {
        try await withStore { store, _ in try await body(store) }
    }

    /// Runs `body` with a fresh, migrated store on a database of its own, and its client (for a
    /// look at the tables that does not go through the store).
    static func withStore(_ body: (PostgresStore, PostgresClient) async throws -> Void) async throws {
        try await withFreshDatabase { configuration in
            try await withRunningClient(configuration) { client in
                let store = PostgresStore(client: client, logger: logger)
                try await store.migrate()
                try await body(store, client)
            }
        }
    }

    /// Creates an empty database, runs `body` with a client configuration for it, and drops it.
    static func withFreshDatabase(_ body: (PostgresClient.Configuration) async throws -> Void) async throws {
        guard let url else { throw Missing() }
        let admin = try PostgresStore.clientConfiguration(url: url)
        // Lowercase letters and digits only: the name is part of the statement text.
        let name = "gw_test_" + RandomToken.keywordSuffix()
        try await withRunningClient(admin) { adminClient in
            try await adminClient.query("CREATE DATABASE \(unescaped: name)", logger: logger)
            var configuration = admin
            configuration.database = name
            do {
                try await body(configuration)
            } catch {
                await drop(name, adminClient)
                throw error
            }
            await drop(name, adminClient)
        }
    }

    /// Drops a test's database, trying again while the server still counts a closing connection
    /// (or a background worker) on it. A database left behind is no failure of the test: the next
    /// `integration/postgres-start.sh` wipes the cluster.
    private static func drop(_ name: String, _ adminClient: PostgresClient) async {
        for attempt in 1...5 {
            do {
                try await adminClient.query("DROP DATABASE IF EXISTS \(unescaped: name) WITH (FORCE)", logger: logger)
                return
            } catch {
                if attempt == 5 { logger.warning("test database \(name) left behind: \(String(reflecting: error))") }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Runs `body` with a client whose `run()` goes on in a child task until `body` returns.
    static func withRunningClient(
        _ configuration: PostgresClient.Configuration, _ body: (PostgresClient) async throws -> Void
    ) async throws {
        var configuration = configuration
        configuration.options.maximumConnections = 8
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await body(client)
        }
    }
}

/// Counts committed transactions that changed a given table.
final class CommitCounter: TransactionObserver, Sendable {
    private let table: String
    private let state = Mutex((commits: 0, changes: 0))

    init(table: String) { self.table = table }

    var commits: Int { state.withLock { $0.commits } }
    var changes: Int { state.withLock { $0.changes } }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { eventKind.tableName == table }
    func databaseDidChange(with event: DatabaseEvent) { state.withLock { $0.changes += 1 } }
    func databaseDidCommit(_ db: Database) { state.withLock { $0.commits += 1 } }
    func databaseDidRollback(_ db: Database) {}
}

/// Whether `id` has the documented shape: 12 characters of `[A-Za-z0-9]`.
func isWellFormedID(_ id: String) -> Bool {
    id.count == 12 && id.unicodeScalars.allSatisfy { $0.isASCII && CharacterSet.alphanumerics.contains($0) }
}
