import GatewayCore
import IMAPCore
import Testing

/// RFC 5256 §3 REFERENCES threading by the gateway: steps 1–6 case by case, the RFC's own
/// THREAD examples, hostile references (loops, duplicates, missing IDs, self references), subject
/// gathering, sibling order, Message-ID parsing as Dovecot reads it, and very deep chains.
@Suite struct ReferencesThreadingTests {
    /// One message of a case: `id`/`refs` without `<>` (nil `id`: no valid Message-ID); subject
    /// as written (a leading `Re: ` or `Fwd: ` makes it a reply); date defaults to the UID.
    struct M: Sendable, CustomStringConvertible {
        var uid: UInt32
        var id: String?
        var refs: [String] = []
        var subject = ""
        var date: Int64?
        var sequence: Int?

        var message: ReferencesThreading.Message {
            let reply = subject.hasPrefix("Re: ") || subject.hasPrefix("Fwd: ")
            let base = reply ? String(subject.drop { $0 != " " }.dropFirst()) : subject
            return ReferencesThreading.Message(
                uid: uid, messageID: id, references: refs, baseSubject: base, isReplyOrForward: reply,
                sentDate: date ?? Int64(uid), sequence: sequence ?? Int(uid))
        }

        var description: String { "\(uid)" }
    }

