import GatewayCore
import IMAPCore
import Testing

/// Header values written by strangers (SPEC §4): every hostile form parses to a value or to nil,
/// never traps, and a Date that cannot be read is nil so the listing falls back to the internal date.
/// A Date header is read once, by `SortKeys.sentDate`, for the order and the date shown alike (the
/// tables of Dovecot's reading are in SortKeysTests). Pure, so these run without Dovecot.
@Suite struct HeaderTextTests {
    /// Dates that must not be read: overflowing, negative or out-of-range numbers, missing fields.
    @Test(arguments: [
        ("overflowing hour", "Mon, 1 Jan 2024 9999999999999999:00 +0000"),
        ("hour past Int64", "Mon, 1 Jan 2024 99999999999999999999999:00 +0000"),
        ("17-digit year", "Mon, 1 Jan 99999999999999999 10:00:00 +0000"),
        ("year Int.max", "Mon, 1 Jan 9223372036854775807 10:00:00 +0000"),
        ("year 0", "Mon, 1 Jan 0000 10:00:00 +0000"),
        ("one-digit year", "Mon, 1 Jan 0 10:00:00 +0000"),
        ("year 99999", "Mon, 1 Jan 99999 10:00:00 +0000"),
        ("year before 1900", "Mon, 1 Jan 1899 10:00:00 +0000"),
        ("negative year", "Mon, 1 Jan -2024 10:00:00 +0000"),
        ("huge day", "Mon, 9223372036854775807 Jan 2024 10:00:00 +0000"),
        ("negative day", "Mon, -1 Jan 2024 10:00:00 +0000"),
        ("signed day", "Mon, +1 Jan 2024 10:00:00 +0000"),
        ("day 0", "Mon, 0 Jan 2024 10:00:00 +0000"),
        ("day 32", "Mon, 32 Jan 2024 10:00:00 +0000"),
        ("30 February", "Fri, 30 Feb 2024 10:00:00 +0000"),
        ("29 February of a common year", "Thu, 29 Feb 2023 10:00:00 +0000"),
        ("negative hour", "Mon, 1 Jan 2024 -1:00:00 +0000"),
        ("hour 24", "Mon, 1 Jan 2024 24:00:00 +0000"),
        ("negative minute", "Mon, 1 Jan 2024 10:-5:00 +0000"),
        ("minute 60", "Mon, 1 Jan 2024 10:60:00 +0000"),
        ("second 61", "Mon, 1 Jan 2024 10:00:61 +0000"),
        ("overflowing second", "Mon, 1 Jan 2024 10:00:99999999999999999999 +0000"),
        ("overflowing minute", "Mon, 1 Jan 2024 10:9223372036854775807 +0000"),
        ("four time parts", "Mon, 1 Jan 2024 10:00:00:00 +0000"),
        ("hour only", "Mon, 1 Jan 2024 10 +0000"),
        ("empty time parts", "Mon, 1 Jan 2024 :: +0000"),
        ("missing time", "Mon, 1 Jan 2024"),
        ("missing year", "Mon, 1 Jan 10:00:00"),
        ("missing month", "Mon, 1 2024 10:00:00 +0000"),
        ("unknown month", "Mon, 1 Foo 2024 10:00:00 +0000"),
        ("non-ASCII digits", "Mon, ١ Jan ٢٠٢٤ 10:00:00 +0000"),
        ("weekday without comma", "Mon 1 Jan 2024 10:00:00 +0000"),
        ("empty", ""),
        ("blank", "  \t "),
        ("commas only", ",,,"),
        ("garbage", "garbage"),
        ("NUL bytes", "Mon, 1\0 Jan 2024 10:00:00 +0000"),
        ("100 KB of digits", String(repeating: "9", count: 100_000)),
        ("100 KB of fields", String(repeating: "1 Jan ", count: 17_000)),
        ("unterminated comment", "Mon, 1 Jan 2024 (10:00:00 +0000"),
        ("three-digit year (Dovecot's SORT cannot read it either)", "1 Jan 124 10:00 +0000"),
    ])
    func unreadableDateIsNil(_ name: String, _ text: String) {
        #expect(SortKeys.sentDate(text) == nil, "\(name)")
    }

