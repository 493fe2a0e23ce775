import Foundation
import GRDB

/// The gateway's SQLite database, the embedded adapter of the engine's store ports: one value,
/// created at startup and injected where needed (never global). It owns the schema (``GatewayMigrations``) and offers intent-level methods;
/// callers never see a `Database` connection.
///
/// Copies share one connection (queue or pool), so the value is cheap to pass around.
public struct GatewayDatabase: Sendable {
    /// The underlying GRDB writer.
    ///
    /// `package`, not `public`: other targets of the gateway (the app's readiness check, tests)
    /// may reach it, but the store's public surface stays intent-level: the engine's store ports
    /// (`FolderStore`, `LabelStore`, `ListingCache`, `JobStore`), one extension file each, with
    /// their tables in ``GatewayMigrations``.
    package let writer: any DatabaseWriter

    /// Opens (creating if needed) the database file at `path` as a WAL `DatabasePool`, creating
    /// the parent directory when it is missing, and runs the pending migrations.
    public init(path: String) throws {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pool = try DatabasePool(path: path, configuration: Self.configuration())
        try self.init(migrating: pool)
    }

    /// A private in-memory database (a `DatabaseQueue`), migrated: for tests.
    public static func inMemory() throws -> GatewayDatabase {
        try GatewayDatabase(migrating: DatabaseQueue(configuration: configuration()))
    }

    private init(migrating writer: any DatabaseWriter) throws {
        try GatewayMigrations.migrator.migrate(writer)
        self.writer = writer
    }

    /// Whether the database takes writes now: `BEGIN IMMEDIATE` takes SQLite's write lock (it
    /// fails on a read-only file or one locked past the busy timeout), then `ROLLBACK`. Nothing
    /// is written.
    public func probeWrite() async throws {
        try await writer.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            try db.execute(sql: "ROLLBACK")
        }
    }

    private static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.label = "GatewayStore"
        // GRDB's default, stated because the jobs migration relies on it (chunks cascade).
        configuration.foreignKeysEnabled = true
        // Wait rather than fail when another process (a CLI command) holds the write lock.
        configuration.busyMode = .timeout(5)
        return configuration
    }
}
