import IMAPCore

/// One message's RFC 5256 §3 sort keys, for ordering a mailbox the way `SORT` does where the
/// server has no SORT (SPEC §3): plain values (octets, integers) so they can be stored and compared
/// without the message.
///
/// Built from ``fetchItems`` as Dovecot 2.3 builds its own: strings in ``Collation`` form
/// (`i;unicode-casemap`, RFC 5051) compared as octets, ties by sequence number. A message may
/// carry several `Subject` or `Date` headers (malformed: RFC 5322 §3.6 allows one of each).
/// `ENVELOPE` shows the last of them, where Dovecot's `SORT` reads the first, so the subject and
/// date come from the first header of a `HEADER.FIELDS (SUBJECT DATE)` section. `ENVELOPE` gives
/// the addresses: with several `From` or `To` headers, Dovecot's `ENVELOPE` and `SORT` read
/// different ones, the one case where this order can still differ from the server's (README).
public struct SortKeys: Hashable, Sendable {
    /// `SUBJECT`: the base subject (RFC 5256 §2.1), collated; empty when there is no Subject.
    public var subject: [UInt8]
    /// `FROM`: the addr-mailbox of the first From address, collated; empty when there is none.
    public var from: [UInt8]
    /// `TO`: the addr-mailbox of the first To address, collated; empty when there is none.
    public var to: [UInt8]
    /// `DATE` (RFC 5256 §2.2): the Date header as seconds since 1970 in UTC; the internal date
    /// when the header is missing or cannot be read.
    public var date: Int64
    /// `SIZE`: RFC822.SIZE in octets.
    public var size: UInt64

    /// The version of how keys are computed (base subject, collation tables, date reading): keys
    /// stored under another version are computed again. 2: subject and date of the first header.
    public static let version = 2

    /// The header fields whose first occurrence gives the subject and the date.
    public static let headerFields = ["Subject", "Date"]
    /// What one FETCH asks for a message's keys.
    public static let fetchItems: [FetchItem] = [.envelope, .internalDate, .rfc822Size, .headerFields(headerFields)]

    public init(subject: [UInt8], from: [UInt8], to: [UInt8], date: Int64, size: UInt64) {
        self.subject = subject
        self.from = from
        self.to = to
        self.date = date
        self.size = size
    }

    /// The keys of a message from its envelope, internal date and size.
    ///
    /// A group's first address is its start marker, whose addr-mailbox is the group's name (RFC
    /// 3501 §7.4.2): `undisclosed-recipients:;` sorts as `UNDISCLOSED-RECIPIENTS`, as in Dovecot.
    public init(envelope: Envelope, internalDate: InternalDate, size: UInt64) {
        subject = envelope.subject.map { BaseSubject.extractKey($0).base } ?? []
        from = Collation.key(envelope.from.first?.mailbox ?? "")
        to = Collation.key(envelope.to.first?.mailbox ?? "")
        date = envelope.date.flatMap(Self.sentDate) ?? internalDate.secondsSince1970
        self.size = size
    }

    /// The keys of a message fetched with ``fetchItems``; nil when the server left out the
    /// envelope, internal date or size. The first `Subject` and `Date` headers count (see above);
    /// without a header section (a server that left it out), the envelope's.
    public init?(_ message: FetchedMessage) {
        self.init(message, firstHeaders: message.firstHeaders())
    }

    /// As ``init(_:)``, with the message's ``FetchedMessage/firstHeaders()`` already read.
    init?(_ message: FetchedMessage, firstHeaders: [String: String]?) {
        guard var envelope = message.envelope, let internalDate = message.internalDate, let size = message.size else {
            return nil
        }
        envelope.withFirstHeaders(firstHeaders)
        self.init(envelope: envelope, internalDate: internalDate, size: size)
    }

