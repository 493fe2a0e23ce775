import GatewayCore
import IMAPCore
import Testing

/// RFC 5256 §3 sort keys and orders computed by the gateway, as Dovecot's `SORT` gives them
/// (Tests/GatewayTests/SortAgreementTests.swift proves the same against Dovecot). Pure.
@Suite struct SortKeysTests {
    /// Dates Dovecot reads (`message_date_parse`), with their instants.
    @Test(arguments: [
        ("Mon, 1 Jan 2024 10:00:00 +0000", 1_704_103_200),
        ("Mon, 01 Jan 2024 10:00:00 +0100", 1_704_099_600),
        ("1 Jan 2024 10:00:00 -0500", 1_704_121_200),
        ("Mon, 1 Jan 2024 10:00 +0000", 1_704_103_200),
        ("Mon, 1 Jan 2024 10.00.05 +0000", 1_704_103_205),
        ("Mon, 1 Jan 2024 9:05:00 +0000", 1_704_099_900),
        ("Mon, 1 Jan 2024 10 : 00 : 05 +0000", 1_704_103_205),
        ("Mon, 1 Jan 2024 23:59:60 +0000", 1_704_153_599),
        ("XyZ, 1 Jan 2024 10:00:00 +0000", 1_704_103_200),
        ("Mon , 1 Jan 2024 10:00:00 +0000", 1_704_103_200),
        ("(c) Mon, (d) 1 (m) Jan (y) 2024 10:00:00 (z) +0000", 1_704_103_200),
        ("Mon, 1 january 2024 10:00:00 +0000", 1_704_103_200),
        ("Mon, 1 JAN 2024 10:00:00 +0000", 1_704_103_200),
        ("29 Feb 2024 10:00:00 +0000", 1_709_200_800),
        // Two-digit years: Dovecot's pivot is 70 (RFC 5322 §4.3 says 50).
        ("1 Jan 69 10:00:00 +0000", 3_124_260_000),
        ("1 Jan 70 10:00:00 +0000", 36_000),
        ("1 Jan 99 10:00:00 +0000", 915_184_800),
        ("1 Jan 00 10:00:00 +0000", 946_720_800),
        // Zones: numeric with any digits, upper-case names only, military letters by Dovecot's arithmetic.
        ("1 Jan 2024 10:00:00 EST", 1_704_121_200),
        ("1 Jan 2024 10:00:00 EDT", 1_704_117_600),
        ("1 Jan 2024 10:00:00 est", 1_704_103_200),
        ("1 Jan 2024 10:00:00 PsT", 1_704_132_000),
        ("1 Jan 2024 10:00:00 GMT", 1_704_103_200),
        ("1 Jan 2024 10:00:00 UT", 1_704_103_200),
        ("1 Jan 2024 10:00:00 UTC", 1_704_103_200),
        ("1 Jan 2024 10:00:00 Z", 1_704_103_200),
        ("1 Jan 2024 10:00:00 A", 1_704_099_600),
        ("1 Jan 2024 10:00:00 M", 1_704_060_000),
        ("1 Jan 2024 10:00:00 N", 1_704_106_800),
        ("1 Jan 2024 10:00:00 Y", 1_704_146_400),
        ("1 Jan 2024 10:00:00 J", 1_704_103_200),
        ("1 Jan 2024 10:00:00 a", 1_703_984_400),
        ("1 Jan 2024 10:00:00 1", 1_704_157_200),
        ("1 Jan 2024 10:00:00 +9959", 1_703_743_260),
        ("1 Jan 2024 10:00:00 -0099", 1_704_109_140),
        ("1 Jan 2024 10:00:00 +01:00", 1_704_103_200),
        ("1 Jan 2024 10:00:00 GMT+1", 1_704_103_200),
        ("1 Jan 2024 10:00:00 +0100 (CET)", 1_704_099_600),
        ("1 Jan 2024 10:00:00", 1_704_103_200),
        ("1 Jan 2024 10:00:00 (CET)", 1_704_103_200),
        // Every instant is itself (RFC 5256 §2.2), where Dovecot wraps at 32 bits and treats 0 as unread.
        ("1 Jan 1900 00:00:00 +0000", -2_208_988_800),
        ("15 Mar 1950 12:00:00 -0500", -624_783_600),
        ("1 Jan 1970 00:00:00 +0000", 0),
        ("31 Dec 1969 23:59:59 +0000", -1),
        ("7 Feb 2106 06:28:16 +0000", 4_294_967_296),
        ("31 Dec 9999 23:59:59 +0000", 253_402_300_799),
    ])
    func readableDate(text: String, seconds: Int64) {
        #expect(SortKeys.sentDate(text) == seconds, "\(text)")
    }

