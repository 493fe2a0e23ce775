import IMAPCore
import Testing

/// One server response as it appears on the wire, with the value the parser must produce.
/// Shared by the parser tests and the framer tests (which feed the same bytes in every split).
struct ResponseFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let wire: [UInt8]
    let expected: Response

    /// `text` is the response without its final line ending; CRLF is appended unless `lineEnding` says otherwise.
    init(_ name: String, _ text: String, _ expected: Response, lineEnding: String = "\r\n") {
        self.name = name
        self.wire = Array((text + lineEnding).utf8)
        self.expected = expected
    }

    var testDescription: String { name }
}

/// A malformed response the parser must refuse with an `IMAPParseError` (whose message contains
/// `reason`, when given: refused for the right cause, not by an accident earlier in the line).
struct MalformedFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let wire: [UInt8]
    let parser: ResponseParser
    let reason: String?

    init(
        _ name: String, _ text: String, lineEnding: String = "\r\n", parser: ResponseParser = ResponseParser(),
        reason: String? = nil
    ) {
        self.name = name
        self.wire = Array((text + lineEnding).utf8)
        self.parser = parser
        self.reason = reason
    }

    var testDescription: String { name }
}

// MARK: - Helpers to write expected values briefly

/// `{n}` CRLF and the octets: a literal as a server sends it.
func literal(_ text: String) -> String { "{\(text.utf8.count)}\r\n\(text)" }

func mailbox(_ wire: String) -> MailboxName { MailboxName(wire: Array(wire.utf8)) }

func caps(_ names: String...) -> [Capability] { names.map(Capability.init) }

func flags(_ names: String...) -> [Flag] { names.map(Flag.init) }

func untagged(_ status: ResponseStatus, _ code: ResponseCode?, _ text: String) -> Response {
    .untagged(.status(status, ResponseText(code: code, text: text)))
}

func untagged(_ status: ResponseStatus, _ text: String) -> Response { untagged(status, nil, text) }

func tagged(_ tag: String, _ status: ResponseStatus, _ code: ResponseCode?, _ text: String) -> Response {
    .tagged(TaggedResponse(tag: tag, status: status, text: ResponseText(code: code, text: text)))
}

func tagged(_ tag: String, _ status: ResponseStatus, _ text: String) -> Response { tagged(tag, status, nil, text) }

func list(_ attributes: [String], _ delimiter: Character?, _ name: MailboxName) -> Response {
    .untagged(.list(ListEntry(attributes: attributes, delimiter: delimiter, name: name)))
}

func mailboxStatus(_ name: MailboxName, _ fill: (inout MailboxStatus) -> Void) -> Response {
    var value = MailboxStatus(mailbox: name)
    fill(&value)
    return .untagged(.mailboxStatus(value))
}

func esearch(tag: String?, uid: Bool, _ fill: (inout ESearchResponse) -> Void = { _ in }) -> Response {
    var value = ESearchResponse(correlator: tag, uid: uid)
    fill(&value)
    return .untagged(.esearch(value))
}

func fetch(_ n: UInt32, _ attributes: FetchAttribute...) -> Response {
    .untagged(.fetch(sequenceNumber: n, attributes: attributes))
}

func thread(_ n: UInt32?, _ children: ThreadNode...) -> ThreadNode { ThreadNode(n, children: children) }

/// `count` opening parentheses, `inner`, and as many closing ones.
func nested(_ count: Int, _ inner: String = "") -> String {
    String(repeating: "(", count: count) + inner + String(repeating: ")", count: count)
}

/// The value `nested(count)` parses to.
func nestedValue(_ count: Int) -> IMAPValue {
    var value = IMAPValue.list([])
    for _ in 1..<count { value = .list([value]) }
    return value
}

/// A reply chain `1…count` written flat, as RFC 5256 does, with `tail` (raw thread lists) after it.
func threadChainWire(_ count: Int, tail: String = "") -> String {
    "* THREAD (" + (1...count).map(String.init).joined(separator: " ") + tail + ")"
}

/// How the parser keeps a chain `1…count`: linked down to `maxThreadDepth`, the rest side by side
/// under the last linked member, followed by `tail`.
func threadChain(_ count: UInt32, depth: UInt32 = UInt32(ResponseParser.defaultMaxThreadDepth),
                 tail: [ThreadNode] = []) -> ThreadNode {
    let linked = min(count, depth)
    var node = ThreadNode(linked, children: (linked + 1..<count + 1).map { ThreadNode($0) } + tail)
    for parent in (1..<linked).reversed() { node = ThreadNode(parent, children: [node]) }
    return node
}

/// A BODYSTRUCTURE of `depth` forwards, each a multipart/mixed holding a note and the forwarded
/// message/rfc822 whose body is the next one: two nesting levels per forward.
func forwardsWire(_ depth: Int) -> String {
    let note = #"("text" "plain" NIL NIL NIL "7bit" 1 1)"#
    let envelope = #"(NIL "fwd" (("A" NIL "a" "example.org")) NIL NIL NIL NIL NIL NIL NIL)"#
    var body = note
    for _ in 0..<depth {
        body = "(" + note + #"("message" "rfc822" NIL NIL NIL "7bit" 9 "# + envelope + " " + body + #" 1) "mixed")"#
    }
    return "* 1 FETCH (BODYSTRUCTURE " + body + ")"
}

