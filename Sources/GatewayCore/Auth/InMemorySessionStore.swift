import Foundation

/// Sessions from `POST /api/v1/login`: random 256-bit IDs, kept only as SHA-256 hashes, in memory.
/// A session ends after an idle time, after an absolute lifetime however busy it is, when its
/// account opens more than `maxPerAccount` sessions (the oldest goes), or when the IMAP server
/// refuses its password (the auth middleware re-proves it like any other credentials). A gateway
/// restart ends every session (clients log in again); that keeps passwords off the disk.
public actor InMemorySessionStore: SessionStore {
    /// Limits of sessions (`auth.sessionIdleTimeout`, `auth.sessionLifetime`, `auth.maxSessionsPerAccount`).
    public struct Limits: Sendable {
        public var idleTimeout: Duration
        public var lifetime: Duration
        public var maxPerAccount: Int

        public init(idleTimeout: Duration, lifetime: Duration, maxPerAccount: Int) {
            self.idleTimeout = idleTimeout
            self.lifetime = lifetime
            self.maxPerAccount = maxPerAccount
        }
    }

    private struct Entry {
        var credentials: AccountCredentials
        var created: ContinuousClock.Instant
        var lastUsed: ContinuousClock.Instant
    }

    private var sessions: [String: Entry] = [:]
    private let limits: Limits
    /// The time source (the continuous clock; tests pass a manual one).
    private let now: @Sendable () -> ContinuousClock.Instant
    private var lastPurge: ContinuousClock.Instant

    public init(limits: Limits, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.limits = limits
        self.now = now
        self.lastPurge = now()
    }

    /// Opens a session; returns its ID (43 characters of base64url).
    public func create(for credentials: AccountCredentials) -> String {
        purgeExpired()
        let id = RandomToken.make()
        let now = now()
        sessions[Self.hash(id)] = Entry(credentials: credentials, created: now, lastUsed: now)
        let mine = sessions.filter { $0.value.credentials.user == credentials.user }
        if mine.count > limits.maxPerAccount {
            for (key, _) in mine.sorted(by: { $0.value.lastUsed < $1.value.lastUsed }).prefix(mine.count - limits.maxPerAccount) {
                sessions[key] = nil
            }
        }
        return id
    }

    /// The session's credentials, refreshing its idle time; nil if unknown or expired.
    public func credentials(for id: String) -> AccountCredentials? {
        let now = now()
        if now - lastPurge > .seconds(60) { purgeExpired() }
        let key = Self.hash(id)
        guard var entry = sessions[key] else { return nil }
        guard isAlive(entry, now: now) else {
            sessions[key] = nil
            return nil
        }
        entry.lastUsed = now
        sessions[key] = entry
        return entry.credentials
    }

    public func remove(_ id: String) { sessions[Self.hash(id)] = nil }

    /// Ends every session of these exact credentials (the server refused them).
    public func removeAll(with credentials: AccountCredentials) {
        sessions = sessions.filter { $0.value.credentials != credentials }
    }

    /// Sessions open now (for tests).
    public var count: Int { sessions.count }

    private func isAlive(_ entry: Entry, now: ContinuousClock.Instant) -> Bool {
        now - entry.lastUsed < limits.idleTimeout && now - entry.created < limits.lifetime
    }

    private func purgeExpired() {
        let now = now()
        lastPurge = now
        sessions = sessions.filter { isAlive($0.value, now: now) }
    }

    private static func hash(_ id: String) -> String { SealedSession.lookupKey(for: id) }
}