    /// Dates Dovecot cannot read: the internal date sorts them.
    @Test(arguments: [
        "", "garbage", "Mon 1 Jan 2024 10:00:00 +0000", "Mon, 30 Feb 2024 10:00:00 +0000",
        "Mon, 1 Jan 2024 24:00:00 +0000", "Mon, 1 Jan 2024 10:60:00 +0000", "Mon, 1 Jan 2024 10:00:61 +0000",
        "1 Jan 24", "Mon, 1 Jan 999 10:00:00 +0000", "Mon, 1 Jan 1899 10:00:00 +0000", "Mon, 32 Jan 2024 10:00:00 +0000",
        "Mon, 0 Jan 2024 10:00:00 +0000", "Mon, 1 Foo 2024 10:00:00 +0000", "Mon, 1 Ja 2024 10:00:00 +0000",
        "2024-01-01T10:00:00Z", "Mon, 1 Jan 2024", "Mon, 1 Jan 2024 10:00+0100", "Mon, 1 Jan 2024 10:00:00,+0100",
        "Mon, 1 Jan. 2024 10:00:00 +0000", "Mon, 1 Jan 2024 10:00:00 (unclosed", "Mon, 1 Jan 2024 10:00:00 +0000 (open",
        "Mon, 1 Jan 2024 10:0 +0000", "Mon, 1 Jan 2024 100:00:00 +0000", "Mon, 1 Jan 2024 10:00:5 +0000",
        "Mon, 1 Jan 99999 10:00:00 +0000", "Mon, -1 Jan 2024 10:00:00 +0000", "Mon, 1 Jan 2024 99999999999999999999:00",
        "Mon, 1 Jan 9223372036854775807 10:00:00 +0000", "Mon, 1 Jan 2024 10:", "Mon,",
    ])
    func unreadableDate(text: String) {
        #expect(SortKeys.sentDate(text) == nil, "\(text)")
    }

    /// Keys from a fetched message: base subject, first addresses (a group's name), date or internal date.
    @Test func keysFromAFetchedMessage() throws {
        let arrival = InternalDate(secondsSince1970: 1_600_000_000)
        let envelope = Envelope(
            date: "Mon, 1 Jan 2024 10:00:00 +0000", subject: "Re: [list] Hello  World (fwd)",
            from: [Envelope.Address(name: "Zoë", mailbox: "Zoë", host: "example.test"), Envelope.Address(mailbox: "b", host: "x")],
            to: [Envelope.Address(mailbox: "undisclosed-recipients"), Envelope.Address()])
        let message = FetchedMessage(
            sequenceNumber: 1, attributes: [.uid(7), .envelope(envelope), .internalDate(arrival), .rfc822Size(1234)])
        let keys = try #require(SortKeys(message))
        #expect(keys.subject == Array("HELLO WORLD".utf8))
        #expect(keys.from == Array("ZOE\u{308}".utf8))
        #expect(keys.to == Array("UNDISCLOSED-RECIPIENTS".utf8))
        #expect(keys.date == 1_704_103_200)
        #expect(keys.size == 1234)
    }

    /// The subject and date come from the first `Subject` and `Date` headers of the
    /// `HEADER.FIELDS` section, as Dovecot's SORT reads them; `ENVELOPE` shows the last ones.
    /// A header the section lacks, or a missing section, leaves the envelope's value.
    @Test(arguments: [
        // (header section or nil, envelope subject, envelope date, expected base subject, expected date)
        ("Subject: Alpha\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nSubject: Omega\r\nDate: Tue, 2 Jan 2001 10:00:00 +0000\r\n\r\n",
         "Omega", "Tue, 2 Jan 2001 10:00:00 +0000", "ALPHA", Int64(1_704_103_200)),
        ("Subject: Re: Folded\r\n  subject\r\nSubject: Other\r\n\r\n", "Other", "Mon, 1 Jan 2024 10:00:00 +0000",
         "FOLDED SUBJECT", Int64(1_704_103_200)),
        ("Date: unreadable\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n", "Kept", "Mon, 1 Jan 2024 10:00:00 +0000",
         "KEPT", Int64(1_600_000_000)),
        ("SUBJECT:   =?utf-8?q?Caf=C3=A9?=   \r\nsubject: Later\r\n\r\n", "Later", nil, "CAFE\u{301}", Int64(1_600_000_000)),
        ("\r\n", "Envelope", "Mon, 1 Jan 2024 10:00:00 +0000", "ENVELOPE", Int64(1_704_103_200)),
        (nil, "Envelope only", "Mon, 1 Jan 2024 10:00:00 +0000", "ENVELOPE ONLY", Int64(1_704_103_200)),
    ] as [(String?, String, String?, String, Int64)])
    func firstSubjectAndDateHeadersCount(section: String?, subject: String, date: String?, base: String, expected: Int64) throws {
        var attributes: [FetchAttribute] = [
            .uid(1), .envelope(Envelope(date: date, subject: subject)),
            .internalDate(InternalDate(secondsSince1970: 1_600_000_000)), .rfc822Size(10),
        ]
        if let section {
            attributes.append(.bodySection(section: "HEADER.FIELDS (SUBJECT DATE)", origin: nil, data: Array(section.utf8)))
        }
        let message = FetchedMessage(sequenceNumber: 1, attributes: attributes)
        let keys = try #require(SortKeys(message))
        #expect(String(decoding: keys.subject, as: UTF8.self) == base)
        #expect(keys.date == expected)
        #expect(ThreadHeaders(message).keys == keys, "the conversation index reads the same keys")
    }

