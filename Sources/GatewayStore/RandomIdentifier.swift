/// Random, URL-safe identifiers for folders and labels.
///
/// 12 characters drawn uniformly from `[A-Za-z0-9]` carry 12 × log2(62) ≈ 71.4 bits, from the
/// system's cryptographically secure generator (`getrandom` on Linux).
enum RandomIdentifier {
    /// The number of characters in an identifier.
    static let length = 12

    private static let alphabet: [Character] = Array(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")

    /// A new identifier.
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        var result = ""
        result.reserveCapacity(length)
        for _ in 0..<length {
            result.append(alphabet[Int.random(in: 0..<alphabet.count, using: &generator)])
        }
        return result
    }

    /// Whether `string` has the shape of an identifier (a cheap check before any database lookup).
    static func isWellFormed(_ string: String) -> Bool {
        string.utf8.count == length
            && string.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
            }
    }
}