func part(
    _ type: String, _ subtype: String, _ parameters: [String: String] = [:], encoding: String?, size: UInt64,
    disposition: BodyStructure.Disposition? = nil
) -> BodyStructure {
    .single(.init(type: type, subtype: subtype, parameters: parameters, encoding: encoding, size: size, disposition: disposition))
}

/// RFC 3501 §7.4.2's example envelope.
let rfc3501EnvelopeWire = #"("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>")"#

let rfc3501Envelope: Envelope = {
    let terry = Envelope.Address(name: "Terry Gray", mailbox: "gray", host: "cac.washington.edu")
    return Envelope(
        date: "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)", subject: "IMAP4rev1 WG mtg summary and minutes",
        from: [terry], sender: [terry], replyTo: [terry],
        to: [.init(mailbox: "imap", host: "cac.washington.edu")],
        cc: [.init(mailbox: "minutes", host: "CNRI.Reston.VA.US"),
             .init(name: "John Klensin", mailbox: "KLENSIN", host: "MIT.EDU")],
        messageID: "<B27397-0100000@cac.washington.edu>"
    )
}()

let headerFieldsLiteral = "X-Priority: 1 (Highest)\r\nImportance: high\r\n\r\n"

// MARK: - The fixtures

enum ResponseFixtures {
    static let statusResponses: [ResponseFixture] = [
        .init(
            "greeting with CAPABILITY code",
            "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN] Dovecot ready.",
            untagged(.ok, .capability(caps("IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE",
                                           "LITERAL+", "STARTTLS", "AUTH=PLAIN")), "Dovecot ready.")
        ),
        .init("greeting without code", "* OK IMAP4rev1 Service Ready", untagged(.ok, "IMAP4rev1 Service Ready")),
        .init("PREAUTH greeting", "* PREAUTH IMAP4rev1 server logged in as Smith",
              untagged(.preauth, "IMAP4rev1 server logged in as Smith")),
        .init("BYE", "* BYE Autologout; idle for too long", untagged(.bye, "Autologout; idle for too long")),
        .init("BYE with ALERT", "* BYE [ALERT] Server shutting down", untagged(.bye, .alert, "Server shutting down")),
        .init("untagged NO warning", "* NO Disk is 98% full, please delete unnecessary data",
              untagged(.no, "Disk is 98% full, please delete unnecessary data")),
        .init("untagged BAD", "* BAD Command line too long", untagged(.bad, "Command line too long")),
        .init("tagged OK with READ-WRITE", "a002 OK [READ-WRITE] SELECT completed",
              tagged("a002", .ok, .readWrite, "SELECT completed")),
        .init("tagged OK with READ-ONLY", "A932 OK [READ-ONLY] EXAMINE completed",
              tagged("A932", .ok, .readOnly, "EXAMINE completed")),
        .init("tagged NO with TRYCREATE", "A003 NO [TRYCREATE] Mailbox doesn't exist: Archive",
              tagged("A003", .no, .tryCreate, "Mailbox doesn't exist: Archive")),
        .init("tagged BAD without code", "a4 BAD Error in IMAP command: Unknown command.",
              tagged("a4", .bad, "Error in IMAP command: Unknown command.")),
        .init("tagged OK without text", "a5 OK", tagged("a5", .ok, "")),
        .init("tagged OK with code and no text", "a6 OK [READ-WRITE]", tagged("a6", .ok, .readWrite, "")),
        .init("continuation with empty text", "+ ", .continuation("")),
        .init("continuation without space", "+", .continuation("")),
        .init("continuation with text", "+ Ready for literal data", .continuation("Ready for literal data")),
        .init("continuation with base64 challenge", "+ YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iSjBIoAMCAQGiQQ==",
              .continuation("YGgGCSqGSIb3EgECAgIAb1kwV6ADAgEFoQMCAQ+iSjBIoAMCAQGiQQ==")),
    ]

    static let serverData: [ResponseFixture] = [
        .init("CAPABILITY", "* CAPABILITY IMAP4rev1 STARTTLS AUTH=GSSAPI LOGINDISABLED",
              .untagged(.capability(caps("IMAP4rev1", "STARTTLS", "AUTH=GSSAPI", "LOGINDISABLED")))),
        .init("CAPABILITY is upper-cased", "* CAPABILITY imap4rev1 Move",
              .untagged(.capability([.imap4rev1, .move]))),
        .init("ENABLED", "* ENABLED CONDSTORE QRESYNC", .untagged(.enabled([.condStore, .qresync]))),
        .init("ENABLED nothing", "* ENABLED", .untagged(.enabled([]))),
        .init("FLAGS", #"* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 $HasAttachment)"#,
              .untagged(.flags(flags(#"\Answered"#, #"\Flagged"#, #"\Deleted"#, #"\Seen"#, #"\Draft"#, "$Label1",
                                     "$HasAttachment")))),
        .init("FLAGS empty", "* FLAGS ()", .untagged(.flags([]))),
        .init("EXISTS", "* 23 EXISTS", .untagged(.exists(23))),
        .init("EXISTS zero", "* 0 EXISTS", .untagged(.exists(0))),
        .init("RECENT", "* 5 RECENT", .untagged(.recent(5))),
        .init("EXPUNGE", "* 44 EXPUNGE", .untagged(.expunge(44))),
        .init("EXISTS at UInt32.max", "* 4294967295 EXISTS", .untagged(.exists(UInt32.max))),
    ]

