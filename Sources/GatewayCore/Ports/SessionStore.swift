/// Sessions from `POST /api/v1/login`: an unguessable ID stands for proven credentials for a while.
/// ``InMemorySessionStore`` keeps them in the process (they end with it, which keeps passwords off
/// the disk); a shared store (PostgreSQL) keeps them for every replica, sealed by ``SealedSession``.
public protocol SessionStore: Sendable {
    // Errors are the store's (a shared database that cannot be reached); the HTTP layer maps them.
    /// Opens a session; returns its ID.
    func create(for credentials: AccountCredentials) async throws -> String
    /// The session's credentials, refreshing its idle time; nil if unknown or expired.
    func credentials(for id: String) async throws -> AccountCredentials?
    func remove(_ id: String) async throws
    /// Ends every session of these exact credentials (the server refused them). A store that cannot
    /// compare the passwords it keeps (sealed under each session's ID) may end only the sessions it
    /// can tell apart; the session a refused request came with is ended by ``remove(_:)`` as well.
    func removeAll(with credentials: AccountCredentials) async throws
}