    /// Dates that are read, with what they mean in UTC: absurd or broken zones count as UTC
    /// (RFC 5322 §4.3, and what Dovecot's SORT does), bounded zones shift the instant.
    @Test(arguments: [
        ("plain", "Mon, 01 Jan 2024 10:00:00 +0000", "2024-01-01T10:00:00Z"),
        ("no weekday, no seconds", "1 Jan 2024 12:30 +0230", "2024-01-01T10:00:00Z"),
        ("obsolete zone name", "Tue, 2 Jul 2019 08:00:00 EST", "2019-07-02T13:00:00Z"),
        ("missing zone", "Mon, 1 Jan 2024 10:00:00", "2024-01-01T10:00:00Z"),
        ("six-digit zone", "Mon, 1 Jan 2024 10:00:00 +99999", "2024-01-01T10:00:00Z"),
        ("twenty-digit zone", "Mon, 1 Jan 2024 10:00:00 -99999999999999999999", "2024-01-01T10:00:00Z"),
        ("double sign zone", "Mon, 1 Jan 2024 10:00:00 +-0100", "2024-01-01T10:00:00Z"),
        ("zone minutes 60, read as Dovecot does", "Mon, 1 Jan 2024 10:00:00 +0160", "2024-01-01T08:00:00Z"),
        ("zone +9999", "Mon, 1 Jan 2024 10:00:00 +9999", "2023-12-28T05:21:00Z"),
        ("unknown zone name", "Mon, 1 Jan 2024 10:00:00 XYZT", "2024-01-01T10:00:00Z"),
        ("zone -2400", "Mon, 1 Jan 2024 10:00:00 -2400", "2024-01-02T10:00:00Z"),
        ("zone +9959", "Mon, 1 Jan 2024 10:00:00 +9959", "2023-12-28T06:01:00Z"),
        ("zone -9959", "Mon, 1 Jan 2024 10:00:00 -9959", "2024-01-05T13:59:00Z"),
        ("comment after zone", "Mon, 1 Jan 2024 10:00:00 +0100 (CET)", "2024-01-01T09:00:00Z"),
        ("comment glued to zone", "Mon, 1 Jan 2024 10:00:00 +0100(CET)", "2024-01-01T09:00:00Z"),
        ("nested comment", "Mon, (a (b) c) 1 Jan 2024 10:00:00 +0000", "2024-01-01T10:00:00Z"),
        ("folded", "Mon,\r\n 1 Jan 2024\r\n\t10:00:00 +0000", "2024-01-01T10:00:00Z"),
        ("leap second", "Sun, 31 Dec 2016 23:59:60 +0000", "2016-12-31T23:59:59Z"),
        ("leap day", "Thu, 29 Feb 2024 00:00:00 +0000", "2024-02-29T00:00:00Z"),
        ("two-digit year before 70", "1 Jan 24 10:00 +0000", "2024-01-01T10:00:00Z"),
        ("two-digit year 50-69: 20xx, Dovecot's pivot (RFC 5322 says 19xx)", "1 Jan 60 10:00 +0000", "2060-01-01T10:00:00Z"),
        ("two-digit year from 70", "1 Jan 99 10:00 +0000", "1999-01-01T10:00:00Z"),
        ("first year", "Mon, 1 Jan 1900 00:00:00 +0000", "1900-01-01T00:00:00Z"),
        ("first year, east zone", "Mon, 1 Jan 1900 00:00:00 +0100", "1899-12-31T23:00:00Z"),
        ("last second", "Fri, 31 Dec 9999 23:59:59 +0000", "9999-12-31T23:59:59Z"),
        ("single-digit hour", "Mon, 1 Jan 2024 9:05 +0000", "2024-01-01T09:05:00Z"),
        ("dot separators", "Mon, 1 Jan 2024 10.00.00 +0000", "2024-01-01T10:00:00Z"),
        ("month name long", "1 January 2024 10:00 +0000", "2024-01-01T10:00:00Z"),
    ])
    func readableDate(_ name: String, _ text: String, _ expected: String) {
        #expect(SortKeys.sentDate(text).map(HeaderText.iso8601) == expected, "\(name)")
    }