    static let lists: [ResponseFixture] = [
        .init("LIST INBOX atom", #"* LIST (\HasNoChildren) "/" INBOX"#, list([#"\HasNoChildren"#], "/", .inbox)),
        .init("LIST with SPECIAL-USE attributes", #"* LIST (\HasNoChildren \Trash) "/" Trash"#,
              list([#"\HasNoChildren"#, #"\Trash"#], "/", mailbox("Trash"))),
        .init("LIST Sent quoted", #"* LIST (\HasNoChildren \Sent) "." "Sent Items""#,
              list([#"\HasNoChildren"#, #"\Sent"#], ".", mailbox("Sent Items"))),
        .init("LIST no attributes", #"* LIST () "/" Archive/2024"#, list([], "/", mailbox("Archive/2024"))),
        .init("LIST NIL delimiter", #"* LIST (\Noselect) NIL """#, list([#"\Noselect"#], nil, mailbox(""))),
        .init("LIST backslash delimiter", #"* LIST (\HasChildren) "\\" Public"#,
              list([#"\HasChildren"#], "\\", mailbox("Public"))),
        .init("LIST quoted name with escapes", #"* LIST () "." "Say \"hi\" \\ bye""#,
              list([], ".", mailbox(#"Say "hi" \ bye"#))),
        .init("LIST literal name", #"* LIST (\HasNoChildren) "/" "# + literal("Odd \"name\""),
              list([#"\HasNoChildren"#], "/", mailbox("Odd \"name\""))),
        .init("LIST literal name with CRLF inside", #"* LIST () "/" "# + literal("two\r\nlines"),
              list([], "/", mailbox("two\r\nlines"))),
        .init("LIST modified UTF-7 name", #"* LIST (\HasNoChildren) "/" "Soci&AOk-t&AOk-/&AMk-t&AOk-""#,
              list([#"\HasNoChildren"#], "/", mailbox("Soci&AOk-t&AOk-/&AMk-t&AOk-"))),
        .init("LIST with extended data", #"* LIST (\Subscribed) "/" "Foo" ("CHILDINFO" ("SUBSCRIBED"))"#,
              list([#"\Subscribed"#], "/", mailbox("Foo"))),
        .init("LIST with OLDNAME extended data", #"* LIST () "/" NewName ("OLDNAME" ("OldName"))"#,
              list([], "/", mailbox("NewName"))),
        .init("LSUB", #"* LSUB () "." #news.comp.mail.misc"#, list([], ".", mailbox("#news.comp.mail.misc"))),
        .init("LIST atom name with bracket", #"* LIST () "/" [Gmail]"#, list([], "/", mailbox("[Gmail]"))),
    ]

    static let statuses: [ResponseFixture] = [
        .init("STATUS", "* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)",
              mailboxStatus(mailbox("blurdybloop")) {
                  $0.messages = 231
                  $0.uidNext = 44292
              }),
        .init(
            "STATUS every item incl. HIGHESTMODSEQ and SIZE",
            #"* STATUS "Sent Items" (MESSAGES 3 RECENT 0 UIDNEXT 4 UIDVALIDITY 1700000000 UNSEEN 1 HIGHESTMODSEQ 90060115205545359 SIZE 123456)"#,
            mailboxStatus(mailbox("Sent Items")) {
                $0.messages = 3
                $0.recent = 0
                $0.uidNext = 4
                $0.uidValidity = 1_700_000_000
                $0.unseen = 1
                $0.highestModSeq = 90_060_115_205_545_359
                $0.size = 123_456
            }
        ),
        .init("STATUS with unknown item", "* STATUS INBOX (MESSAGES 2 APPENDLIMIT 1000 UNSEEN 1)",
              mailboxStatus(.inbox) {
                  $0.messages = 2
                  $0.unseen = 1
              }),
        .init("STATUS empty list", #"* STATUS "Entw&APw-rfe" ()"#, mailboxStatus(mailbox("Entw&APw-rfe")) { _ in }),
    ]

    static let searches: [ResponseFixture] = [
        .init("SEARCH empty", "* SEARCH", .untagged(.search([], modSeq: nil))),
        .init("SEARCH empty with trailing space", "* SEARCH ", .untagged(.search([], modSeq: nil))),
        .init("SEARCH numbers", "* SEARCH 2 84 882", .untagged(.search([2, 84, 882], modSeq: nil))),
        .init("SEARCH with MODSEQ", "* SEARCH 2 5 6 7 11 12 18 19 20 23 (MODSEQ 917162500)",
              .untagged(.search([2, 5, 6, 7, 11, 12, 18, 19, 20, 23], modSeq: 917_162_500))),
        .init(
            "ESEARCH with every result",
            #"* ESEARCH (TAG "a1") UID ALL 1:3,5 COUNT 4 MIN 1 MAX 5"#,
            esearch(tag: "a1", uid: true) {
                $0.all = [1, 2, 3, 5]
                $0.count = 4
                $0.min = 1
                $0.max = 5
            }
        ),
        .init("ESEARCH without UID", #"* ESEARCH (TAG "A282") MIN 2 COUNT 3"#,
              esearch(tag: "A282", uid: false) {
                  $0.min = 2
                  $0.count = 3
              }),
        .init("ESEARCH with nothing found", #"* ESEARCH (TAG "a3") UID"#, esearch(tag: "a3", uid: true)),
        .init("ESEARCH without correlator", "* ESEARCH COUNT 0", esearch(tag: nil, uid: false) { $0.count = 0 }),
        .init("ESEARCH with MODSEQ", #"* ESEARCH (TAG "a4") UID ALL 3:5 MODSEQ 1236"#,
              esearch(tag: "a4", uid: true) {
                  $0.all = [3, 4, 5]
                  $0.modSeq = 1236
              }),
        .init("ESORT PARTIAL keeps the sort order", #"* ESEARCH (TAG "a2") UID PARTIAL (1:3 9,4,7)"#,
              esearch(tag: "a2", uid: true) { $0.partial = .init(range: 1...3, numbers: [9, 4, 7]) }),
        .init("ESORT PARTIAL with descending range", #"* ESEARCH (TAG "a5") UID PARTIAL (1:4 12:10,3)"#,
              esearch(tag: "a5", uid: true) { $0.partial = .init(range: 1...4, numbers: [12, 11, 10, 3]) }),
        .init("ESORT PARTIAL empty", #"* ESEARCH (TAG "a6") UID PARTIAL (101:200 NIL)"#,
              esearch(tag: "a6", uid: true) { $0.partial = .init(range: 101...200, numbers: []) }),
        .init("ESEARCH with unknown return data", #"* ESEARCH (TAG "a7") UID RELEVANCY (4 99 42) COUNT 3"#,
              esearch(tag: "a7", uid: true) { $0.count = 3 }),
        .init("SORT", "* SORT 2 3 6", .untagged(.sort([2, 3, 6], modSeq: nil))),
        .init("SORT empty", "* SORT", .untagged(.sort([], modSeq: nil))),
        .init("SORT with MODSEQ", "* SORT 5 3 4 (MODSEQ 1234)", .untagged(.sort([5, 3, 4], modSeq: 1234))),
    ]

    static let threads: [ResponseFixture] = [
        .init(
            "THREAD RFC 5256 example",
            "* THREAD (2)(3 6 (4 23)(44 7 96))",
            .untagged(.thread([
                thread(2),
                thread(3, thread(6, thread(4, thread(23)), thread(44, thread(7, thread(96))))),
            ]))
        ),
        .init("THREAD missing parent", "* THREAD ((3)(5))", .untagged(.thread([thread(nil, thread(3), thread(5))]))),
        .init("THREAD missing parent under a chain", "* THREAD (1 ((2)(3 4)))",
              .untagged(.thread([thread(1, thread(nil, thread(2), thread(3, thread(4))))]))),
        .init("THREAD empty", "* THREAD", .untagged(.thread([]))),
        .init("THREAD chain", "* THREAD (1 2 3)(4)", .untagged(.thread([thread(1, thread(2, thread(3))), thread(4)]))),
        .init("THREAD chain past the depth limit hangs flat under its last linked member",
              threadChainWire(1_003, tail: " (1004)(1005 1006)"),
              .untagged(.thread([threadChain(1_003, tail: [thread(1004), thread(1005, thread(1006))])]))),
        .init("VANISHED EARLIER", "* VANISHED (EARLIER) 1:3", .untagged(.vanished(earlier: true, [1, 2, 3]))),
        .init("VANISHED", "* VANISHED 405,407,410:425",
              .untagged(.vanished(earlier: false, UIDSet(ranges: [405...405, 407...407, 410...425])))),
    ]

    static let fetches: [ResponseFixture] = [
        .init(
            "FETCH UID FLAGS RFC822.SIZE MODSEQ",
            #"* 12 FETCH (UID 4827313 FLAGS (\Seen $Label1) RFC822.SIZE 44827 MODSEQ (12121231000))"#,
            fetch(12, .uid(4_827_313), .flags(flags(#"\Seen"#, "$Label1")), .rfc822Size(44827), .modSeq(12_121_231_000))
        ),
        .init("FETCH empty FLAGS", "* 1 FETCH (FLAGS ())", fetch(1, .flags([]))),
        .init("FETCH INTERNALDATE", #"* 1 FETCH (INTERNALDATE "17-Jul-1996 02:44:25 -0700")"#,
              fetch(1, .internalDate(InternalDate(secondsSince1970: 837_596_665, zoneMinutes: -420)))),
        .init("FETCH INTERNALDATE with space-padded day", #"* 2 FETCH (INTERNALDATE " 1-Jan-2024 00:00:00 +0000")"#,
              fetch(2, .internalDate(InternalDate(secondsSince1970: 1_704_067_200, zoneMinutes: 0)))),
        .init("FETCH ENVELOPE RFC 3501 example", "* 12 FETCH (ENVELOPE \(rfc3501EnvelopeWire))",
              fetch(12, .envelope(rfc3501Envelope))),
        .init(
            "FETCH ENVELOPE with NIL fields, group and escaped quotes",
            #"* 3 FETCH (ENVELOPE (NIL "\"Quoted\" \\ subject" (("Al \"the pal\"" NIL "al" "example.org")) NIL NIL ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL "<parent@example.org>" NIL))"#,
            fetch(3, .envelope(Envelope(
                subject: #""Quoted" \ subject"#,
                from: [.init(name: #"Al "the pal""#, mailbox: "al", host: "example.org")],
                to: [.init(mailbox: "undisclosed-recipients"), .init()],
                inReplyTo: "<parent@example.org>"
            )))
        ),
        .init(
            "FETCH ENVELOPE with literal subject",
            "* 4 FETCH (UID 9 ENVELOPE (\"Mon, 1 Jan 2024 10:00:00 +0000\" " + literal("Ünïcode \"subject\"")
                + " NIL NIL NIL NIL NIL NIL NIL \"<m@x>\"))",
            fetch(4, .uid(9), .envelope(Envelope(date: "Mon, 1 Jan 2024 10:00:00 +0000",
                                                  subject: "Ünïcode \"subject\"", messageID: "<m@x>")))
        ),
        .init(
            "FETCH BODYSTRUCTURE single text part",
            #"* 1 FETCH (BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92 NIL NIL NIL))"#,
            fetch(1, .bodyStructure(part("TEXT", "PLAIN", ["charset": "US-ASCII"], encoding: "7BIT", size: 3028)))
        ),
        .init(
            "FETCH BODY non-extensible",
            #"* 1 FETCH (BODY ("text" "plain" NIL NIL NIL "7bit" 5 1))"#,
            fetch(1, .bodyStructure(part("text", "plain", encoding: "7bit", size: 5)))
        ),
        .init(
            "FETCH BODYSTRUCTURE multipart/mixed with attachment",
            #"* 2 FETCH (UID 7 BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 120 4 NIL NIL NIL NIL)("application" "pdf" ("name" "report.pdf") NIL NIL "base64" 40000 NIL ("attachment" ("filename" "report.pdf")) NIL NIL) "mixed" ("boundary" "----=_Part_0") NIL NIL NIL))"#,
            fetch(2, .uid(7), .bodyStructure(.multipart(
                parts: [
                    part("text", "plain", ["charset": "utf-8"], encoding: "quoted-printable", size: 120),
                    part("application", "pdf", ["name": "report.pdf"], encoding: "base64", size: 40000,
                         disposition: .init(kind: "attachment", parameters: ["filename": "report.pdf"])),
                ],
                subtype: "mixed", disposition: nil
            )))
        ),
        .init(
            "FETCH BODYSTRUCTURE multipart/alternative text only",
            #"* 3 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "utf-8") NIL NIL "7bit" 10 1)("text" "html" ("charset" "utf-8") NIL NIL "7bit" 20 1) "alternative"))"#,
            fetch(3, .bodyStructure(.multipart(
                parts: [
                    part("text", "plain", ["charset": "utf-8"], encoding: "7bit", size: 10),
                    part("text", "html", ["charset": "utf-8"], encoding: "7bit", size: 20),
                ],
                subtype: "alternative", disposition: nil
            )))
        ),
        .init(
            "FETCH BODYSTRUCTURE nested message/rfc822",
            #"* 4 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 30 2 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 1500 (NIL "Inner" NIL NIL NIL NIL NIL NIL NIL "<inner@x>") (("text" "plain" NIL NIL NIL "7bit" 100 5)("image" "png" ("name" "a.png") NIL NIL "base64" 900) "mixed") 40 NIL ("attachment" ("filename" "fwd.eml")) NIL NIL) "mixed" ("boundary" "b1") ("inline" NIL) NIL NIL))"#,
            fetch(4, .bodyStructure(.multipart(
                parts: [
                    part("text", "plain", ["charset": "us-ascii"], encoding: "7bit", size: 30),
                    part("message", "rfc822", encoding: "7bit", size: 1500,
                         disposition: .init(kind: "attachment", parameters: ["filename": "fwd.eml"])),
                ],
                subtype: "mixed", disposition: .init(kind: "inline")
            )))
        ),
        .init(
            "FETCH BODY[HEADER.FIELDS] literal",
            "* 7 FETCH (UID 100 BODY[HEADER.FIELDS (X-PRIORITY IMPORTANCE)] " + literal(headerFieldsLiteral) + ")",
            fetch(7, .uid(100), .bodySection(section: "HEADER.FIELDS (X-PRIORITY IMPORTANCE)", origin: nil,
                                             data: Array(headerFieldsLiteral.utf8)))
        ),
        .init(
            "FETCH BODY[] with origin, quoted",
            #"* 8 FETCH (BODY[]<0> "Subject: x" UID 8)"#,
            fetch(8, .bodySection(section: "", origin: 0, data: Array("Subject: x".utf8)), .uid(8))
        ),
        .init("FETCH BODY[1] NIL", "* 9 FETCH (BODY[1] NIL)", fetch(9, .bodySection(section: "1", origin: nil, data: nil))),
        .init("FETCH RFC822.HEADER", "* 10 FETCH (RFC822.HEADER " + literal("A: b\r\n\r\n") + ")",
              fetch(10, .bodySection(section: "HEADER", origin: nil, data: Array("A: b\r\n\r\n".utf8)))),
        .init("FETCH unknown item kept raw", #"* 11 FETCH (X-GUID "abc" UID 3)"#,
              fetch(11, .other(name: "X-GUID", value: .string(Array("abc".utf8))), .uid(3))),
        .init("FETCH unsolicited FLAGS update", #"* 14 FETCH (FLAGS (\Seen \Deleted))"#,
              fetch(14, .flags([.seen, .deleted]))),
        .init("FETCH item nested exactly as deep as the limit",
              "* 1 FETCH (X-NEST \(nested(ResponseParser.defaultMaxNestingDepth)))",
              fetch(1, .other(name: "X-NEST", value: nestedValue(ResponseParser.defaultMaxNestingDepth)))),
        .init("FETCH INTERNALDATE unpadded day", #"* 3 FETCH (INTERNALDATE "1-Jan-2024 00:00:00 +0000")"#,
              fetch(3, .internalDate(InternalDate(secondsSince1970: 1_704_067_200, zoneMinutes: 0)))),
    ]

    static let responseCodes: [ResponseFixture] = [
        .init("UIDVALIDITY", "* OK [UIDVALIDITY 3857529045] UIDs valid", untagged(.ok, .uidValidity(3_857_529_045), "UIDs valid")),
        .init("UIDNEXT", "* OK [UIDNEXT 4392] Predicted next UID", untagged(.ok, .uidNext(4392), "Predicted next UID")),
        .init("UNSEEN", "* OK [UNSEEN 12] Message 12 is first unseen", untagged(.ok, .unseen(12), "Message 12 is first unseen")),
        .init("HIGHESTMODSEQ", "* OK [HIGHESTMODSEQ 715194045007] Highest",
              untagged(.ok, .highestModSeq(715_194_045_007), "Highest")),
        .init("PERMANENTFLAGS with wildcard", #"* OK [PERMANENTFLAGS (\Deleted \Seen \*)] Limited"#,
              untagged(.ok, .permanentFlags([.deleted, .seen, .wildcard]), "Limited")),
        .init("PERMANENTFLAGS empty", "* OK [PERMANENTFLAGS ()] No permanent flags permitted",
              untagged(.ok, .permanentFlags([]), "No permanent flags permitted")),
        .init("COPYUID tagged", "c OK [COPYUID 1795641766 1:2 1:2] Copy completed",
              tagged("c", .ok, .copyUID(uidValidity: 1_795_641_766, source: [1, 2], destination: [1, 2]), "Copy completed")),
        .init("COPYUID untagged after UID MOVE", "* OK [COPYUID 1795641766 3:4 3:4] Moved UIDs.",
              untagged(.ok, .copyUID(uidValidity: 1_795_641_766, source: [3, 4], destination: [3, 4]), "Moved UIDs.")),
        .init("COPYUID RFC 4315 example", "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done",
              tagged("A004", .ok, .copyUID(uidValidity: 38505, source: [304, 319, 320], destination: [3956, 3957, 3958]), "Done")),
        .init("COPYUID reversed range expands in written order", "a OK [COPYUID 38505 5:3 10:12] Done",
              tagged("a", .ok, .copyUID(uidValidity: 38505, source: [5, 4, 3], destination: [10, 11, 12]), "Done")),
        .init("COPYUID unordered sets keep their order", "a OK [COPYUID 7 9,2,5:6 20,21:22,19] Done",
              tagged("a", .ok, .copyUID(uidValidity: 7, source: [9, 2, 5, 6], destination: [20, 21, 22, 19]), "Done")),
        .init("COPYUID with mismatched set sizes is kept raw", "a OK [COPYUID 1 1:3 5:6] Done",
              tagged("a", .ok, .other(name: "COPYUID", argument: "1 1:3 5:6"), "Done")),
        .init("APPENDUID", "A003 OK [APPENDUID 38505 3955] APPEND completed",
              tagged("A003", .ok, .appendUID(uidValidity: 38505, uids: [3955]), "APPEND completed")),
        .init("APPENDUID MULTIAPPEND", "A003 OK [APPENDUID 38505 3955:3957] APPEND completed",
              tagged("A003", .ok, .appendUID(uidValidity: 38505, uids: [3955, 3956, 3957]), "APPEND completed")),
        .init("TRYCREATE untagged", "* NO [TRYCREATE] Mailbox doesn't exist", untagged(.no, .tryCreate, "Mailbox doesn't exist")),
        .init("NOMODSEQ", "* OK [NOMODSEQ] Sorry, this mailbox format doesn't support modsequences",
              untagged(.ok, .noModSeq, "Sorry, this mailbox format doesn't support modsequences")),
        .init("MODIFIED", "d105 OK [MODIFIED 7,9] Conditional STORE failed",
              tagged("d105", .ok, .modified([7, 9]), "Conditional STORE failed")),
        .init("CLOSED", "* OK [CLOSED] Previous mailbox closed", untagged(.ok, .closed, "Previous mailbox closed")),
        .init("UIDNOTSTICKY", "* NO [UIDNOTSTICKY] Non-persistent UIDs", untagged(.no, .uidNotSticky, "Non-persistent UIDs")),
        .init("ALERT", "* OK [ALERT] System shutdown in 10 minutes", untagged(.ok, .alert, "System shutdown in 10 minutes")),
        .init("PARSE", "* NO [PARSE] Bad header", untagged(.no, .parse, "Bad header")),
        .init("unknown code", "a1 NO [AUTHENTICATIONFAILED] Authentication failed.",
              tagged("a1", .no, .other(name: "AUTHENTICATIONFAILED", argument: nil), "Authentication failed.")),
        .init("unknown code with argument", "a1 NO [BADCHARSET (UTF-8 US-ASCII)] Unsupported charset",
              tagged("a1", .no, .other(name: "BADCHARSET", argument: "(UTF-8 US-ASCII)"), "Unsupported charset")),
        .init("known code with unexpected argument kept raw", "a1 OK [READ-WRITE now] Selected",
              tagged("a1", .ok, .other(name: "READ-WRITE", argument: "now"), "Selected")),
        .init("HIGHESTMODSEQ overflowing 64 bits kept raw", "* OK [HIGHESTMODSEQ 99999999999999999999] x",
              untagged(.ok, .other(name: "HIGHESTMODSEQ", argument: "99999999999999999999"), "x")),
        .init("code without space before text", "* OK [ALERT]Now", untagged(.ok, .alert, "Now")),
        .init("text ending in a long number and a brace is not a literal", "* OK 12345678901234567890}",
              untagged(.ok, "12345678901234567890}")),
    ]

    static let unknownAndTolerant: [ResponseFixture] = [
        .init("ID is unknown", #"* ID ("name" "Dovecot")"#, .untagged(.unknown(#"ID ("name" "Dovecot")"#))),
        .init("NAMESPACE is unknown", #"* NAMESPACE (("" "/")) NIL NIL"#, .untagged(.unknown(#"NAMESPACE (("" "/")) NIL NIL"#))),
        .init("unknown numbered response", "* 3 XYZZY foo", .untagged(.unknown("3 XYZZY foo"))),
        .init("unknown response keeps its literal", "* METADATA INBOX (/private/comment " + literal("a\r\nb") + ")",
              .untagged(.unknown("METADATA INBOX (/private/comment {4}\r\na\r\nb)"))),
        .init("keyword prefix is not the keyword", "* SEARCHRES 1", .untagged(.unknown("SEARCHRES 1"))),
        .init("lowercase EXISTS", "* 23 exists", .untagged(.exists(23))),
        .init("lowercase tagged ok", "a1 ok done", tagged("a1", .ok, "done")),
        .init("lowercase untagged status", "* ok [uidvalidity 1] x", untagged(.ok, .uidValidity(1), "x")),
        .init("lowercase LIST", #"* list (\HasNoChildren) "/" INBOX"#, list([#"\HasNoChildren"#], "/", .inbox)),
        .init("lowercase SEARCH", "* search 1 2", .untagged(.search([1, 2], modSeq: nil))),
        .init("lowercase FETCH items", #"* 1 fetch (uid 5 flags (\seen) rfc822.size 10)"#,
              fetch(1, .uid(5), .flags([.seen]), .rfc822Size(10))),
        .init("lowercase ESEARCH", #"* esearch (tag "x") uid count 2"#, esearch(tag: "x", uid: true) { $0.count = 2 }),
        .init("bare LF line ending", "* 2 EXISTS", .untagged(.exists(2)), lineEnding: "\n"),
    ]

    static let all: [ResponseFixture] =
        statusResponses + serverData + lists + statuses + searches + threads + fetches + responseCodes + unknownAndTolerant

    /// Responses too long to feed at every split point: parsed and framed whole only.
    static let large: [ResponseFixture] = [
        .init("THREAD chain of 100,000 replies stays within the depth limit", threadChainWire(100_000),
              .untagged(.thread([threadChain(100_000)]))),
        .init(
            "BODYSTRUCTURE of 100 nested forwards (Dovecot's MIME nesting limit)", forwardsWire(100),
            fetch(1, .bodyStructure(.multipart(
                parts: [part("text", "plain", encoding: "7bit", size: 1), part("message", "rfc822", encoding: "7bit", size: 9)],
                subtype: "mixed", disposition: nil
            )))
        ),
        .init("SEARCH of 100,000 numbers", "* SEARCH " + (1...100_000).map(String.init).joined(separator: " "),
              .untagged(.search(Array(1...100_000), modSeq: nil))),
    ]

    static let malformed: [MalformedFixture] = [
        .init("unterminated quoted string", #"* LIST () "/" "INBOX"#),
        .init("bad escape in quoted string", #"* LIST () "/" "a\b""#),
        .init("tag followed by garbage status", "a1 FOO bar"),
        .init("tag followed by status-like word", "a1 OKAY done"),
        .init("tagged BYE", "a1 BYE done"),
        .init("tag without status", "a1"),
        .init("sequence number over 32 bits", "* 4294967296 EXISTS"),
        .init("number over 64 bits", "* 18446744073709551616 EXISTS"),
        .init("UID over 32 bits", "* 1 FETCH (UID 4294967296)"),
        .init("SEARCH number over 32 bits", "* SEARCH 1 99999999999"),
        .init("SEARCH garbage", "* SEARCH 1 two"),
        .init("missing line ending", "* 1 EXISTS", lineEnding: ""),
        .init("CR without LF", "* 1 EXISTS", lineEnding: "\r"),
        .init("data after the response", "* 1 EXISTS", lineEnding: "\r\nx"),
        .init("unterminated response code", "* OK [ALERT text"),
        .init("unterminated FETCH list", "* 1 FETCH (UID 1"),
        .init("FETCH without parenthesis", "* 1 FETCH UID 1"),
        .init("bad INTERNALDATE", #"* 1 FETCH (INTERNALDATE "yesterday")"#),
        .init("ENVELOPE with too few fields", "* 1 FETCH (ENVELOPE (NIL NIL))"),
        .init("BODYSTRUCTURE that is not a list", "* 1 FETCH (BODYSTRUCTURE NIL)"),
        .init("unterminated section", "* 1 FETCH (BODY[HEADER NIL)"),
        .init("literal longer than the frame", #"* LIST () "/" {10}"# + "\r\nabc"),
        .init("zero in a sequence set", "* VANISHED 0:3"),
        .init("VANISHED with unknown modifier", "* VANISHED (LATER) 1"),
        .init("empty thread list", "* THREAD ()"),
        .init("thread member after nested list", "* THREAD (1 (2) 3)"),
        .init("thread member zero", "* THREAD (0)"),
        .init("multi-character delimiter", #"* LIST () "ab" x"#),
        .init("LIST without attributes", #"* LIST "/" x"#),
        .init("ESEARCH unknown correlator", #"* ESEARCH (FOO "x")"#),
        .init("SEARCH bad MODSEQ", "* SEARCH 1 (FOO 2)"),
        .init("STATUS without list", "* STATUS INBOX MESSAGES 1"),
        .init("STATUS value not a number", "* STATUS INBOX (MESSAGES x)"),
        .init("PARTIAL expands beyond the limit", #"* ESEARCH UID PARTIAL (1:20 1:20)"#,
              parser: ResponseParser(maxExpandedSetSize: 10)),
        .init("line break inside quoted string", "* LIST () \"/\" \"IN\nBOX\""),
        // Nesting: each of these overflowed the stack before the depth limit.
        .init("FETCH item nested 200,000 deep", "* 1 FETCH (X-NEST \(nested(200_000)))", reason: "nested deeper"),
        .init("BODYSTRUCTURE nested 200,000 deep", "* 1 FETCH (BODYSTRUCTURE \(nested(200_000, "\"text\"")))",
              reason: "nested deeper"),
        .init("ENVELOPE nested 200,000 deep", "* 1 FETCH (ENVELOPE \(nested(200_000)))", reason: "nested deeper"),
        .init("THREAD nested 200,000 deep", "* THREAD \(nested(200_000, "1"))", reason: "nested deeper"),
        .init("LIST extended data nested 200,000 deep", #"* LIST () "/" INBOX "# + nested(200_000),
              reason: "nested deeper"),
        .init("ESEARCH return data nested 200,000 deep", "* ESEARCH UID X \(nested(200_000))", reason: "nested deeper"),
        .init("200,000 opening parentheses never closed", "* 1 FETCH (X-NEST " + String(repeating: "(", count: 200_000),
              reason: "nested deeper"),
        .init("FETCH item nested one deeper than the limit",
              "* 1 FETCH (X-NEST \(nested(ResponseParser.defaultMaxNestingDepth + 1)))", reason: "nested deeper"),
        .init("BODYSTRUCTURE of 127 nested forwards", forwardsWire(127), reason: "nested deeper"),
        .init("nesting past a configured limit", "* 1 FETCH (X-NEST ((((1)))))",
              parser: ResponseParser(maxNestingDepth: 3), reason: "nested deeper than 3"),
        // Numbers: these trapped on overflow in INTERNALDATE's arithmetic before its length was bounded.
        .init("INTERNALDATE day overflowing date arithmetic", #"* 1 FETCH (INTERNALDATE "99999999999999999-Jan-2024 00:00:00 +0000")"#,
              reason: "INTERNALDATE"),
        .init("INTERNALDATE year overflowing date arithmetic", #"* 1 FETCH (INTERNALDATE "1-Jan-999999999999999999 00:00:00 +0000")"#,
              reason: "INTERNALDATE"),
        .init("INTERNALDATE hour overflowing date arithmetic", #"* 1 FETCH (INTERNALDATE "1-Jan-2024 9999999999999999:00:00 +0000")"#,
              reason: "INTERNALDATE"),
        .init("literal length over 64 bits", #"* LIST () "/" {99999999999999999999}"# + "\r\nx", reason: "number too large"),
        .init("literal length over the frame", #"* LIST () "/" {18446744073709551615}"# + "\r\nx",
              reason: "literal longer than the frame"),
        .init("MODSEQ over 64 bits", "* 1 FETCH (MODSEQ (18446744073709551616))", reason: "number too large"),
        .init("RFC822.SIZE over 64 bits", "* 1 FETCH (RFC822.SIZE 99999999999999999999)", reason: "number too large"),
        .init("VANISHED UID over 32 bits", "* VANISHED 1:4294967296", reason: "32 bits"),
        .init("ESEARCH PARTIAL range over 32 bits", "* ESEARCH UID PARTIAL (1:2147483648 1)", reason: "out of range"),
    ]
}