    /// The UIDs of `messages` in RFC 5256 `SORT` order for one criterion: by key, ties by sequence
    /// number (ascending UID within a mailbox); `reverse` reverses the key comparison only, so tied
    /// messages stay in ascending order (RFC 5256 §3, and Dovecot; SPEC §7).
    ///
    /// Only SUBJECT, FROM, TO, DATE and SIZE have keys here; any other criterion (ARRIVAL, CC,
    /// DISPLAYFROM, DISPLAYTO) leaves every message tied, so the answer is sequence order.
    public static func order(
        _ messages: [(uid: UInt32, keys: SortKeys)], by criterion: SortKey.Criterion, reverse: Bool
    ) -> [UInt32] {
        let compare: (SortKeys, SortKeys) -> Int
        switch criterion {
        case .subject: compare = { Collation.compare($0.subject, $1.subject) }
        case .from: compare = { Collation.compare($0.from, $1.from) }
        case .to: compare = { Collation.compare($0.to, $1.to) }
        case .date: compare = { $0.date < $1.date ? -1 : $0.date > $1.date ? 1 : 0 }
        case .size: compare = { $0.size < $1.size ? -1 : $0.size > $1.size ? 1 : 0 }
        case .arrival, .cc, .displayFrom, .displayTo: compare = { _, _ in 0 }
        }
        return messages.sorted { a, b in
            let result = compare(a.keys, b.keys)
            if result != 0 { return reverse ? result > 0 : result < 0 }
            return a.uid < b.uid
        }.map(\.uid)
    }

    /// Seconds since 1970 (UTC) of a Date header, read as Dovecot reads it for `SORT (DATE)`
    /// (`message_date_parse`); nil when it cannot be read, and the internal date counts instead.
    ///
    /// `[weekday ","] day month year hour ":" minute [":" second] [zone]`, words separated by
    /// whitespace and comments (RFC 5322 CFWS): any three-character first word followed by a comma
    /// is a weekday; the day has 1–2 digits and must exist in the month; the month is known by its
    /// first three letters (any case); the year has 4 digits (1900 or later) or 2 (`70`–`99` →
    /// 19xx, `00`–`69` → 20xx: Dovecot's pivot, RFC 5322 §4.3 says 50); the hour 1–2 digits
    /// (0–23), `.` may stand for `:`, minutes and seconds 2 digits (a leap second counts as :59).
    /// The zone is `±hhmm` (hh × 60 + mm minutes, any digits), `UT`, `GMT`, the upper-case
    /// `EST`…`PDT`, or a one-letter military zone read as Dovecot does (`A` = +1 h … `M` = +12 h,
    /// `N` = −1 h … `Y` = −12 h, `Z` and `J` = 0, other single characters by Dovecot's arithmetic);
    /// anything else — or nothing — is UTC. Text after the zone is ignored.
    ///
    /// Two Dovecot artefacts are not copied, because RFC 5256 §2.2 asks for the date in UTC and
    /// they contradict it: Dovecot keeps the instant in 32 unsigned bits (so a date before 1970
    /// sorts after 2106, and a date after 2106 wraps) and treats an instant of exactly 0 — or a
    /// local time of 1969-12-31 23:59:59 — as unreadable. Here every instant of years 1900–9999 is
    /// itself; one past 9999-12-31T23:59:59Z is unreadable. Work is linear in the length of `text`.
    ///
    /// The same reading gives the date a listing shows (one reading for the order and the display,
    /// mails and conversations alike). Where it departs from RFC 5322 it does so as Dovecot does:
    /// `50`–`69` are 20xx, lower-case zone names count as UTC, military letters shift.
    public static func sentDate(_ text: String) -> Int64? {
        var parser = DateParser(Array(text.utf8))
        return parser.parse()
    }
}

extension FetchedMessage {
    /// The first header of each name in the message's `HEADER.FIELDS` section (names in lower
    /// case), values as written (continuation lines kept); nil without the section.
    func firstHeaderFields() -> [String: String]? {
        guard let section = sections.first(where: { $0.key.hasPrefix("HEADER.FIELDS") })?.value else { return nil }
        return ReferencesThreading.firstFields(in: String(decoding: section, as: UTF8.self))
    }

    /// ``firstHeaderFields()`` unfolded and trimmed as an envelope shows a value.
    func firstHeaders() -> [String: String]? {
        firstHeaderFields().map(Self.unfolded)
    }

