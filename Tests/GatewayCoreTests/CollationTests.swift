import GatewayCore
import Testing

/// The `i;unicode-casemap` keys (RFC 5051) as Dovecot 2.3 computes them: titlecase, then one
/// level of decomposition from its Unicode 9.0 tables, compared as octets. Pure.
@Suite struct CollationTests {
    /// (text, key as a string)
    @Test(arguments: [
        ("", ""),
        ("abc", "ABC"),
        ("ABC", "ABC"),
        ("a1!~", "A1!~"),
        // Accents: precomposed and combining give the same key.
        ("é", "E\u{301}"),
        ("É", "E\u{301}"),
        ("e\u{301}", "E\u{301}"),
        ("Ångström", "A\u{30A}NGSTRO\u{308}M"),
        ("\u{212B}", "\u{C5}"),  // ANGSTROM SIGN: one level only, to Å (NFKD would give A + ring)
        ("\u{1E69}", "\u{1E62}\u{307}"),  // ṩ: one level only
        ("ệ", "\u{1EB8}\u{302}"),
        // Case: titlecase, not upper case or folding.
        ("ß", "ß"),
        ("ǆ", "ǅ"),
        ("Ǆ", "ǅ"),
        ("ǅ", "ǅ"),
        ("ς", "Σ"),
        ("σ", "Σ"),
        ("ı", "I"),
        ("İ", "I\u{307}"),
        ("µ", "Μ"),
        ("ÿ", "Y\u{308}"),
        // Compatibility forms; decomposed characters are not titlecased again.
        ("ｒｅ", "RE"),
        ("Ｒ", "R"),
        ("ﬁ", "fi"),
        ("ª", "a"),
        ("x²", "X2"),
        ("ⅰ", "I"),
        ("\u{2126}", "Ω"),
        ("\u{212A}", "K"),
        ("\u{00A0}", " "),
        ("\u{3000}", " "),
        ("\u{2002}", " "),
        ("¨", " \u{308}"),
        ("\u{1D400}", "A"),
        // Hangul syllables decompose into jamo.
        ("가", "\u{1100}\u{1161}"),
        ("각", "\u{1100}\u{1161}\u{11A8}"),
        // Unchanged: CJK, emoji, characters newer than Unicode 9.0.
        ("日本", "日本"),
        ("🎉", "🎉"),
        ("\u{A7C1}", "\u{A7C1}"),
        ("\u{1F248}", "\u{1F248}"),  // a multi-character decomposition beyond the BMP: not applied
        // A U+FFFD after another is one (they stand for runs of invalid octets).
        ("a\u{FFFD}\u{FFFD}b", "A\u{FFFD}B"),
    ])
    func key(text: String, expected: String) {
        #expect(Collation.key(text) == Array(expected.utf8), "\(text.debugDescription)")
    }

    /// Keys order as octets (`strcmp`): a prefix first; an accented letter with its base letter.
    @Test(arguments: [
        ("a", "b"),
        ("A", "b"),
        ("a", "ab"),
        ("", "a"),
        ("é", "F"),
        ("ä", "b"),
        ("Z", "日"),
        ("9", "a"),
        ("z", "["),
        ("a", "{"),
    ])
    func order(lower: String, higher: String) {
        let (a, b) = (Collation.key(lower), Collation.key(higher))
        #expect(Collation.precedes(a, b))
        #expect(!Collation.precedes(b, a))
        #expect(Collation.compare(a, b) < 0)
        #expect(Collation.compare(b, a) > 0)
        #expect(Collation.compare(a, a) == 0)
    }

    /// Equal keys for strings that differ only in case or in decomposition.
    @Test(arguments: [("hello", "HELLO"), ("Hello", "hELLO"), ("café", "CAFE\u{301}"), ("ｈｅｌｌｏ", "hello")])
    func equalKeys(a: String, b: String) {
        #expect(Collation.key(a) == Collation.key(b))
        #expect(Collation.compare(Collation.key(a), Collation.key(b)) == 0)
    }

    /// Large and hostile input: a megabyte of mixed scripts and replacement characters.
    @Test func largeInputIsLinear() {
        let text = String(repeating: "aÉ가ﬁ\u{FFFD}\u{FFFD}🎉 ", count: 100_000)
        let clock = ContinuousClock()
        var key: [UInt8] = []
        let elapsed = clock.measure { key = Collation.key(text) }
        #expect(key.count == 20 * 100_000)
        #expect(elapsed < .seconds(5))
    }
}
