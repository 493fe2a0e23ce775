import Foundation
import IMAPCore

/// Display forms of header text: RFC 2047 encoded words decoded, RFC 5322 dates as ISO 8601.
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

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    private static let zones: [String: Int] = [
        "ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -300, "edt": -240, "cst": -360, "cdt": -300, "mst": -420, "mdt": -360,
        "pst": -480, "pdt": -420,
    ]

    /// The years a Date header may name: RFC 5322 §3.3 ("1900 or later"), as Dovecot's `SORT`
    /// reads them, up to the last four-digit year.
    public static let dateYears: ClosedRange<Int> = 1900...9999

    /// Seconds since 1970 of an RFC 5322 date (`Mon, 1 Jan 2024 10:00:00 +0100`); nil when it
    /// cannot be read, and the caller then shows the internal date, as `SORT (DATE)` orders it.
    ///
    /// Mail is written by strangers (SPEC §4), so every number is bounded before any arithmetic:
    /// the weekday, when present, is three letters and a comma; the day 1–2 digits and valid for
    /// the month; the month its English name (first three letters); the year 2–4 digits (RFC 5322
    /// §4.3: `00`–`49` → 20xx, `50`–`99` and three digits → 19xx) within ``dateYears``; the time
    /// `h[h]:mm[:ss]` (`.` accepted as Dovecot does) with hour 0–23, minute 0–59, second 0–60 (a
    /// leap second counts as :59). The zone is `±hhmm` (four ASCII digits, read as hh × 60 + mm
    /// minutes as Dovecot reads it, so at most ±6039 minutes) or an RFC 822 name; a missing,
    /// unknown or malformed zone counts as UTC (RFC 5322 §4.3, and Dovecot's reading). Reading
    /// the fields as Dovecot does keeps the date shown in step with the server's `SORT (DATE)`.
    /// Comments are skipped; text after the zone is ignored. An instant after
    /// 9999-12-31T23:59:59Z is nil. Work is linear in the length of `text`.
    public static func parseDate(_ text: String) -> Int64? {
        var tokens = dateTokens(text, limit: 6)[...]
        if let first = tokens.first, first.text.first?.isLetter == true {
            guard first.text.utf8.count == 3, first.text.allSatisfy(\.isASCII), first.text.allSatisfy(\.isLetter),
                first.commaFollows
            else { return nil }
            tokens = tokens.dropFirst()
        }
        let fields = Array(tokens.prefix(5).map(\.text))
        guard fields.count >= 4, let day = InternalDate.decimal(fields[0], digits: 1...2),
            let monthIndex = months.firstIndex(of: String(fields[1].prefix(3)).lowercased()),
            let written = InternalDate.decimal(fields[2], digits: 2...4)
        else { return nil }
        let digits = fields[2].utf8.count
        let year = digits == 4 ? written : digits == 3 || written >= 50 ? written + 1900 : written + 2000
        let time = fields[3].split(omittingEmptySubsequences: false, whereSeparator: { $0 == ":" || $0 == "." })
        guard dateYears.contains(year), time.count == 2 || time.count == 3,
            let hour = InternalDate.decimal(time[0], digits: 1...2), let minute = InternalDate.decimal(time[1], digits: 2...2),
            let second = time.count == 3 ? InternalDate.decimal(time[2], digits: 2...2) : 0,
            hour <= 23, minute <= 59, second <= 60,
            let days = InternalDate.daysFromCivil(year: year, month: monthIndex + 1, day: day)
        else { return nil }
        let offset = fields.count >= 5 ? zoneMinutes(fields[4]) : 0
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offset * 60)
        return seconds <= InternalDate.supportedSeconds.upperBound ? seconds : nil
    }

    /// A date's first `limit` words: comments (nested, with quoted pairs) and whitespace dropped,
    /// commas separating; each word notes whether a comma came straight after it (the weekday's
    /// does). An unterminated comment runs to the end.
    private static func dateTokens(_ text: String, limit: Int) -> [(text: Substring, commaFollows: Bool)] {
        let scalars = text.unicodeScalars
        var tokens: [(text: Substring, commaFollows: Bool)] = []
        var depth = 0
        var escaped = false
        var start: String.Index?
        func close(at end: String.Index) {
            if let begin = start { tokens.append((Substring(scalars[begin..<end]), false)) }
            start = nil
        }
        var index = scalars.startIndex
        while index < scalars.endIndex, tokens.count <= limit {
            let c = scalars[index]
            if depth > 0 {
                if escaped {
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == "(" {
                    depth += 1
                } else if c == ")" {
                    depth -= 1
                }
            } else {
                switch c {
                case "(":
                    close(at: index)
                    depth = 1
                case " ", "\t", "\r", "\n":
                    close(at: index)
                case ",":
                    close(at: index)
                    if !tokens.isEmpty { tokens[tokens.count - 1].commaFollows = true }
                default:
                    if start == nil { start = index }
                }
            }
            index = scalars.index(after: index)
        }
        close(at: index)
        return Array(tokens.prefix(limit))
    }

    /// Minutes east of UTC of a date's zone: `±hhmm` (hh × 60 + mm, so within ±6039) or an RFC
    /// 822 name; anything else is 0 (UTC).
    private static func zoneMinutes(_ zone: Substring) -> Int {
        if let sign = zone.first, sign == "+" || sign == "-" {
            guard zone.utf8.count == 5, let hh = InternalDate.decimal(zone.dropFirst().prefix(2), digits: 2...2),
                let mm = InternalDate.decimal(zone.suffix(2), digits: 2...2)
            else { return 0 }
            return (hh * 60 + mm) * (sign == "-" ? -1 : 1)
        }
        return zones[zone.lowercased()] ?? 0
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