    /// Header values unfolded (line breaks removed) and trimmed.
    static func unfolded(_ fields: [String: String]) -> [String: String] {
        fields.mapValues { value in
            String(decoding: value.utf8.filter { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
                .trimmingCharacters()
        }
    }
}

extension Envelope {
    /// The subject and date of the first `Subject` and `Date` headers in `message`'s
    /// `HEADER.FIELDS` section; a header the section lacks leaves the envelope's value, and a
    /// message without the section is unchanged.
    mutating func withFirstHeaders(of message: FetchedMessage) {
        withFirstHeaders(message.firstHeaders())
    }

    /// As ``withFirstHeaders(of:)``, with the message's ``FetchedMessage/firstHeaders()`` already read.
    mutating func withFirstHeaders(_ fields: [String: String]?) {
        guard let fields else { return }
        if let subject = fields["subject"] { self.subject = subject }
        if let date = fields["date"] { self.date = date }
    }
}

/// Dovecot's `message_date_parser_tokens` over RFC 822 atoms (`rfc822_parse_atom`).
private struct DateParser {
    private let bytes: [UInt8]
    private var position = 0

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    private static let months: [[UInt8]] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ].map { Array($0.utf8) }

    /// The octet at `index`, 0 at and past the end (the header value's terminator).
    private subscript(_ index: Int) -> UInt8 {
        index < bytes.count ? bytes[index] : 0
    }

    private var atEnd: Bool { position >= bytes.count }

    mutating func parse() -> Int64? {
        _ = skipWhitespaceAndComments()
        guard var word = nextWord(), word.count > 0 else { return nil }
        if word.count == 3 {
            guard self[position] == UInt8(ascii: ",") else { return nil }
            position += 1
            _ = skipWhitespaceAndComments()
            guard let next = nextWord(), next.count > 0 else { return nil }
            word = next
        }
        guard (1...2).contains(word.count), let day = Self.number(word) else { return nil }
        guard let monthWord = nextWord(), monthWord.count >= 3,
            let month = Self.months.firstIndex(where: { zip($0, monthWord).allSatisfy { $0 == Self.lower($1) } })
        else { return nil }
        guard let yearWord = nextWord(), yearWord.count == 2 || yearWord.count == 4, var year = Self.number(yearWord)
        else { return nil }
        if yearWord.count == 2 {
            year += year < 70 ? 2000 : 1900
        } else if year < 1900 {
            return nil
        }
        guard let hourWord = nextWord(), (1...2).contains(hourWord.count), let hour = Self.number(hourWord),
            Self.isTimeSeparator(self[position])
        else { return nil }
        position += 1
        _ = skipWhitespaceAndComments()
        guard let minuteWord = nextWord(allowEmpty: true), minuteWord.count == 2, let minute = Self.number(minuteWord)
        else { return nil }
        var second = 0
        if !atEnd, Self.isTimeSeparator(self[position]) {
            position += 1
            _ = skipWhitespaceAndComments()
            guard let secondWord = nextWord(), secondWord.count == 2, let value = Self.number(secondWord) else {
                return nil
            }
            second = value
        }
        guard let zoneWord = nextWord(allowEmpty: true) else { return nil }
        let zone = zoneWord.isEmpty ? 0 : Self.zoneMinutes(zoneWord)
        guard hour <= 23, minute <= 59, second <= 60,
            let days = InternalDate.daysFromCivil(year: year, month: month + 1, day: day)
        else { return nil }
        let instant = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(zone) * 60
        // A zone west of UTC can push 31 Dec 9999 past the last four-digit year: unreadable, not
        // shown as a date that is wrong (HeaderText.iso8601 clamps to 9999).
        return instant <= InternalDate.supportedSeconds.upperBound ? instant : nil
    }

    /// The next atom (and the whitespace and comments after it); empty at the end of the text (nil
    /// then unless `allowEmpty`), nil when the next character cannot start one or a comment after
    /// it is not closed.
    private mutating func nextWord(allowEmpty: Bool = false) -> ArraySlice<UInt8>? {
        if atEnd { return allowEmpty ? [] : nil }
        guard Self.isAtomText(self[position]) else { return nil }
        let start = position
        while !atEnd, Self.isAtomText(self[position]) { position += 1 }
        let word = bytes[start..<position]
        guard skipWhitespaceAndComments() else { return nil }
        return word
    }

    /// Skips whitespace and (nested) comments; false when a comment is not closed.
    private mutating func skipWhitespaceAndComments() -> Bool {
        while !atEnd {
            switch self[position] {
            case 0x20, 0x09, 0x0D, 0x0A:
                position += 1
            case UInt8(ascii: "("):
                guard skipComment() else { return false }
            default:
                return true
            }
        }
        return true
    }

    /// Skips one comment from its `(` (`rfc822_skip_comment`); false when it is not closed.
    private mutating func skipComment() -> Bool {
        var depth = 1
        position += 1
        while !atEnd {
            switch self[position] {
            case UInt8(ascii: "("):
                depth += 1
            case UInt8(ascii: ")"):
                depth -= 1
                if depth == 0 {
                    position += 1
                    return true
                }
            case UInt8(ascii: "\\"):
                position += 1
                if atEnd { return false }
                if self[position] == 0x0D || self[position] == 0x0A || self[position] == 0 { position -= 1 }
            default:
                break
            }
            position += 1
        }
        return false
    }

    /// RFC 5322 atext, plus every octet from 0x80 (Dovecot's `rfc822_atext_chars`).
    private static func isAtomText(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            true
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case 0x80...0xFF:
            true
        default:
            Array("!#$%&'*+-/=?^_`{|}~".utf8).contains(byte)
        }
    }

