import Crypto
import Foundation

/// How a shared session store keeps a session (SPEC §5, several replicas): looked up by a hash of
/// its ID, its credentials sealed (AES-GCM) under a key derived from the ID. The database alone
/// gives neither a usable session ID nor a password; any replica given the ID opens both.
public enum SealedSession {
    /// What the store looks a session up by: the ID's SHA-256, hex (the ID itself is never stored).
    public static func lookupKey(for id: String) -> String {
        SHA256.hash(data: Data(id.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The credentials sealed under the session's key: nonce, ciphertext and tag in one value.
    public static func seal(_ credentials: AccountCredentials, id: String) throws -> [UInt8] {
        let plain = try JSONEncoder().encode(Plain(credentials))
        guard let combined = try AES.GCM.seal(plain, using: key(for: id)).combined else { throw Unreadable() }
        return Array(combined)
    }

    /// The credentials of a sealed session; throws when `id` is not the session's or the bytes were altered.
    public static func open(_ sealed: [UInt8], id: String) throws -> AccountCredentials {
        let plain = try AES.GCM.open(AES.GCM.SealedBox(combined: sealed), using: key(for: id))
        return try JSONDecoder().decode(Plain.self, from: plain).credentials
    }

    /// Sealed bytes that do not open with the session's key.
    public struct Unreadable: Error {}

    /// The sealing key: HKDF-SHA256 of the session ID (256 random bits), bound to this use.
    private static func key(for id: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Data(id.utf8)), info: Data("mailbox-gateway session credentials v1".utf8),
            outputByteCount: 32)
    }

    private struct Plain: Codable {
        var user: String
        var identity: String
        var password: String

        init(_ credentials: AccountCredentials) {
            user = credentials.user
            identity = credentials.authenticationIdentity
            password = credentials.password
        }

        var credentials: AccountCredentials {
            identity == user
                ? AccountCredentials(user: user, password: password)
                : AccountCredentials(user: user, masterUser: identity, masterPassword: password)
        }
    }
}
