/// An `INTERNALDATE` (`"17-Jul-1996 02:44:25 -0700"`), with its instant as seconds since 1970.
public struct InternalDate: Hashable, Sendable, CustomStringConvertible {
    public let secondsSince1970: Int64
    /// Zone offset in minutes east of UTC.
    public let zoneMinutes: Int

    public init(secondsSince1970: Int64, zoneMinutes: Int = 0) {
        self.secondsSince1970 = secondsSince1970
        self.zoneMinutes = zoneMinutes
    }

    private static let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]

    /// Parses RFC 3501 `date-time` (the day may be space-padded).
    public init?(parsing text: String) {
        let fields = text.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count == 3 else { return nil }
        let dmy = fields[0].split(separator: "-")
        let hms = fields[1].split(separator: ":")
        let zone = fields[2]
        guard dmy.count == 3, hms.count == 3, zone.count == 5,
            let day = Int(dmy[0]), let monthIndex = Self.months.firstIndex(of: dmy[1].lowercased()),
            let year = Int(dmy[2]), let h = Int(hms[0]), let m = Int(hms[1]), let s = Int(hms[2]),
            let zh = Int(zone.dropFirst().prefix(2)), let zm = Int(zone.suffix(2)),
            zone.first == "+" || zone.first == "-"
        else { return nil }
        let offset = (zh * 60 + zm) * (zone.first == "-" ? -1 : 1)
        let days = Self.daysFromCivil(year: year, month: monthIndex + 1, day: day)
        let local = Int64(days) * 86_400 + Int64(h * 3600 + m * 60 + s)
        self.init(secondsSince1970: local - Int64(offset * 60), zoneMinutes: offset)
    }

    /// The wire form, in the original zone.
    public var description: String {
        let local = secondsSince1970 + Int64(zoneMinutes * 60)
        var days = local / 86_400
        var rest = local % 86_400
        if rest < 0 {
            rest += 86_400
            days -= 1
        }
        let (y, mo, d) = Self.civilFromDays(Int(days))
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let sign = zoneMinutes < 0 ? "-" : "+"
        let z = abs(zoneMinutes)
        let month = Self.months[mo - 1].prefix(1).uppercased() + Self.months[mo - 1].dropFirst()
        return "\(two(d))-\(month)-\(y) \(two(Int(rest / 3600))):\(two(Int(rest % 3600 / 60))):\(two(Int(rest % 60))) "
            + "\(sign)\(two(z / 60))\(two(z % 60))"
    }

    // Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, days since 1970-01-01).
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// (year, month, day) of a day number counted from 1970-01-01.
    public static func civilFromDays(_ z: Int) -> (Int, Int, Int) {
        let z = z + 719_468
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
}