    /// Missing or unreadable values: empty strings, the internal date; nil without the fetched items.
    @Test func missingValues() throws {
        let arrival = InternalDate(secondsSince1970: 1_600_000_000)
        let bare = SortKeys(envelope: Envelope(), internalDate: arrival, size: 0)
        #expect(bare == SortKeys(subject: [], from: [], to: [], date: 1_600_000_000, size: 0))
        let unreadable = SortKeys(envelope: Envelope(date: "yesterday", subject: ""), internalDate: arrival, size: 5)
        #expect(unreadable.date == 1_600_000_000)
        #expect(unreadable.subject == [])
        #expect(SortKeys(FetchedMessage(sequenceNumber: 1, attributes: [.uid(1), .rfc822Size(5)])) == nil)
    }

    /// Keys of messages 1…n with the given subjects, dates and sizes.
    static func messages(subjects: [String] = [], dates: [Int64] = [], sizes: [UInt64] = []) -> [(uid: UInt32, keys: SortKeys)] {
        let count = max(subjects.count, dates.count, sizes.count)
        return (0..<count).map { i in
            let subject = i < subjects.count ? BaseSubject.extractKey(subjects[i]).base : []
            let keys = SortKeys(
                subject: subject, from: Collation.key(i < subjects.count ? subjects[i] : ""), to: [],
                date: i < dates.count ? dates[i] : 0, size: i < sizes.count ? sizes[i] : 0)
            return (UInt32(i + 1), keys)
        }
    }

    /// (criterion, ascending, descending) over fixed messages: REVERSE reverses the key, ties stay ascending.
    @Test(arguments: [
        // SPEC §7: UIDs 1–6, pairs share a date.
        (SortKey.Criterion.date, SortKeysTests.messages(dates: [10, 10, 20, 20, 30, 30]), [1, 2, 3, 4, 5, 6], [5, 6, 3, 4, 1, 2]),
        (.date, SortKeysTests.messages(dates: [30, 10, 20, 10, -5]), [5, 2, 4, 3, 1], [1, 3, 2, 4, 5]),
        (.size, SortKeysTests.messages(sizes: [5, 1, 5, 1, 9]), [2, 4, 1, 3, 5], [5, 1, 3, 2, 4]),
        (.subject, SortKeysTests.messages(subjects: ["b", "Re: a", "A", "c", "a (fwd)"]), [2, 3, 5, 1, 4], [4, 1, 2, 3, 5]),
        (.subject, SortKeysTests.messages(subjects: ["", "Fwd: x", "[list] X", "y", ""]), [1, 5, 2, 3, 4], [4, 2, 3, 1, 5]),
        (.from, SortKeysTests.messages(subjects: ["bob", "Alice", "alice", "ALICE", ""]), [5, 2, 3, 4, 1], [1, 2, 3, 4, 5]),
        (.to, SortKeysTests.messages(subjects: ["b", "a"]), [1, 2], [1, 2]),
        (.arrival, SortKeysTests.messages(dates: [3, 2, 1]), [1, 2, 3], [1, 2, 3]),
        (.cc, SortKeysTests.messages(dates: [3, 2, 1]), [1, 2, 3], [1, 2, 3]),
    ])
    func order(criterion: SortKey.Criterion, messages: [(uid: UInt32, keys: SortKeys)], ascending: [UInt32], descending: [UInt32]) {
        #expect(SortKeys.order(messages, by: criterion, reverse: false) == ascending)
        #expect(SortKeys.order(messages, by: criterion, reverse: true) == descending)
        #expect(SortKeys.order(messages.reversed(), by: criterion, reverse: false) == ascending, "input order does not matter")
        #expect(SortKeys.order(messages.reversed(), by: criterion, reverse: true) == descending)
    }

    /// Ten thousand messages with few distinct keys: every tie in ascending UID order, both directions.
    @Test(arguments: [SortKey.Criterion.subject, .date, .size], [false, true])
    func manyTies(criterion: SortKey.Criterion, reverse: Bool) {
        let messages: [(uid: UInt32, keys: SortKeys)] = (1...10_000).map { number in
            let uid = UInt32(number)
            let keys = SortKeys(subject: [UInt8(uid % 3)], from: [], to: [], date: Int64(uid % 7), size: UInt64(uid % 2))
            return (uid, keys)
        }
        let value: [UInt32: Int64] = Dictionary(uniqueKeysWithValues: messages.map { message in
            switch criterion {
            case .subject: (message.uid, Int64(message.keys.subject[0]))
            case .date: (message.uid, message.keys.date)
            default: (message.uid, Int64(message.keys.size))
            }
        })
        let order = SortKeys.order(messages.shuffled(), by: criterion, reverse: reverse)
        #expect(order.count == messages.count)
        let misplaced = zip(order, order.dropFirst()).filter { a, b in
            let (x, y) = (value[a] ?? 0, value[b] ?? 0)
            if x == y { return a > b }
            return reverse ? x < y : x > y
        }
        #expect(misplaced.isEmpty)
    }
}
