import Foundation
import IMAPCore

/// Display forms of header text: RFC 2047 encoded words decoded, instants as ISO 8601. A Date
/// header is read once, by ``SortKeys/sentDate(_:)``, for the order and for the date shown alike.
public enum HeaderText {
    /// Decodes `=?charset?B|Q?…?=` words (UTF-8, ISO-8859-x, Windows-125x, US-ASCII); whitespace
    /// between adjacent encoded words is dropped, as RFC 2047 §6.2 says. A word that is not
    /// well formed (unknown encoding, broken base64, no `?=`) stays as it is; an unknown charset,
    /// or bytes its charset cannot read, decode as UTF-8 with U+FFFD for invalid bytes. Work is
    /// linear in the length of `text`: each `=?` looks ahead at most to its third `?`.
    public static func decodeWords(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        var lastWasEncoded = false
        var pendingSpace = ""
        while !rest.isEmpty {
            if rest.hasPrefix("=?"), let (decoded, remainder) = encodedWord(rest) {
                if !lastWasEncoded { out += pendingSpace }
                pendingSpace = ""
                out += decoded
                rest = remainder
                lastWasEncoded = true
                continue
            }
            let c = rest.removeFirst()
            if c == " " || c == "\t" || c == "\r\n" || c == "\n" {
                pendingSpace.append(c == "\t" ? " " : c == " " ? " " : "")
                continue
            }
            out += pendingSpace
            pendingSpace = ""
            out.append(c)
            lastWasEncoded = false
        }
        if !lastWasEncoded { out += pendingSpace }
        return out
    }

    private static func encodedWord(_ text: Substring) -> (String, Substring)? {
        let parts = text.dropFirst(2).split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[3].hasPrefix("=") else { return nil }
        let charset = parts[0].split(separator: "*").first.map { $0.lowercased() } ?? ""
        let encoding = parts[1].uppercased()
        let payload = parts[2]
        guard !payload.contains(" ") else { return nil }
        var bytes: [UInt8]
        if encoding == "B" {
            var b64 = String(payload)
            while b64.utf8.count % 4 != 0 { b64 += "=" }
            guard let data = Data(base64Encoded: b64) else { return nil }
            bytes = Array(data)
        } else if encoding == "Q" {
            bytes = []
            var chars = Array(payload.utf8)[...]
            while let c = chars.popFirst() {
                if c == UInt8(ascii: "_") {
                    bytes.append(0x20)
                } else if c == UInt8(ascii: "="), chars.count >= 2, let high = hexValue(chars[chars.startIndex]),
                    let low = hexValue(chars[chars.startIndex + 1])
                {
                    bytes.append(high << 4 | low)
                    chars = chars.dropFirst(2)
                } else {
                    bytes.append(c)
                }
            }
        } else {
            return nil
        }
        guard let decoded = decode(bytes, charset: charset) else { return nil }
        return (decoded, parts[3].dropFirst())
    }

    /// The value of one ASCII hex digit (`=XX` of the Q encoding); nil for anything else, signs included.
    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private static func decode(_ bytes: [UInt8], charset: String) -> String? {
        let encoding: String.Encoding
        switch charset {
        case "utf-8", "utf8": encoding = .utf8
        case "us-ascii", "ascii": encoding = .ascii
        case "iso-8859-1", "latin1": encoding = .isoLatin1
        case "iso-8859-2": encoding = .isoLatin2
        case "windows-1252", "cp1252": encoding = .windowsCP1252
        case "windows-1250": encoding = .windowsCP1250
        case "windows-1251": encoding = .windowsCP1251
        default: encoding = .utf8
        }
        return String(bytes: bytes, encoding: encoding) ?? String(decoding: bytes, as: UTF8.self)
    }

    /// ISO 8601 in UTC, e.g. `2024-01-01T10:00:00Z`, always with a four-digit year: an instant
    /// outside years 1–9999 is shown clamped to them.
    public static func iso8601(_ secondsSince1970: Int64) -> String {
        let (days, rest) = InternalDate.dayAndSecond(secondsSince1970)
        let (y, m, d) = InternalDate.civilFromDays(days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(InternalDate.four(y))-\(two(m))-\(two(d))T\(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))Z"
    }
}
