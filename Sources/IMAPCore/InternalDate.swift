/// An `INTERNALDATE` (`"17-Jul-1996 02:44:25 -0700"`), with its instant as seconds since 1970.
///
/// The calendar arithmetic covers years 1–9999 of the proleptic Gregorian calendar (RFC 3501's
/// `date-year` is four digits, and there is no year 0) and zone offsets up to ±99:59 (the most
/// `+hhmm` can say). Parsing refuses anything outside those bounds; the other functions clamp to
/// them, so no value — from the server or from a header — can make the arithmetic overflow.
public struct InternalDate: Hashable, Sendable, CustomStringConvertible {
    public let secondsSince1970: Int64
    /// Zone offset in minutes east of UTC.
    public let zoneMinutes: Int

    public init(secondsSince1970: Int64, zoneMinutes: Int = 0) {
        self.secondsSince1970 = secondsSince1970
        self.zoneMinutes = zoneMinutes
    }

    /// The years the calendar functions cover.
    public static let supportedYears: ClosedRange<Int> = 1...9999
    /// 0001-01-01T00:00:00Z through 9999-12-31T23:59:59Z as seconds since 1970.
    public static let supportedSeconds: ClosedRange<Int64> = -62_135_596_800...253_402_300_799
    /// Zone offsets in minutes: `-9959` through `+9959`.
    public static let supportedZoneMinutes: ClosedRange<Int> = -5_999...5_999
    /// Day numbers (from 1970-01-01) of 0001-01-01 through 9999-12-31.
    static let supportedDays: ClosedRange<Int> = -719_162...2_932_896

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Parses RFC 3501 `date-time` (the day may be space-padded). Every field is bounded: day
    /// 1–31 and valid for its month, year 1–9999 (four digits), hour 0–23, minute 0–59, second
    /// 0–60 (a leap second counts as :59), zone `±hhmm` with minutes 0–59; otherwise nil.
    public init?(parsing text: String) {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 3 else { return nil }
        let dmy = fields[0].split(separator: "-", omittingEmptySubsequences: false)
        let hms = fields[1].split(separator: ":", omittingEmptySubsequences: false)
        let zone = fields[2].utf8
        guard dmy.count == 3, hms.count == 3, zone.count == 5,
            let monthIndex = Self.months.firstIndex(of: dmy[1].lowercased()),
            let day = Self.decimal(dmy[0], digits: 1...2), let year = Self.decimal(dmy[2], digits: 4...4),
            let h = Self.decimal(hms[0], digits: 1...2), let m = Self.decimal(hms[1], digits: 1...2),
            let s = Self.decimal(hms[2], digits: 1...2), h <= 23, m <= 59, s <= 60,
            let sign = zone.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-"),
            let zh = Self.decimal(fields[2].dropFirst().prefix(2), digits: 2...2),
            let zm = Self.decimal(fields[2].suffix(2), digits: 2...2), zm <= 59,
            let days = Self.daysFromCivil(year: year, month: monthIndex + 1, day: day)
        else { return nil }
        let offset = (zh * 60 + zm) * (sign == UInt8(ascii: "-") ? -1 : 1)
        let local = Int64(days) * 86_400 + Int64(h * 3600 + m * 60 + min(s, 59))
        self.init(secondsSince1970: local - Int64(offset * 60), zoneMinutes: offset)
    }

    /// The wire form, in the original zone. An instant or zone outside the supported bounds is
    /// shown clamped to them (only ``init(secondsSince1970:zoneMinutes:)`` can make one).
    public var description: String {
        let zone = min(max(zoneMinutes, Self.supportedZoneMinutes.lowerBound), Self.supportedZoneMinutes.upperBound)
        let (days, rest) = Self.dayAndSecond(Self.clamped(secondsSince1970) + Int64(zone * 60))
        let (y, mo, d) = Self.civilFromDays(days)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let sign = zone < 0 ? "-" : "+"
        let z = abs(zone)
        let month = Self.months[mo - 1].prefix(1).uppercased() + Self.months[mo - 1].dropFirst()
        return "\(two(d))-\(month)-\(Self.four(y)) \(two(rest / 3600)):\(two(rest % 3600 / 60)):\(two(rest % 60)) "
            + "\(sign)\(two(z / 60))\(two(z % 60))"
    }

    /// `seconds` moved into ``supportedSeconds``.
    public static func clamped(_ seconds: Int64) -> Int64 {
        min(max(seconds, supportedSeconds.lowerBound), supportedSeconds.upperBound)
    }

    /// The day number and the second within that day of an instant, clamped to ``supportedSeconds``.
    public static func dayAndSecond(_ seconds: Int64) -> (day: Int, second: Int) {
        let clamped = clamped(seconds)
        var days = clamped / 86_400
        var rest = clamped % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        return (Int(days), Int(rest))
    }

    /// A year as four digits (`0042`).
    public static func four(_ year: Int) -> String {
        let text = String(year)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }

    /// Days in `month` (1–12) of `year`, Gregorian leap years; 0 for a month outside 1–12.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        default: return 0
        }
    }

    /// Days from 1970-01-01 to a calendar date (Howard Hinnant's `days_from_civil`, proleptic
    /// Gregorian); nil unless the year is in ``supportedYears``, the month 1–12 and the day exists
    /// in that month.
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int? {
        guard supportedYears.contains(year), (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month)
        else { return nil }
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// (year, month, day) of a day number counted from 1970-01-01 (Hinnant's `civil_from_days`);
    /// a day outside years 1–9999 is clamped to 0001-01-01 or 9999-12-31.
    public static func civilFromDays(_ day: Int) -> (Int, Int, Int) {
        let z = min(max(day, supportedDays.lowerBound), supportedDays.upperBound) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (m <= 2 ? y + 1 : y, m, d)
    }

    /// The value of `text` when it is `digits` ASCII decimal digits and nothing else (no sign, no
    /// other script's digits); the digit count (at most 18) bounds the value, so it cannot
    /// overflow. Shared with the header parsers of the gateway.
    package static func decimal(_ text: Substring, digits: ClosedRange<Int>) -> Int? {
        guard digits.upperBound <= 18, digits.contains(text.utf8.count) else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }
}
