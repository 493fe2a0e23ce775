import GatewayCore
import Logging
import PostgresNIO

/// Sessions shared by every replica (SPEC §5): a session opened through one gateway is accepted
/// by all of them. The rules are ``InMemorySessionStore``'s (idle timeout, absolute lifetime, at
/// most `maxPerAccount` per account, the least recently used going first), dated by the database
/// server's clock. A row holds the SHA-256 of the session ID, never the ID, and the credentials
/// only sealed under a key derived from the ID (``SealedSession``): the database alone yields
/// neither a usable session nor a password.
///
/// Its table is created by ``PostgresStore/migrate()``.
public struct PostgresSessionStore: SessionStore, Sendable {
    let client: PostgresClient
    let limits: InMemorySessionStore.Limits
    let logger: Logger

    public init(client: PostgresClient, limits: InMemorySessionStore.Limits, logger: Logger) {
        self.client = client
        self.limits = limits
        self.logger = logger
    }

    /// Opens a session; returns its ID (43 characters of base64url). Expired sessions of every
    /// account are purged on the way, and the account's least recently used sessions beyond
    /// `maxPerAccount` are ended.
    public func create(for credentials: AccountCredentials) async throws -> String {
        let id = RandomToken.make()
        let key = SealedSession.lookupKey(for: id)
        let sealed = ByteBuffer(bytes: try SealedSession.seal(credentials, id: id))
        let account = credentials.user
        try await inTransaction(client, logger: logger) { connection in
            try await AdvisoryLock.sessions.take(connection, account: account, logger: logger)
            try await connection.query(
                """
                DELETE FROM login_session
                WHERE last_used <= now() - \(idleSeconds)::float8 * interval '1 second'
                   OR created <= now() - \(lifetimeSeconds)::float8 * interval '1 second'
                """, logger: logger)
            try await connection.query(
                """
                INSERT INTO login_session (key, account, sealed, created, last_used)
                VALUES (\(key), \(account), \(sealed), now(), now())
                """, logger: logger)
            // The new session counts as the most recently used, whatever the clock says.
            try await connection.query(
                """
                DELETE FROM login_session WHERE key IN (
                    SELECT key FROM login_session WHERE account = \(account)
                    ORDER BY key = \(key) DESC, last_used DESC OFFSET \(max(0, limits.maxPerAccount)))
                """, logger: logger)
        }
        return id
    }

    /// The session's credentials, refreshing its idle time; nil if unknown or expired.
    ///
    /// - Throws: ``StoreCorruption`` when the row's sealed credentials do not open with the ID.
    public func credentials(for id: String) async throws -> AccountCredentials? {
        let rows = try await client.query(
            """
            UPDATE login_session SET last_used = now()
            WHERE key = \(SealedSession.lookupKey(for: id))
              AND last_used > now() - \(idleSeconds)::float8 * interval '1 second'
              AND created > now() - \(lifetimeSeconds)::float8 * interval '1 second'
            RETURNING sealed
            """, logger: logger)
        var sealed: ByteBuffer?
        for try await bytes in rows.decode(ByteBuffer.self) { sealed = bytes }
        guard let sealed else { return nil }
        do {
            return try SealedSession.open(Array(sealed.readableBytesView), id: id)
        } catch {
            throw StoreCorruption("sealed session credentials")
        }
    }

    public func remove(_ id: String) async throws {
        try await client.query("DELETE FROM login_session WHERE key = \(SealedSession.lookupKey(for: id))", logger: logger)
    }

    /// Ends nothing: the passwords are sealed under each session's ID, which the store does not
    /// keep, so it cannot tell which sessions hold these credentials. As the port allows, the
    /// session a refused request came with is ended by ``remove(_:)``; the others fail at their
    /// next use when the server refuses them, or expire.
    public func removeAll(with credentials: AccountCredentials) async throws {}

    private var idleSeconds: Double { Column.seconds(limits.idleTimeout) }
    private var lifetimeSeconds: Double { Column.seconds(limits.lifetime) }
}
