import Foundation
import GatewayCore
import Logging
import PostgresNIO

/// The gateway's PostgreSQL database: the engine's store ports (folders, labels, listing and
/// conversation caches, jobs with leases) on a database that several gateway replicas share.
/// Behaves as the SQLite adapter does, method for method; concurrent replicas are safe where the
/// ports require it (new folder and label IDs, job claims, chunk outcomes).
///
/// A value is cheap to copy: it holds the client, whose ``PostgresClient/run()`` the caller runs
/// (as a service) for as long as the store is used. The schema is ``PostgresMigrations``'.
public struct PostgresStore: FolderStore, LabelStore, ListingCache, ConversationCache, JobStore, Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Parses `postgres://user:password@host:port/database` (also `postgresql://`; optional
    /// `?sslmode=disable|prefer|require`) into a client configuration. The port defaults to 5432,
    /// the database to the server's default (the user's name), `sslmode` to `prefer`. `require`
    /// (or its libpq name `verify-full`) verifies the server's certificate and host name against the
    /// system's trust roots: stricter than libpq's `require`, which checks no certificate.
    ///
    /// - Throws: ``PostgresURLError`` naming what is wrong; it never repeats the password.
    public static func clientConfiguration(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url) else {
            throw PostgresURLError("the PostgreSQL URL is not a valid URL (expected postgres://user:password@host:port/database)")
        }
        guard let scheme = components.scheme?.lowercased(), scheme == "postgres" || scheme == "postgresql" else {
            throw PostgresURLError("the PostgreSQL URL must start with postgres:// or postgresql://")
        }
        guard let host = components.host, !host.isEmpty else {
            throw PostgresURLError("the PostgreSQL URL has no host")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresURLError("the PostgreSQL URL has no user name")
        }
        let port = components.port ?? 5432
        guard (1...65_535).contains(port) else {
            throw PostgresURLError("the PostgreSQL URL's port \(port) is out of range")
        }
        var path = components.path
        if path.hasPrefix("/") { path.removeFirst() }
        guard !path.contains("/") else {
            throw PostgresURLError("the PostgreSQL URL's path must be just the database name")
        }
        let tls: PostgresClient.Configuration.TLS
        var sslMode = "prefer"
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else {
                throw PostgresURLError("the PostgreSQL URL has an unsupported parameter \(item.name) (only sslmode is)")
            }
            sslMode = item.value ?? ""
        }
        switch sslMode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-full": tls = .require(.makeClientConfiguration())
        default:
            throw PostgresURLError("the PostgreSQL URL's sslmode must be disable, prefer, require or verify-full, not \(sslMode)")
        }
        // Brackets of an IPv6 literal are URL syntax, not part of the address.
        let address = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return PostgresClient.Configuration(
            host: address, port: port, username: user, password: components.password, database: path.isEmpty ? nil : path, tls: tls)
    }

    /// Runs the pending migrations of ``PostgresMigrations``, in one transaction (needs the client
    /// running). Safe when several replicas start at once: the transaction first takes an advisory
    /// lock, so one replica migrates and the others then find nothing to do.
    public func migrate() async throws {
        try await PostgresMigrations.migrate(client: client, logger: logger)
    }

    /// Whether the database takes writes now (for `/readyz`): in a transaction that is rolled back,
    /// an `UPDATE` that matches no row, which PostgreSQL refuses on a read-only server (a standby) or
    /// in a read-only transaction. Nothing is written.
    public func probeWrite() async throws {
        do {
            try await transaction { connection in
                try await connection.query("UPDATE schema_migrations SET applied_at = applied_at WHERE false", logger: logger)
                throw RolledBack()
            }
        } catch is RolledBack {}
    }

    /// Thrown to end ``probeWrite()``'s transaction with a rollback.
    private struct RolledBack: Error {}

    /// Runs `body` in one transaction of this store's client.
    func transaction<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await inTransaction(client, logger: logger, body)
    }
}

/// Runs `body` in one transaction (`BEGIN` … `COMMIT`, `ROLLBACK` when it throws), and throws what
/// went wrong itself: the closure's error (a ``LabelConflict``, a `PSQLError`), not postgres-nio's
/// wrapper around it.
///
/// A transaction PostgreSQL ended to break a deadlock (or a serialization failure) is run again,
/// up to three times in all: `body` reads what it needs inside the transaction, so a second run
/// starts afresh. The advisory locks (``AdvisoryLock``) keep such ends rare.
func inTransaction<Result: Sendable>(
    _ client: PostgresClient, logger: Logger, _ body: (PostgresConnection) async throws -> Result
) async throws -> Result {
    var attempt = 1
    while true {
        do {
            return try await client.withTransaction(logger: logger) { connection in try await body(connection) }
        } catch let error as PostgresTransactionError {
            let cause = error.closureError ?? error.beginError ?? error.commitError ?? error.rollbackError ?? error
            if attempt < 3, let state = (cause as? PSQLError)?.serverInfo?[.sqlState], state == "40P01" || state == "40001" {
                logger.debug("transaction ended by the server, running it again", metadata: ["sqlstate": "\(state)"])
                attempt += 1
                continue
            }
            throw cause
        }
    }
}

/// Transaction-scoped advisory locks, one per account and kind of write, so that writers of one
/// account take turns where their rows could otherwise deadlock (multi-row inserts of overlapping
/// keys in different orders: two replicas seeing the same new mailboxes, or syncing one folder).
/// Each kind is the first key; a hash of the account the second (a collision only makes two
/// accounts take turns).
enum AdvisoryLock: Int32 {
    /// `ensureFolders`, `forgetFolders`.
    case folders = 0x6D67_0001
    /// `createLabel`, `ensureLabels`, `renameLabel`.
    case labels = 0x6D67_0002
    /// The per-folder caches' sync steps, and `forgetFolders` dropping them.
    case caches = 0x6D67_0003
    /// `PostgresSessionStore.create`: the per-account limit holds across replicas.
    case sessions = 0x6D67_0004

    /// Takes the lock for `account` until the transaction ends.
    func take(_ connection: PostgresConnection, account: String, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(rawValue), hashtext(\(account)))", logger: logger)
    }
}

/// A PostgreSQL URL that ``PostgresStore/clientConfiguration(url:)`` cannot use; the message says
/// why, without the password.
public struct PostgresURLError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// A row this version of the gateway cannot read (written by another version, or damaged).
struct StoreCorruption: Error, CustomStringConvertible {
    var what: String
    init(_ what: String) { self.what = what }
    var description: String { "unreadable database row: \(what)" }
}

/// Conversions between the engine's unsigned values and PostgreSQL's signed `bigint`.
enum Column {
    /// A UID, UIDVALIDITY or UIDNEXT read back: a 32-bit unsigned value, or the row is unreadable.
    static func uint32(_ value: Int64, _ what: String) throws -> UInt32 {
        guard let value = UInt32(exactly: value) else { throw StoreCorruption("\(what) \(value)") }
        return value
    }

    /// Seconds of a duration, for `interval` arithmetic in SQL (`$1 * interval '1 second'`).
    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