    /// A case: messages and the THREAD answer Dovecot would write for them.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var messages: [M]
        var expected: String
        var testDescription: String { name }
    }

    static func threads(_ messages: [M]) -> String {
        wire(ReferencesThreading.thread(messages.map(\.message)))
    }

    // MARK: RFC examples and steps 1–4

    static let structureCases: [Case] = [
        // RFC 5256 §4, THREAD response: "(2)(3 6 (4 23)(44 7 96))".
        Case(
            name: "RFC 5256 THREAD response example",
            messages: [
                M(uid: 2, id: "2@x"), M(uid: 3, id: "3@x"), M(uid: 4, id: "4@x", refs: ["3@x", "6@x"]),
                M(uid: 6, id: "6@x", refs: ["3@x"]), M(uid: 7, id: "7@x", refs: ["3@x", "6@x", "44@x"]),
                M(uid: 23, id: "23@x", refs: ["3@x", "6@x", "4@x"]), M(uid: 44, id: "44@x", refs: ["3@x", "6@x"]),
                M(uid: 96, id: "96@x", refs: ["3@x", "6@x", "44@x", "7@x"]),
            ],
            expected: "(2)(3 6 (4 23)(44 7 96))"),
        // RFC 5256 §4: "3 and 5 are siblings of a parent which does not ... exist in the mailbox".
        Case(
            name: "RFC 5256 siblings of a missing parent",
            messages: [M(uid: 3, id: "3@x", refs: ["gone@x"]), M(uid: 5, id: "5@x", refs: ["gone@x"])],
            expected: "((3)(5))"),
        Case(
            name: "no references: one thread each", messages: [M(uid: 1, id: "a@x"), M(uid: 2, id: "b@x")],
            expected: "(1)(2)"),
        Case(name: "empty mailbox", messages: [], expected: ""),
        // Step 3: a dummy child of the root with one child is replaced by it.
        Case(
            name: "dummy root with one child is promoted", messages: [M(uid: 1, id: "a@x", refs: ["gone@x"])],
            expected: "(1)"),
        // Step 3: dummies below the root vanish, their children promoted to the dummy's level.
        Case(
            name: "dummy inside a thread is removed",
            messages: [M(uid: 1, id: "a@x"), M(uid: 2, id: "b@x", refs: ["a@x", "gone@x"])],
            expected: "(1 2)"),
        Case(
            name: "dummy inside a thread gives its children to its parent",
            messages: [
                M(uid: 1, id: "a@x"), M(uid: 2, id: "b@x", refs: ["a@x", "gone@x"]),
                M(uid: 3, id: "c@x", refs: ["a@x", "gone@x"]), M(uid: 4, id: "d@x", refs: ["a@x"]),
            ],
            expected: "(1 (2)(3)(4))"),
        Case(
            name: "a chain of dummies at the root keeps one dummy for several children",
            messages: [M(uid: 1, id: "a@x", refs: ["p@x", "q@x"]), M(uid: 2, id: "b@x", refs: ["p@x", "q@x", "r@x"])],
            expected: "((1)(2))"),
        Case(
            name: "a chain of dummies above one message is promoted away",
            messages: [M(uid: 1, id: "a@x", refs: ["p@x", "q@x", "r@x"])],
            expected: "(1)"),
        Case(
            name: "a parent arriving after its children takes them",
            messages: [M(uid: 1, id: "b@x", refs: ["a@x"]), M(uid: 2, id: "c@x", refs: ["a@x"]), M(uid: 3, id: "a@x")],
            expected: "(3 (1)(2))"),
        // Step 1.B: a different parent from an earlier (truncated) References is replaced.
        Case(
            name: "the message's own references override an earlier guess",
            messages: [M(uid: 1, id: "x@x", refs: ["p@x", "q@x"]), M(uid: 2, id: "q@x", refs: ["r@x"])],
            expected: "(2 1)"),
        // Step 1.B: "if this message has no references, ... it will now have no parent".
        Case(
            name: "a message without references loses a guessed parent",
            messages: [M(uid: 1, id: "x@x", refs: ["p@x", "q@x"]), M(uid: 2, id: "q@x")],
            expected: "(2 1)"),
        Case(
            name: "step 1.A keeps the first parent a message was given",
            messages: [
                M(uid: 1, id: "a@x"), M(uid: 2, id: "b@x"), M(uid: 3, id: "c@x", refs: ["a@x", "m@x"]),
                M(uid: 4, id: "d@x", refs: ["b@x", "m@x"]),
            ],
            expected: "(1 (3)(4))(2)"),
        Case(
            name: "In-Reply-To style single reference",
            messages: [M(uid: 1, id: "a@x"), M(uid: 2, id: "b@x", refs: ["a@x"]), M(uid: 3, id: "c@x", refs: ["b@x"])],
            expected: "(1 2 3)"),
    ]

    @Test(arguments: structureCases)
    func structure(_ c: Case) {
        #expect(Self.threads(c.messages) == c.expected)
    }

    // MARK: Hostile references

    static let hostileCases: [Case] = [
        Case(
            name: "two messages referencing each other",
            messages: [M(uid: 1, id: "a@x", refs: ["b@x"]), M(uid: 2, id: "b@x", refs: ["a@x"])],
            expected: "(2 1)"),
        Case(
            name: "a loop inside one References header",
            messages: [M(uid: 1, id: "m@x", refs: ["p@x", "q@x", "p@x"])],
            expected: "(1)"),
        Case(
            name: "a three-message reference cycle",
            messages: [
                M(uid: 1, id: "a@x", refs: ["c@x"]), M(uid: 2, id: "b@x", refs: ["a@x"]),
                M(uid: 3, id: "c@x", refs: ["b@x"]),
            ],
            expected: "(3 1 2)"),
        Case(name: "a message referencing itself", messages: [M(uid: 1, id: "a@x", refs: ["a@x"])], expected: "(1)"),
        Case(
            name: "a message naming itself in the middle of its references",
            messages: [M(uid: 1, id: "p@x"), M(uid: 2, id: "a@x", refs: ["p@x", "a@x", "q@x"])],
            expected: "(1)(2)"),
        Case(
            name: "duplicate Message-IDs: the first message owns the ID",
            messages: [M(uid: 1, id: "a@x"), M(uid: 2, id: "a@x"), M(uid: 3, id: "c@x", refs: ["a@x"])],
            expected: "(1 3)(2)"),
        Case(
            name: "a duplicate replying to its twin",
            messages: [M(uid: 1, id: "a@x"), M(uid: 2, id: "a@x", refs: ["a@x"])],
            expected: "(1 2)"),
        Case(
            name: "the first by sequence owns a duplicated ID, whatever the UIDs",
            messages: [
                M(uid: 9, id: "a@x", date: 1, sequence: 2), M(uid: 8, id: "a@x", date: 2, sequence: 1),
                M(uid: 7, id: "r@x", refs: ["a@x"], date: 3, sequence: 3),
            ],
            expected: "(9)(8 7)"),
        Case(
            name: "messages without Message-ID stay apart",
            messages: [M(uid: 1, id: nil), M(uid: 2, id: nil), M(uid: 3, id: nil, refs: ["gone@x"])],
            expected: "(1)(2)(3)"),
        Case(
            name: "references through messages without Message-ID",
            messages: [M(uid: 1, id: nil), M(uid: 2, id: "b@x", refs: ["a@x"]), M(uid: 3, id: nil, refs: ["a@x", "b@x"])],
            expected: "(1)(2 3)"),
        Case(
            name: "Message IDs are case-sensitive",
            messages: [M(uid: 1, id: "A@x"), M(uid: 2, id: "b@x", refs: ["a@x"])],
            expected: "(1)(2)"),
        Case(
            name: "canonically equivalent IDs are different bytes",
            messages: [M(uid: 1, id: "caf\u{e9}@x"), M(uid: 2, id: "b@x", refs: ["cafe\u{301}@x"])],
            expected: "(1)(2)"),
    ]

    @Test(arguments: hostileCases)
    func hostile(_ c: Case) {
        #expect(Self.threads(c.messages) == c.expected)
    }

    // MARK: Step 5, subjects

    static let subjectCases: [Case] = [
        Case(
            name: "two originals with one subject get a dummy parent",
            messages: [M(uid: 1, id: "a@x", subject: "s"), M(uid: 2, id: "b@x", subject: "s")],
            expected: "((1)(2))"),
        Case(
            name: "a reply joins the original",
            messages: [M(uid: 1, id: "a@x", subject: "s"), M(uid: 2, id: "b@x", subject: "Re: s")],
            expected: "(1 2)"),
        Case(
            name: "an older reply joins a later original",
            messages: [M(uid: 1, id: "a@x", subject: "Re: s"), M(uid: 2, id: "b@x", subject: "s")],
            expected: "(2 1)"),
        Case(
            name: "two replies get a dummy parent",
            messages: [M(uid: 1, id: "a@x", subject: "Re: s"), M(uid: 2, id: "b@x", subject: "Fwd: s")],
            expected: "((1)(2))"),
        Case(
            name: "after a dummy replaces the table's message, later replies join the dummy",
            messages: [
                M(uid: 1, id: "a@x", subject: "s"), M(uid: 2, id: "b@x", subject: "Re: s"),
                M(uid: 3, id: "c@x", subject: "s"),
                M(uid: 4, id: "d@x", subject: "Re: s"),
            ],
            expected: "((1 2)(3)(4))"),
        Case(
            name: "a message joins a dummy root of its subject",
            messages: [
                M(uid: 1, id: "a@x", refs: ["gone@x"], subject: "Re: s"),
                M(uid: 2, id: "b@x", refs: ["gone@x"], subject: "Re: s"), M(uid: 3, id: "c@x", subject: "s"),
            ],
            expected: "((1)(2)(3))"),
        Case(
            name: "two dummy roots of one subject merge their children",
            messages: [
                M(uid: 1, id: "a@x", refs: ["p@x"], subject: "s"), M(uid: 2, id: "b@x", refs: ["p@x"], subject: "s"),
                M(uid: 3, id: "c@x", refs: ["q@x"], subject: "s"), M(uid: 4, id: "d@x", refs: ["q@x"], subject: "s"),
            ],
            expected: "((1)(2)(3)(4))"),
        Case(
            name: "a dummy's thread subject is its oldest child's",
            messages: [
                M(uid: 1, id: "a@x", refs: ["p@x"], subject: "x"), M(uid: 2, id: "b@x", refs: ["p@x"], subject: "y"),
                M(uid: 3, id: "c@x", subject: "y"), M(uid: 4, id: "d@x", subject: "Re: x"),
            ],
            expected: "((1)(2)(4))(3)"),
        Case(
            name: "only the thread root's subject counts",
            messages: [
                M(uid: 1, id: "a@x", subject: "s"), M(uid: 2, id: "b@x", refs: ["a@x"], subject: "t"),
                M(uid: 3, id: "c@x", subject: "t"),
            ],
            expected: "(1 2)(3)"),
        Case(
            name: "empty subjects are never gathered",
            messages: [M(uid: 1, id: "a@x", subject: ""), M(uid: 2, id: "b@x", subject: "")],
            expected: "(1)(2)"),
        Case(
            name: "subjects compare as bytes",
            messages: [M(uid: 1, id: "a@x", subject: "caf\u{e9}"), M(uid: 2, id: "b@x", subject: "cafe\u{301}")],
            expected: "(1)(2)"),
        Case(
            name: "a merged thread is placed by its root's date",
            messages: [
                M(uid: 1, id: "a@x", subject: "t", date: 50), M(uid: 2, id: "b@x", subject: "s", date: 10),
                M(uid: 3, id: "c@x", subject: "Re: s", date: 5),
            ],
            expected: "(2 3)(1)"),
    ]

    @Test(arguments: subjectCases)
    func subjects(_ c: Case) {
        #expect(Self.threads(c.messages) == c.expected)
    }

    // MARK: Steps 4 and 6, order

    static let orderCases: [Case] = [
        Case(
            name: "threads by sent date, not by UID",
            messages: [M(uid: 1, id: "a@x", date: 30), M(uid: 2, id: "b@x", date: 10), M(uid: 3, id: "c@x", date: 20)],
            expected: "(2)(3)(1)"),
        Case(
            name: "equal dates: sequence order",
            messages: [M(uid: 5, id: "a@x", date: 7, sequence: 2), M(uid: 6, id: "b@x", date: 7, sequence: 1)],
            expected: "(6)(5)"),
        Case(
            name: "siblings by date, then sequence",
            messages: [
                M(uid: 1, id: "a@x", date: 1), M(uid: 2, id: "b@x", refs: ["a@x"], date: 9),
                M(uid: 3, id: "c@x", refs: ["a@x"], date: 5), M(uid: 4, id: "d@x", refs: ["a@x"], date: 5),
            ],
            expected: "(1 (3)(4)(2))"),
        Case(
            name: "a dummy root sorts by its oldest child",
            messages: [
                M(uid: 1, id: "a@x", date: 20), M(uid: 2, id: "b@x", refs: ["gone@x"], date: 30),
                M(uid: 3, id: "c@x", refs: ["gone@x"], date: 10),
            ],
            expected: "((3)(2))(1)"),
        Case(
            name: "a child older than its parent stays its child",
            messages: [M(uid: 1, id: "a@x", date: 100), M(uid: 2, id: "b@x", refs: ["a@x"], date: 1)],
            expected: "(1 2)"),
        Case(
            name: "dates before 1970 sort first",
            messages: [M(uid: 1, id: "a@x", date: 0), M(uid: 2, id: "b@x", date: -86_400)],
            expected: "(2)(1)"),
    ]

    @Test(arguments: orderCases)
    func order(_ c: Case) {
        #expect(Self.threads(c.messages) == c.expected)
    }

    @Test func inputOrderDoesNotMatter() {
        let messages = Self.structureCases[0].messages + Self.subjectCases[4].messages.map {
            var m = $0
            m.uid += 100
            m.id = m.id.map { "s" + $0 }
            return m
        }
        let expected = Self.threads(messages)
        #expect(Self.threads(messages.reversed()) == expected)
        #expect(Self.threads(messages.shuffled()) == expected)
    }

    // MARK: Message IDs

    @Test(arguments: [
        ("<a@b>", ["a@b"]),
        ("  <a@b>  <c@d>\r\n\t<e@f>", ["a@b", "c@d", "e@f"]),
        ("<a b@c>", ["ab@c"]),
        ("<a@b\r\n c>", ["a@bc"]),
        // RFC 5256 §3: quoting must not make two IDs differ.
        ("<\"01KF8JCEOCBS0045PS\"@xxx.yyy.com>", ["01KF8JCEOCBS0045PS@xxx.yyy.com"]),
        ("<\"a b\"@c>", ["a b@c"]),
        ("<\"a\\\"b\"@c>", ["a\"b@c"]),
        ("<a (comment) @ b . c>", ["a@b.c"]),
        ("<a@b> (note <x@y>) <c@d>", ["a@b", "x@y", "c@d"]),
        ("<no-at-sign> <a@b>", ["a@b"]),
        ("<@>", ["@"]),
        ("<a@[10.0.0.1]>", ["a@[10.0.0.1]"]),
        ("<\"a\"@[10.0.0.1]> <c@d>", ["c@d"]),
        ("<\"unterminated@x> <c@d>", ["c@d"]),
        // Dovecot 2.3 answers "broken> <x@y" here: its message_id_get_next keeps the text of a
        // failed quoted attempt and prepends it to the next quoted ID (not copied: RFC 5256 asks
        // for the msg-id itself).
        ("<\"broken> <\"x\"@y>", ["x@y"]),
        ("<a@b", []),
        ("a@b", []),
        ("", []),
        ("<a@b>\u{0}<c@d>", ["a@b"]),
        ("<r\u{e9}ponse@\u{e9}t\u{e9}.example>", ["r\u{e9}ponse@\u{e9}t\u{e9}.example"]),
        ("<a<b@c>", ["a<b@c"]),
        ("foo@bar <a@b> baz", ["a@b"]),
    ])
    func messageIDsAreReadAsDovecotReadsThem(header: String, expected: [String]) {
        #expect(ReferencesThreading.messageIDs(in: header) == expected)
        #expect(ReferencesThreading.firstMessageID(in: header) == expected.first)
    }

    /// Headers crafted to make a naive reader rescan the rest of the value from every `<`
    /// (Dovecot's own reader takes minutes on a megabyte of these) are read in linear time.
    @Test(arguments: [
        String(repeating: "<a (", count: 50_000), String(repeating: "<\"", count: 100_000),
        String(repeating: "<", count: 200_000) + "\"", String(repeating: "<a(<).", count: 40_000) + "(",
        String(repeating: "<\"a\" junk> ", count: 20_000), String(repeating: "<x(<x(", count: 40_000),
    ])
    func craftedHeadersAreReadInLinearTime(header: String) {
        #expect(ReferencesThreading.messageIDs(in: header).isEmpty)
        #expect(ReferencesThreading.messageIDs(in: header + "<last@x>") == ["last@x"])
    }

    @Test func headersGiveIDsReferencesAndInReplyTo() {
        let block = "Message-ID: <me@x>\r\nReferences: <broken>\r\nIn-Reply-To: <p@x> <q@x>\r\nMessage-ID: <other@x>\r\n\r\n"
        let m = ReferencesThreading.Message(
            uid: 1, headers: block, baseSubject: "", isReplyOrForward: false, sentDate: 0, sequence: 1)
        #expect(m.messageID == "me@x")
        #expect(m.references == ["p@x"])
        let folded = "references: <a@x>\r\n <b@x>\r\n\t<c@x>\r\nIN-REPLY-TO: <c@x>\r\n"
        let n = ReferencesThreading.Message(
            uid: 2, headers: folded, baseSubject: "", isReplyOrForward: false, sentDate: 0, sequence: 2)
        #expect(n.messageID == nil)
        #expect(n.references == ["a@x", "b@x", "c@x"])
        let none = ReferencesThreading.Message(
            uid: 3, messageIDHeader: "<no-at>", referencesHeader: nil, inReplyToHeader: "junk", baseSubject: "",
            isReplyOrForward: false, sentDate: 0, sequence: 3)
        #expect(none.messageID == nil)
        #expect(none.references.isEmpty)
        #expect(ReferencesThreading.firstFields(in: "A : 1\nB: 2\n x\nA: 3\n")["a"] == " 1")
        #expect(ReferencesThreading.firstFields(in: "A : 1\nB: 2\n x\nA: 3\n")["b"] == " 2\n x")
    }

    // MARK: Scale and depth

    /// A reply chain of `count`, each message referencing the one before (In-Reply-To style).
    static func chain(_ count: Int, reversedArrival: Bool = false) -> [ReferencesThreading.Message] {
        (1...count).map { i in
            let sequence = reversedArrival ? count + 1 - i : i
            return ReferencesThreading.Message(
                uid: UInt32(sequence), messageID: "m\(i)@x", references: i == 1 ? [] : ["m\(i - 1)@x"], baseSubject: "chain",
                isReplyOrForward: i > 1, sentDate: Int64(i), sequence: sequence)
        }
    }

    /// A chain delivered newest first never links under a deep parent (each parent is a fresh
    /// root when its child arrives), so it stays one thread: 100,000 deep, capped in the answer.
    @Test func aVeryDeepChainIsCappedLikeTheParserKeepsIt() throws {
        let count = 100_000
        let threads = ReferencesThreading.thread(Self.chain(count, reversedArrival: true))
        #expect(threads.count == 1)
        let cap = ResponseParser.defaultMaxThreadDepth
        var node = try #require(threads.first)
        var path: [UInt32] = []
        while let number = node.number, node.children.count == 1 {
            path.append(number)
            node = node.children[0]
        }
        path.append(try #require(node.number))
        #expect(path.count == cap)
        let leaves = node.children
        #expect(leaves.count == count - cap)
        #expect(leaves.allSatisfy { $0.children.isEmpty })
        #expect(path + leaves.compactMap(\.number) == (1...count).map { UInt32(count + 1 - $0) })
    }

    /// Dovecot's bound (``ReferencesThreading/Limits/dovecot``): delivered oldest first, a chain
    /// breaks below its 1,002nd message, whose parent would have 1,001 ancestors.
    @Test func aChainDeliveredInOrderBreaksWhereDovecotBreaksIt() {
        var messages = Self.chain(2_500)
        for i in messages.indices { messages[i].baseSubject = "link \(i)" }
        let threads = ReferencesThreading.thread(messages)
        #expect(threads.map(\.allNumbers) == [Array(1...1_002), Array(1_003...2_004), Array(2_005...2_500)])
        let unbounded = ReferencesThreading.thread(messages, limits: .init(references: .max, ancestors: 3_000))
        #expect(unbounded.map(\.allNumbers) == [Array(1...2_500)])
    }

    /// Replies to a message 1,002 links deep are each refused after a climb of 1,001 steps: the
    /// work per link is bounded, whatever the mailbox.
    @Test func repliesUnderTheBoundAreRefusedCheaply() {
        var messages = Self.chain(1_500)
        for i in messages.indices { messages[i].baseSubject = "" }
        for i in 0..<20_000 {
            messages.append(
                .init(
                    uid: UInt32(2_000 + i), messageID: "r\(i)@x", references: ["m1002@x"], baseSubject: "",
                    isReplyOrForward: true, sentDate: Int64(5_000 + i), sequence: 2_000 + i))
        }
        let threads = ReferencesThreading.thread(messages)
        #expect(threads.count == 2 + 20_000)
        #expect(threads.prefix(2).map { $0.allNumbers.count } == [1_002, 498])
    }

    /// Dovecot's bound: only the first 1,001 references of a message count.
    @Test(arguments: [(999, "(1 2 3 4)"), (1_000, "(1 2 4)(3)")])
    func onlyTheFirst1001ReferencesCount(repeats: Int, expected: String) {
        let messages = [
            M(uid: 1, id: "a@x"), M(uid: 2, id: "b@x"), M(uid: 3, id: "c@x"),
            M(uid: 4, id: "x@x", refs: Array(repeating: "a@x", count: repeats) + ["b@x", "c@x"]),
        ]
        #expect(Self.threads(messages) == expected)
    }

    @Test func cappedMatchesTheParsersViewOfADeepAnswer() throws {
        let count = 3_000
        let wire = "* THREAD (" + (1...count).map(String.init).joined(separator: " ") + " (9001)(9002 9003))(5000)\r\n"
        guard case .untagged(.thread(let parsed)) = try ResponseParser().parse(Array(wire.utf8)) else {
            Issue.record("not a THREAD response")
            return
        }
        let chain = (1...count).map { M(uid: UInt32($0), id: "m\($0)@x", refs: $0 == 1 ? [] : ["m\($0 - 1)@x"]) }
        let others = [
            M(uid: 9001, id: "n1@x", refs: ["m\(count)@x"]), M(uid: 9002, id: "n2@x", refs: ["m\(count)@x"]),
            M(uid: 9003, id: "n3@x", refs: ["n2@x"]), M(uid: 5000, id: "o@x", date: 9999),
        ]
        let messages = (chain + others).map(\.message)
        let ours = ReferencesThreading.thread(messages, limits: .init(references: .max, ancestors: .max))
        let sameAsParsed = ReferencesThreading.capped(parsed) == ours
        let unchanged = ReferencesThreading.capped(ours) == ours
        #expect(sameAsParsed)
        #expect(unchanged)
        // Within the cap, nothing changes.
        let small = ReferencesThreading.thread(Self.structureCases[0].messages.map(\.message))
        #expect(ReferencesThreading.capped(small) == small)
        #expect(ReferencesThreading.capped(small, maxDepth: 2).map(\.allNumbers) == small.map(\.allNumbers))
    }

    /// 100,000 messages in realistic threads plus subject-only threads, some missing parents and
    /// duplicates: every message appears exactly once. Prints the time it took.
    @Test func aHundredThousandMessages() {
        var messages: [ReferencesThreading.Message] = []
        var state: UInt64 = 42
        func random(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        for i in 0..<100_000 {
            let thread = i / 10
            let parent = i % 10 == 0 ? nil : thread * 10 + random(i % 10)
            var refs: [String] = []
            if let parent { refs = ["m\(thread * 10)@x", "m\(parent)@x"] }
            if i % 97 == 0 { refs.insert("missing\(i)@x", at: 0) }
            messages.append(
                .init(
                    uid: UInt32(i + 1), messageID: i % 501 == 0 ? nil : i % 333 == 0 ? "m\(i - 1)@x" : "m\(i)@x",
                    references: refs, baseSubject: "subject \(thread % 7_000)", isReplyOrForward: parent != nil,
                    sentDate: 1_500_000_000 + Int64(random(10_000_000)), sequence: i + 1))
        }
        let start = ContinuousClock.now
        let threads = ReferencesThreading.thread(messages)
        let elapsed = ContinuousClock.now - start
        print("ReferencesThreading: 100,000 messages in \(elapsed), \(threads.count) threads")
        var seen = Set<UInt32>()
        var count = 0
        for thread in threads {
            for number in thread.allNumbers {
                seen.insert(number)
                count += 1
            }
        }
        #expect(count == 100_000)
        #expect(seen.count == 100_000)
    }
}

/// A THREAD answer as Dovecot writes it (`cmd-thread.c`): a thread per parenthesised list, a
/// single child continuing its parent's list, several children each in a list of their own.
func wire(_ threads: [ThreadNode]) -> String {
    func members(_ children: [ThreadNode]) -> String {
        if children.count == 1, let only = children.first, let number = only.number {
            return only.children.isEmpty ? "\(number)" : "\(number) " + members(only.children)
        }
        return children.map { child in
            let number = child.number.map(String.init) ?? ""
            return child.children.isEmpty ? "(\(number))" : "(\(number) " + members(child.children) + ")"
        }.joined()
    }
    return threads.map { thread in
        guard !thread.children.isEmpty else { return "(\(thread.number.map(String.init) ?? ""))" }
        return "(" + (thread.number.map { "\($0) " } ?? "") + members(thread.children) + ")"
    }.joined()
}
