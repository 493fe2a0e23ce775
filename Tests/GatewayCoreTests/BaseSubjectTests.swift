import GatewayCore
import Testing

/// RFC 5256 §2.1 base subjects, as Dovecot's `SORT (SUBJECT)` computes them: the ABNF's own
/// cases, Dovecot's readings where the RFC leaves room, and hostile subjects that must cost no
/// more than their length. Bases are in Collation form (titlecased, decomposed). Pure.
@Suite struct BaseSubjectTests {
    /// (subject, base, isReplyOrForward)
    @Test(arguments: [
        // RFC 5256 §2.1 steps and ABNF.
        ("test", "TEST", false),
        ("Re: test", "TEST", true),
        ("re: test", "TEST", true),
        ("RE:test", "TEST", true),
        ("Re : test", "TEST", true),
        ("Re: Re: test", "TEST", true),
        ("Re:Re:Re: test", "TEST", true),
        ("Fwd: test", "TEST", true),
        ("Fw: test", "TEST", true),
        ("FWD:test", "TEST", true),
        ("Re[2]: test", "TEST", true),
        ("Re [2]: test", "TEST", true),
        ("Fwd [list] : test", "TEST", true),
        ("[list] Re: test", "TEST", true),
        ("[a][b] Re: test", "TEST", true),
        ("Re: [list] test", "TEST", true),
        ("Re: [list] Fwd: test", "TEST", true),
        ("[list] test", "TEST", false),
        ("[a] [b] test", "TEST", false),
        ("[list]", "[LIST]", false),
        ("Re: [list]", "[LIST]", true),
        ("[a] [b]", "[B]", false),
        ("test (fwd)", "TEST", true),
        ("test (FWD) (fwd)", "TEST", true),
        ("test(fwd)", "TEST", true),
        ("(fwd)", "", true),
        ("test (fwd)x", "TEST (FWD)X", false),
        ("[fwd: test]", "TEST", true),
        ("[Fwd: Re: test (fwd)]", "TEST", true),
        ("[fwd: [fwd: test]]", "TEST", true),
        ("[fwd: test] tail", "TAIL", false),
        ("[fwd:]", "", true),
        ("Re:", "", true),
        ("", "", false),
        ("   ", "", false),
        ("  test  ", "TEST", false),
        ("a\t\t b\r\n c", "A B C", false),
        // Not leaders.
        ("REPORT: x", "REPORT: X", false),
        ("Rep: x", "REP: X", false),
        ("AW: x", "AW: X", false),
        ("Ré: x", "RE\u{301}: X", false),
        ("Re x", "RE X", false),
        ("[unclosed Re: x", "[UNCLOSED RE: X", false),
        ("Re [unclosed: x", "RE [UNCLOSED: X", false),
        // Collation first: case, width, spaces and accents are the key's.
        ("ＲＥ：test", "TEST", true),
        ("Re:\u{00A0}test", "TEST", true),
        ("Re:\u{3000}\u{3000}test", "TEST", true),
        ("café", "CAFE\u{301}", false),
        ("Straße", "STRAßE", false),
        // Encoded words (RFC 2047), decoded before the steps.
        ("=?utf-8?q?Re:?= test", "TEST", true),
        ("Re: =?utf-8?q?caf=C3=A9?=", "CAFE\u{301}", true),
        ("=?iso-8859-1?q?caf=E9?=", "CAFE\u{301}", false),
        ("=?UTF-8?B?Y2Fmw6k=?=", "CAFE\u{301}", false),
        ("=?utf-8?q?a?= =?utf-8?q?b?=", "AB", false),
        ("=?utf-8?q?a?=\r\n =?utf-8?q?b?=", "AB", false),
        ("=?utf-8?q?a?= b", "A B", false),
        ("x=?utf-8?q?y?=z", "XYZ", false),
        ("=?utf-8?q?a_b?=", "A B", false),
        ("=?koi8-r?b?8PLp9+X0?=", "ПРИВЕТ", false),
        ("=?iso-2022-jp?b?GyRCJEYkOSRIGyhC?=", "てすと", false),
        ("=?utf-8?q?[fwd:_x]?=", "X", true),
    ])
    func baseSubject(subject: String, base: String, isReplyOrForward: Bool) {
        let result = BaseSubject.extract(subject)
        #expect(result.base == base, "\(subject.debugDescription)")
        #expect(result.isReplyOrForward == isReplyOrForward, "\(subject.debugDescription)")
        #expect(BaseSubject.extractKey(subject).base == Array(base.utf8))
    }

