import Crypto
import Foundation
import GatewayCore
import IMAPClient

/// Sessions from `POST /api/v1/login`: random 256-bit IDs, kept only as SHA-256 hashes, in memory,
/// expiring after an idle time. A gateway restart ends every session (clients log in again);
/// that keeps passwords off the disk.
actor SessionStore {
    private struct Entry {
        var credentials: IMAPCredentials
        var lastUsed: ContinuousClock.Instant
    }

    private var sessions: [String: Entry] = [:]
    private let idleTimeout: Duration

    init(idleTimeout: Duration) { self.idleTimeout = idleTimeout }

    /// Opens a session; returns its ID (43 characters of base64url).
    func create(for credentials: IMAPCredentials) -> String {
        let id = RandomToken.make()
        purgeExpired()
        sessions[Self.hash(id)] = Entry(credentials: credentials, lastUsed: .now)
        return id
    }

    /// The session's credentials, refreshing its idle time; nil if unknown or expired.
    func credentials(for id: String) -> IMAPCredentials? {
        let key = Self.hash(id)
        guard var entry = sessions[key] else { return nil }
        guard ContinuousClock.now - entry.lastUsed < idleTimeout else {
            sessions[key] = nil
            return nil
        }
        entry.lastUsed = .now
        sessions[key] = entry
        return entry.credentials
    }

    func remove(_ id: String) { sessions[Self.hash(id)] = nil }

    private func purgeExpired() {
        let now = ContinuousClock.now
        sessions = sessions.filter { now - $0.value.lastUsed < idleTimeout }
    }

    private static func hash(_ id: String) -> String {
        SHA256.hash(data: Data(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