    /// An instant past the last second of 9999 (the local time is in range, the zone pushes it out)
    /// is not shown as a wrong date: it is unreadable.
    @Test func dateBeyondYear9999IsNil() {
        #expect(SortKeys.sentDate("Fri, 31 Dec 9999 23:59:59 -0001") == nil)
    }

    /// ISO 8601 of any Int64: always a four-digit year, clamped to 0001–9999.
    static let instants: [(Int64, String)] = [
        (0, "1970-01-01T00:00:00Z"), (-1, "1969-12-31T23:59:59Z"), (1_704_103_200, "2024-01-01T10:00:00Z"),
        (Int64.max, "9999-12-31T23:59:59Z"), (Int64.min, "0001-01-01T00:00:00Z"), (Int64.max - 86_398, "9999-12-31T23:59:59Z"),
        (Int64.min + 86_398, "0001-01-01T00:00:00Z"), (-62_135_596_800, "0001-01-01T00:00:00Z"),
        (253_402_300_799, "9999-12-31T23:59:59Z"), (-2_208_988_800, "1900-01-01T00:00:00Z"),
    ]

    @Test(arguments: instants)
    func iso8601IsTotal(_ seconds: Int64, _ expected: String) {
        #expect(HeaderText.iso8601(seconds) == expected)
    }

    /// `INTERNALDATE` values a broken server could send: refused, never trapped on.
    @Test(arguments: [
        "01-Jan-99999999999999999 00:00:00 +0000", "01-Jan-9223372036854775807 00:00:00 +0000",
        "01-Jan-2024 9999999999999999:00:00 +0000", "01-Jan-2024 00:9223372036854775807:00 +0000",
        "9223372036854775807-Jan-2024 00:00:00 +0000", "01-Jan-0000 00:00:00 +0000", "01-Jan-99999 00:00:00 +0000",
        "32-Jan-2024 00:00:00 +0000", "00-Jan-2024 00:00:00 +0000", "30-Feb-2024 00:00:00 +0000",
        "-1-Jan-2024 00:00:00 +0000", "+1-Jan-2024 00:00:00 +0000", "01-Jan-2024 24:00:00 +0000",
        "01-Jan-2024 -1:00:00 +0000", "01-Jan-2024 00:60:00 +0000", "01-Jan-2024 00:00:61 +0000",
        "01-Jan-2024 00:00:00 +-100", "01-Jan-2024 00:00:00 +0160", "01-Jan-2024 00:00:00 +99999",
        "01-Jan--202 00:00:00 +0000",
    ])
    func hostileInternalDateIsRefused(_ text: String) {
        #expect(InternalDate(parsing: text) == nil)
    }

    /// The wire form of any instant and zone: never traps, always within years 1–9999.
    static let extremeInstants: [(Int64, Int)] = [
        (Int64.max, Int.max), (Int64.min, Int.min), (Int64.max, 0), (Int64.min, 0), (0, Int.max), (0, Int.min), (0, 5_999),
        (0, -5_999),
    ]

    @Test(arguments: extremeInstants)
    func internalDateDescriptionIsTotal(_ seconds: Int64, _ zone: Int) {
        let text = InternalDate(secondsSince1970: seconds, zoneMinutes: zone).description
        #expect(InternalDate(parsing: text) != nil, "\(text)")
    }