    private static func isTimeSeparator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".")
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 0x20 : byte
    }

    private static func upper(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 0x20 : byte
    }

    /// The value of a word of ASCII digits (at most 4 of them); nil otherwise.
    private static func number(_ word: ArraySlice<UInt8>) -> Int? {
        guard word.count <= 4, !word.isEmpty else { return nil }
        var value = 0
        for byte in word {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// Minutes east of UTC of a zone word (Dovecot's `parse_timezone`), 0 when unknown.
    private static func zoneMinutes(_ word: ArraySlice<UInt8>) -> Int {
        let zone = Array(word)
        let a = Int(UInt8(ascii: "A"))
        if zone.count == 5, zone[0] == UInt8(ascii: "+") || zone[0] == UInt8(ascii: "-") {
            guard let value = number(word.dropFirst()) else { return 0 }
            let minutes = value / 100 * 60 + value % 100
            return zone[0] == UInt8(ascii: "+") ? minutes : -minutes
        }
        if zone.count == 1 {
            // Dovecot compares the upper-cased letter as a signed char but computes with the
            // original octet: lower-case letters and other characters land far from ±12 h.
            let letter = upper(zone[0])
            let original = Int(zone[0])
            if letter >= 0x80 || letter < UInt8(ascii: "J") { return (original - a + 1) * 60 }
            if letter == UInt8(ascii: "J") { return 0 }
            if letter <= UInt8(ascii: "M") { return (original - a) * 60 }
            if letter < UInt8(ascii: "Z") { return (Int(UInt8(ascii: "M")) - original) * 60 }
            return 0
        }
        if zone.count == 2, upper(zone[0]) == UInt8(ascii: "U"), upper(zone[1]) == UInt8(ascii: "T") { return 0 }
        if zone.count == 3, zone[2] == UInt8(ascii: "T") {
            let offset: Int
            switch upper(zone[0]) {
            case UInt8(ascii: "E"): offset = -5 * 60
            case UInt8(ascii: "C"): offset = -6 * 60
            case UInt8(ascii: "M"): offset = -7 * 60
            case UInt8(ascii: "P"): offset = -8 * 60
            default: return 0
            }
            switch upper(zone[1]) {
            case UInt8(ascii: "D"): return offset + 60
            case UInt8(ascii: "S"): return offset
            default: return 0
            }
        }
        return 0
    }
}
