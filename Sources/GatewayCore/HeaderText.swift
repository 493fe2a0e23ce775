import Foundation
import IMAPCore

/// Display forms of header text: RFC 2047 encoded words decoded, RFC 5322 dates as ISO 8601.
public enum HeaderText {
    /// Decodes `=?charset?B|Q?…?=` words (UTF-8, ISO-8859-x, Windows-125x, US-ASCII); whitespace
    /// between adjacent encoded words is dropped, as RFC 2047 §6.2 says. Unknown words stay as they are.
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
            while b64.count % 4 != 0 { b64 += "=" }
            guard let data = Data(base64Encoded: b64) else { return nil }
            bytes = Array(data)
        } else if encoding == "Q" {
            bytes = []
            var chars = Array(payload.utf8)[...]
            while let c = chars.popFirst() {
                if c == UInt8(ascii: "_") {
                    bytes.append(0x20)
                } else if c == UInt8(ascii: "="), chars.count >= 2,
                    let v = UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)
                {
                    bytes.append(v)
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

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let zones: [String: Int] = [
        "ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360,
        "pst": -480, "pdt": -420,
    ]

    /// Seconds since 1970 of an RFC 5322 date (`Mon, 1 Jan 2024 10:00:00 +0100`, weekday and
    /// seconds optional, obsolete zone names accepted); nil if unparseable.
    public static func parseDate(_ text: String) -> Int64? {
        var fields = text.replacingOccurrences(of: ",", with: " ").split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if let first = fields.first, first.first?.isLetter == true { fields.removeFirst() }
        guard fields.count >= 4, let day = Int(fields[0]), let monthIndex = months.firstIndex(of: String(fields[1].prefix(3)).lowercased()),
            var year = Int(fields[2])
        else { return nil }
        if year < 50 { year += 2000 } else if year < 1000 { year += 1900 }
        let time = fields[3].split(separator: ":").compactMap { Int($0) }
        guard time.count >= 2 else { return nil }
        var offset = 0
        if fields.count >= 5 {
            let zone = fields[4]
            if let sign = zone.first, sign == "+" || sign == "-", zone.count == 5, let hhmm = Int(zone.dropFirst()) {
                offset = (hhmm / 100 * 60 + hhmm % 100) * (sign == "-" ? -1 : 1)
            } else {
                offset = zones[zone.lowercased()] ?? 0
            }
        }
        let days = InternalDate.daysFromCivil(year: year, month: monthIndex + 1, day: day)
        let seconds = Int64(days) * 86_400 + Int64(time[0] * 3600 + time[1] * 60 + (time.count > 2 ? time[2] : 0))
        return seconds - Int64(offset * 60)
    }

    /// ISO 8601 in UTC, e.g. `2024-01-01T10:00:00Z`.
    public static func iso8601(_ secondsSince1970: Int64) -> String {
        let days = Int((secondsSince1970 >= 0 ? secondsSince1970 : secondsSince1970 - 86_399) / 86_400)
        let rest = Int(secondsSince1970 - Int64(days) * 86_400)
        let (y, m, d) = InternalDate.civilFromDays(days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60))Z"
    }
}