    /// Broken encodings are read as Dovecot reads them, never dropped wholesale.
    @Test(arguments: [
        ("=?utf-8?q?no end", "=?UTF-8?Q?NO END"),
        ("=?utf-8?x?unknown?=", "=?UTF-8?X?UNKNOWN?="),
        ("=?utf-8?q?bad=ZZ=4?=", "BAD=ZZ=4"),
        ("=?utf-8?b?Y2Fm?=", "CAF"),
        ("=?utf-8?b?Y2Fmw6k?=", "CAFE\u{301}"),
        ("=?utf-8?b?Y2F!mw6k=?=", "CA"),
        ("=?utf-8?b?////?=", "\u{FFFD}"),
        ("=?utf-8?q?=C3?==?utf-8?q?=A9t=C3=A9?=", "\u{FFFD}TE\u{301}"),
        ("=?utf-8?q?=F0=9F?= split", "\u{FFFD} SPLIT"),
        // An unknown charset keeps its valid UTF-8 as it is, not casemapped (Dovecot).
        ("=?x-unknown?q?Unknown?= tail", "Unknown TAIL"),
        ("=?utf-8*en?q?lang?=", "lang"),
        ("=??q?empty?=", "EMPTY"),
        // Whitespace alone before a failed word is lost, as in Dovecot.
        ("=?utf-8?q?a?= =?bogus", "A=?BOGUS"),
    ])
    func brokenEncodings(subject: String, base: String) {
        #expect(BaseSubject.extract(subject).base == base, "\(subject.debugDescription)")
    }

    /// Hostile subjects: huge, deeply nested, pathological for blob and word scanning. Each must
    /// finish quickly (work linear in its length) and give the expected base. The test cases are
    /// named, the text built inside, so that the test log stays small.
    static let hostile: [String: (subject: String, base: String)] = [
        "100,000 leaders": (String(repeating: "Re: ", count: 100_000) + "x", "X"),
        "nested leaders and blobs": (String(repeating: "Re: [x] Fwd: ", count: 20_000) + "x", "X"),
        "blob chain then no leader": (String(repeating: "[x]", count: 100_000) + "Re [unclosed", "RE [UNCLOSED"),
        "blob chain alone": (String(repeating: "[x]", count: 100_000), "[X]"),
        "blob chain before a failing leader blob": (
            String(repeating: "[x]", count: 50_000) + "Re [" + String(repeating: "a", count: 50_000),
            "RE [" + String(repeating: "A", count: 50_000)
        ),
        "unclosed brackets": (String(repeating: "[", count: 200_000) + "x", String(repeating: "[", count: 200_000) + "X"),
        "fwd wrappers": (String(repeating: "[fwd: ", count: 20_000) + "x" + String(repeating: "]", count: 20_000), "X"),
        "fwd trailers": ("x" + String(repeating: " (fwd)", count: 100_000), "X"),
        "word starts": (String(repeating: "=?", count: 200_000), String(repeating: "=?", count: 200_000)),
        "question marks": ("=?" + String(repeating: "?", count: 200_000), "=?" + String(repeating: "?", count: 200_000)),
        "long words": (String(repeating: "word ", count: 100_000), String(repeating: "WORD ", count: 99_999) + "WORD"),
    ]

    @Test(arguments: hostile.keys.sorted())
    func hostileSubjectsCostTheirLength(name: String) throws {
        let (subject, base) = try #require(Self.hostile[name])
        let clock = ContinuousClock()
        var result = ""
        let elapsed = clock.measure { result = BaseSubject.extract(subject).base }
        #expect(result == base, "\(name)")
        #expect(elapsed < .seconds(5), "\(name) took \(elapsed)")
    }

    /// Encoded words that decode to control characters, NUL included, end where Dovecot's C
    /// strings end and never trap.
    @Test func controlCharactersFromEncodedWords() {
        #expect(BaseSubject.extract("=?utf-8?q?a=00b?=").base == "A")
        #expect(BaseSubject.extract("=?utf-8?q?Re:=09x?=").base == "X")
        #expect(BaseSubject.extract("=?utf-8?b?AAAA?= tail").base == "")
    }
}
