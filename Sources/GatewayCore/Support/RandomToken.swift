/// Random identifiers and tokens, all from the system's cryptographically secure generator
/// (`getrandom` on Linux): one helper for job keys, session IDs, folder and label IDs and
/// generated keywords.
public enum RandomToken {
    /// An unguessable token (job keys, session IDs): 256 bits as base64url, 43 characters.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URL.encode((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    /// A job key: a token of ``make()`` that does not start with `-`. One in 64 does, and the
    /// `jobs show|cancel <key>` command line then read the key as an option ("Missing expected
    /// argument", seen in CI). Drawing again costs 0.02 of the 256 bits.
    public static func jobKey() -> String {
        var key = make()
        while key.hasPrefix("-") { key = make() }
        return key
    }

    /// `length` characters drawn uniformly from `alphabet`.
    public static func make(length: Int, alphabet: [Character]) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// The length of folder and label IDs: 12 × log2(62) ≈ 71.4 bits.
    public static let identifierLength = 12
    private static let alphanumerics = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    private static let lowercaseAlphanumerics = Array("abcdefghijklmnopqrstuvwxyz0123456789")

    /// A folder or label ID: 12 characters of `[A-Za-z0-9]`.
    public static func identifier() -> String { alphanumeric(length: identifierLength) }

    /// `length` characters of `[A-Za-z0-9]` (folder and label IDs, request IDs).
    public static func alphanumeric(length: Int) -> String { make(length: length, alphabet: alphanumerics) }

    /// Whether `string` has the shape of a folder or label ID (a cheap check before any lookup).
    public static func isIdentifier(_ string: String) -> Bool {
        string.utf8.count == identifierLength && string.utf8.allSatisfy(Base64URL.isAlphanumeric)
    }

    /// The random part of a generated keyword: 16 characters of `[a-z0-9]` (an IMAP atom).
    public static func keywordSuffix() -> String { make(length: 16, alphabet: lowercaseAlphanumerics) }
}