    /// Broken encoded words stay as they were sent; unknown charsets decode as UTF-8; nothing traps.
    @Test(arguments: [
        ("broken base64", "=?UTF-8?B?!!!!?=", "=?UTF-8?B?!!!!?="),
        ("unpadded base64", "=?UTF-8?B?U29jaQ?=", "Soci"),
        ("base64 of invalid UTF-8", "=?UTF-8?B?//79?=", "\u{FFFD}\u{FFFD}\u{FFFD}"),
        ("unknown charset", "=?x-unknown-42?Q?caf=C3=A9?=", "café"),
        ("empty charset", "=??Q?abc?=", "abc"),
        ("unknown encoding", "=?UTF-8?X?abc?=", "=?UTF-8?X?abc?="),
        ("broken Q escape", "=?UTF-8?Q?a=ZZb=?=", "a=ZZb="),
        ("signed Q escape", "=?UTF-8?Q?a=+Fb?=", "a=+Fb"),
        ("unterminated", "=?UTF-8?Q?abc", "=?UTF-8?Q?abc"),
        ("space in payload", "=?UTF-8?Q?a b?=", "=?UTF-8?Q?a b?="),
        ("bare opener", "=?", "=?"),
        ("openers only", "=?=?=?=?", "=?=?=?=?"),
        ("question marks", "=????=", "=????="),
        ("ASCII charset with 8-bit", "=?us-ascii?Q?=FF?=", "\u{FFFD}"),
        ("NUL", "=?UTF-8?Q?a=00b?=", "a\0b"),
        ("language tag", "=?UTF-8*en?Q?hi?=", "hi"),
    ])
    func hostileEncodedWords(_ name: String, _ text: String, _ expected: String) {
        #expect(HeaderText.decodeWords(text) == expected, "\(name)")
    }

    /// Large hostile inputs decode in time linear in their size (a quadratic scan of 200 KB would
    /// take minutes here): each must finish well within the listing's budget.
    @Test(arguments: [
        ("openers", String(repeating: "=?", count: 100_000)),
        ("unterminated words", String(repeating: "=?UTF-8?Q?", count: 20_000)),
        ("words without end", "=?" + String(repeating: "a", count: 200_000)),
        ("many words", String(repeating: "=?UTF-8?B?YWJj?= ", count: 20_000)),
        ("one huge word", "=?UTF-8?B?" + String(repeating: "QUFB", count: 50_000) + "?="),
        ("combining marks", "=" + String(repeating: "\u{301}", count: 100_000) + "?"),
        ("regional indicators", String(repeating: "\u{1F1EB}", count: 50_000)),
        ("whitespace", String(repeating: " \t\r\n", count: 50_000)),
    ])
    func largeHostileWordsDecodeQuickly(_ name: String, _ text: String) {
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = HeaderText.decodeWords(text) }
        #expect(elapsed < .seconds(5), "\(name) took \(elapsed)")
    }

    /// Priority headers: only a single digit 1–5 in `X-Priority` counts; garbage in one header
    /// leaves the decision to the next; nothing traps.
    @Test(arguments: [
        ("X-Priority: 99999999999999999999\r\n", 1), ("X-Priority: 10\r\n", 1), ("X-Priority: -1\r\n", 1),
        ("X-Priority: 0\r\n", 1), ("X-Priority: 6\r\n", 1), ("X-Priority: ½\r\n", 1), ("X-Priority: ١\r\n", 1),
        ("X-Priority: 1 (Highest)\r\n", 2), ("X-Priority:1\r\n", 2), ("X-Priority: 5\r\n", 0),
        ("X-Priority: garbage 1\r\nImportance: low\r\n", 0), ("X-Priority: 99999999999999999999\r\nPriority: urgent\r\n", 2),
        ("X-Priority: \r\n", 1), ("X-Priority\r\n", 1), (":\r\n", 1), ("Importance: \u{0}high\r\n", 1),
        ("Importance: " + String(repeating: "x", count: 100_000) + "\r\n", 1),
        ("X-Priority: " + String(repeating: "9", count: 100_000) + "\r\n", 1),
        ("Priority: " + String(repeating: "urgent ", count: 10_000) + "\r\n", 2),
        (String(repeating: "X-Priority: 1\r\n", count: 10_000), 2),
        ("X-Priority: 4\r\n" + String(repeating: " continued\r\n", count: 10_000), 0),
    ])
    func hostilePriorityHeaders(_ headers: String, _ expected: Int) {
        #expect(OrderingRules.importance(headers: headers).rawValue == expected)
    }
}
