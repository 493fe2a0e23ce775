/// Sessions from `POST /api/v1/login`: an unguessable ID stands for proven credentials for a while.
/// ``InMemorySessionStore`` is the one implementation today (sessions end with the process, which
/// keeps passwords off the disk).
public protocol SessionStore: Sendable {
    /// Opens a session; returns its ID.
    func create(for credentials: AccountCredentials) async -> String
    /// The session's credentials, refreshing its idle time; nil if unknown or expired.
    func credentials(for id: String) async -> AccountCredentials?
    func remove(_ id: String) async
    /// Ends every session of these exact credentials (the server refused them).
    func removeAll(with credentials: AccountCredentials) async
}
