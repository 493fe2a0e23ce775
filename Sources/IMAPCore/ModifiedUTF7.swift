/// Modified UTF-7 for mailbox names (RFC 3501 §5.1.3): printable US-ASCII stands for itself
/// (`&` as `&-`), everything else is UTF-16 in a modified base64 (`,` for `/`) between `&` and `-`.
public enum ModifiedUTF7 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,".utf8)
    private static let reverse: [UInt8: UInt8] = {
        var table: [UInt8: UInt8] = [:]
        for (i, c) in alphabet.enumerated() { table[c] = UInt8(i) }
        return table
    }()

    /// Encodes a Unicode mailbox name to its modified UTF-7 form (always 7-bit ASCII).
    public static func encode(_ name: String) -> String {
        var out: [UInt8] = []
        var pending: [UInt16] = []

        func flush() {
            guard !pending.isEmpty else { return }
            out.append(UInt8(ascii: "&"))
            var bytes: [UInt8] = []
            for unit in pending {
                bytes.append(UInt8(unit >> 8))
                bytes.append(UInt8(unit & 0xff))
            }
            var i = 0
            while i < bytes.count {
                let b0 = bytes[i]
                let b1: UInt8 = i + 1 < bytes.count ? bytes[i + 1] : 0
                let b2: UInt8 = i + 2 < bytes.count ? bytes[i + 2] : 0
                out.append(alphabet[Int(b0 >> 2)])
                out.append(alphabet[Int(((b0 & 0x03) << 4) | (b1 >> 4))])
                if i + 1 < bytes.count { out.append(alphabet[Int(((b1 & 0x0f) << 2) | (b2 >> 6))]) }
                if i + 2 < bytes.count { out.append(alphabet[Int(b2 & 0x3f)]) }
                i += 3
            }
            out.append(UInt8(ascii: "-"))
            pending.removeAll()
        }

        for scalar in name.unicodeScalars {
            if scalar.value >= 0x20 && scalar.value <= 0x7e {
                flush()
                out.append(UInt8(scalar.value))
                if scalar == "&" { out.append(UInt8(ascii: "-")) }
            } else {
                pending.append(contentsOf: Array(String(scalar).utf16))
            }
        }
        flush()
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes a modified UTF-7 mailbox name. Returns nil for malformed input
    /// (bad base64, odd UTF-16, unpaired surrogates, non-ASCII octets).
    public static func decode<Bytes: Collection>(_ bytes: Bytes) -> String? where Bytes.Element == UInt8 {
        var result = String.UnicodeScalarView()
        var iterator = Array(bytes)[...]
        while let c = iterator.popFirst() {
            guard c >= 0x20 && c <= 0x7e else { return nil }
            if c != UInt8(ascii: "&") {
                result.append(Unicode.Scalar(c))
                continue
            }
            var sextets: [UInt8] = []
            var closed = false
            while let d = iterator.popFirst() {
                if d == UInt8(ascii: "-") {
                    closed = true
                    break
                }
                guard let v = reverse[d] else { return nil }
                sextets.append(v)
            }
            guard closed else { return nil }
            if sextets.isEmpty {
                result.append("&")
                continue
            }
            var bytes: [UInt8] = []
            var buffer: UInt32 = 0
            var bits = 0
            for s in sextets {
                buffer = (buffer << 6) | UInt32(s)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    bytes.append(UInt8((buffer >> UInt32(bits)) & 0xff))
                }
            }
            guard bytes.count % 2 == 0, bits < 6, buffer & ((1 << UInt32(bits)) - 1) == 0 else { return nil }
            var units: [UInt16] = []
            for i in stride(from: 0, to: bytes.count, by: 2) {
                units.append(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]))
            }
            var decoder = UTF16()
            var unitIterator = units.makeIterator()
            loop: while true {
                switch decoder.decode(&unitIterator) {
                case .scalarValue(let scalar):
                    // Printable ASCII must not be base64-encoded.
                    if scalar.value >= 0x20 && scalar.value <= 0x7e { return nil }
                    result.append(scalar)
                case .emptyInput: break loop
                case .error: return nil
                }
            }
        }
        return String(result)
    }
}
