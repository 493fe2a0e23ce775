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
        self.init(folderId: String(decoding: parts[0], as: UTF8.self), uidValidity: validity, uid: uid)
        // Only the canonical encoding is accepted, so one message has exactly one ID string.
        guard encoded == text else { return nil }
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> UInt32? {
        guard !digits.isEmpty, digits.count <= 10, digits.first != UInt8(ascii: "0"),
            digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        return UInt32(String(decoding: digits, as: UTF8.self))
    }
}

/// base64url without padding (RFC 4648 §5).
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    private static let values: [UInt8: UInt8] = {
        var table: [UInt8: UInt8] = [:]
        for (i, c) in alphabet.enumerated() { table[c] = UInt8(i) }
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
        for c in chars {
            guard let v = values[c] else { return nil }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }
}
