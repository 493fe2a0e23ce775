/// A mail ID: (folderId, UIDVALIDITY, UID) as base64url of `<folderId>_<uidvalidity>_<uid>`.
///
/// It decodes without a database row, so a 100,000-ID batch needs no per-message lookups. An ID
/// whose UIDVALIDITY no longer matches its folder is stale and never touches another message.
public struct MailID: Hashable, Sendable, CustomStringConvertible {
    public var folderId: String
    public var uidValidity: UInt32
    public var uid: UInt32

    public init(folderId: String, uidValidity: UInt32, uid: UInt32) {
        self.folderId = folderId
        self.uidValidity = uidValidity
        self.uid = uid
    }

    /// The opaque, URL-safe string form.
    public var encoded: String { Base64URL.encode(Array("\(folderId)_\(uidValidity)_\(uid)".utf8)) }

    public var description: String { encoded }

    /// Decodes an ID; nil for anything that is not exactly a well-formed mail ID.
    public init?(_ text: String) {
        guard text.utf8.count <= 200, let bytes = Base64URL.decode(text) else { return nil }
        let parts = bytes.split(separator: UInt8(ascii: "_"), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].count <= 64,
            parts[0].allSatisfy({ Base64URL.isAlphanumeric($0) }),
            let validity = Self.number(parts[1]), let uid = Self.number(parts[2]), validity > 0, uid > 0
        else { return nil }
        // Only the canonical encoding is accepted, so one message has exactly one ID string: the
        // decoding is strict (no padding, unused bits zero) and the numbers have no leading zeros,
        // so encoding the parsed ID gives `text` back (a test of undecodable IDs keeps it so).
        self.init(folderId: String(decoding: parts[0], as: UTF8.self), uidValidity: validity, uid: uid)
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> UInt32? {
        guard !digits.isEmpty, digits.count <= 10, digits.first != UInt8(ascii: "0") else { return nil }
        var value: UInt64 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(digit - UInt8(ascii: "0"))
        }
        return UInt32(exactly: value)
    }
}

/// base64url without padding (RFC 4648 §5).
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    /// The value of each octet as a base64url digit; 0xFF for an octet that is not one.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()

    static func isAlphanumeric(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
            || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i]
            let b1: UInt8 = i + 1 < bytes.count ? bytes[i + 1] : 0
            let b2: UInt8 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            if i + 1 < bytes.count { out.append(alphabet[Int((b1 & 0x0f) << 2 | b2 >> 6)]) }
            if i + 2 < bytes.count { out.append(alphabet[Int(b2 & 0x3f)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        out.reserveCapacity(chars.count * 3 / 4)
        for c in chars {
            let v = values[Int(c)]
            guard v != 0xFF else { return nil }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        // Strict (RFC 4648 §3.5): the bits past the last octet are zero, so one text per octets.
        guard buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
        return out
    }
}
