import Foundation
import GatewayCore
import GatewayStore
import GatewayStorePostgres
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The store the configuration names, behind the engine's ports: the embedded SQLite file
/// (`database.path`, one gateway per file) or a PostgreSQL database (`database.url`) that several
/// replicas share — folder and label IDs, caches, jobs with leases, and sessions.
struct GatewayStorage: Sendable {
    /// Every store port but sessions, in one value.
    typealias Ports = FolderStore & LabelStore & ListingCache & ConversationCache & JobStore

    let ports: any Ports
    let sessions: any SessionStore
    /// What must run while the store is used (the PostgreSQL client's connection pool).
    let services: [any Service]
    /// Where the state lives, for logs (never a password).
    let location: String
    private let migration: Migration
    private let probe: @Sendable () async throws -> Void

    /// Opens the store. SQLite opens and migrates here; PostgreSQL migrates in ``prepare()``, once
    /// its client runs (one of ``services``). `asServer`: a gateway that will run jobs (SQLite
    /// releases its previous run's job leases then); false for a command beside a running gateway.
    static func open(_ configuration: GatewayConfiguration, asServer: Bool = true, logger: Logger) throws -> GatewayStorage {
        if let url = configuration.databaseURL {
            let client = PostgresClient(configuration: try PostgresStore.clientConfiguration(url: url), backgroundLogger: logger)
            let store = PostgresStore(client: client, logger: logger)
            return GatewayStorage(
                ports: store, sessions: PostgresSessionStore(client: client, limits: configuration.sessionLimits, logger: logger),
                services: [client], location: Self.redacted(url: url), migration: Migration { try await store.migrate() },
                probe: { try await store.probeWrite() })
        }
        let database = try GatewayDatabase(path: configuration.databasePath)
        // One gateway owns an SQLite file: the leases its previous run left (a crash, SIGKILL) are
        // its own, and its jobs resume at once rather than when the leases run out.
        if asServer { try database.releaseAllJobLeases() }
        return GatewayStorage(
            ports: database, sessions: InMemorySessionStore(limits: configuration.sessionLimits), services: [],
            location: configuration.databasePath, migration: Migration {}, probe: { try await database.probeWrite() })
    }

    /// `url` without its password (`postgres://gateway:***@db:5432/gateway`), for logs and messages.
    static func redacted(url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].lastIndex(of: "@") else { return url }
        let userInfo = url[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at...])
    }

    /// Waits until the store is ready for use (its migrations ran); every caller shares one run.
    func prepare() async throws { try await migration.run() }

    /// Whether the store takes writes now (readiness).
    func probeWrite() async throws {
        try await prepare()
        try await probe()
    }

    /// For a command that uses the store and exits (`check`, `jobs`): runs its services around
    /// `body`, after the store is ready.
    func run<R: Sendable>(_ body: @Sendable (GatewayStorage) async throws -> R) async throws -> R {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in services { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            try await prepare()
            return try await body(self)
        }
    }

    /// One run of the migrations, started by whoever needs the store first (once the client
    /// runs: postgres-nio warns about a query sent before), shared by the rest.
    final class Migration: Sendable {
        private let migrate: @Sendable () async throws -> Void
        private let task = Mutex<Task<Void, any Error>?>(nil)

        init(_ migrate: @escaping @Sendable () async throws -> Void) { self.migrate = migrate }

        func run() async throws {
            let running = task.withLock { task in
                if let task { return task }
                let started = Task { try await migrate() }
                task = started
                return started
            }
            try await running.value
        }
    }
}
