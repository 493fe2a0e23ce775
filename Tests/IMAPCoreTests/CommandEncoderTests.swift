import IMAPCore
import Testing

/// A command and the parts it must produce on the wire (each part's text and whether the client then waits for `+`).
struct EncodingFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let command: Command
    let literalPlus: Bool
    let parts: [(String, Bool)]

    init(_ name: String, _ command: Command, literalPlus: Bool = false, _ parts: (String, Bool)...) {
        self.name = name
        self.command = command
        self.literalPlus = literalPlus
        self.parts = parts
    }

    /// A one-part command.
    init(_ name: String, _ command: Command, literalPlus: Bool = false, _ line: String) {
        self.init(name, command, literalPlus: literalPlus, (line, false))
    }

    var testDescription: String { name }
}

/// A command the encoder must refuse, and the error it must give.
struct RefusalFixture: Sendable, CustomTestStringConvertible {
    let name: String
    let command: Command
    let error: CommandEncodingError

    init(_ name: String, _ command: Command, _ error: CommandEncodingError) {
        self.name = name
        self.command = command
        self.error = error
    }

    var testDescription: String { name }
}

private let message = "Subject: hi\r\n\r\nbody\r\n"

private let encodings: [EncodingFixture] = [
    .init("CAPABILITY", .capability, "A1 CAPABILITY\r\n"),
    .init("NOOP", .noop, "A1 NOOP\r\n"),
    .init("LOGOUT", .logout, "A1 LOGOUT\r\n"),
    .init("STARTTLS", .startTLS, "A1 STARTTLS\r\n"),
    .init("UNSELECT", .unselect, "A1 UNSELECT\r\n"),
    .init("CLOSE", .close, "A1 CLOSE\r\n"),
    .init("EXPUNGE", .expunge, "A1 EXPUNGE\r\n"),
    .init("LOGIN plain", .login(username: "alice", password: "secret"), #"A1 LOGIN "alice" "secret""# + "\r\n"),
    .init("LOGIN escapes quotes and backslashes", .login(username: #"al"ice\"#, password: #"p\"w"#),
          #"A1 LOGIN "al\"ice\\" "p\\\"w""# + "\r\n"),
    .init("LOGIN master user", .login(username: "alice*master", password: "pw (x) {3}"),
          #"A1 LOGIN "alice*master" "pw (x) {3}""# + "\r\n"),
    .init("LOGIN empty password", .login(username: "alice", password: ""), #"A1 LOGIN "alice" """# + "\r\n"),
    .init("LOGIN 8-bit password as synchronising literal", .login(username: "alice", password: "pässword"),
          ("A1 LOGIN \"alice\" {9}\r\n", true), ("pässword\r\n", false)),
    .init("LOGIN 8-bit password with LITERAL+", .login(username: "alice", password: "pässword"), literalPlus: true,
          "A1 LOGIN \"alice\" {9+}\r\npässword\r\n"),
    .init("LOGIN 8-bit username and password", .login(username: "jörg", password: "é"),
          ("A1 LOGIN {5}\r\n", true), ("jörg {2}\r\n", true), ("é\r\n", false)),
    .init("AUTHENTICATE PLAIN with SASL-IR",
          .authenticatePlain(authorizationIdentity: nil, username: "alice", password: "secret", initialResponse: true),
          "A1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
    .init("AUTHENTICATE PLAIN with authorization identity",
          .authenticatePlain(authorizationIdentity: "alice", username: "gateway-master", password: "secret",
                             initialResponse: true),
          "A1 AUTHENTICATE PLAIN YWxpY2UAZ2F0ZXdheS1tYXN0ZXIAc2VjcmV0\r\n"),
    .init("AUTHENTICATE PLAIN without SASL-IR",
          .authenticatePlain(authorizationIdentity: nil, username: "alice", password: "secret", initialResponse: false),
          ("A1 AUTHENTICATE PLAIN\r\n", true), ("AGFsaWNlAHNlY3JldA==\r\n", false)),
    .init("ENABLE", .enable([.condStore, .qresync]), "A1 ENABLE CONDSTORE QRESYNC\r\n"),
    .init("SELECT INBOX", .select(.inbox, condStore: false), "A1 SELECT \"INBOX\"\r\n"),
    .init("SELECT lowercase inbox", .select(MailboxName("inbox"), condStore: false), "A1 SELECT \"INBOX\"\r\n"),
    .init("SELECT non-ASCII with CONDSTORE", .select(MailboxName("Société/Été"), condStore: true),
          "A1 SELECT \"Soci&AOk-t&AOk-/&AMk-t&AOk-\" (CONDSTORE)\r\n"),
    .init("EXAMINE with ampersand", .examine(MailboxName("Tom & Jerry"), condStore: false),
          "A1 EXAMINE \"Tom &- Jerry\"\r\n"),
    .init("SELECT name with quote keeps wire bytes, escaped", .select(MailboxName(#"Say "hi""#), condStore: false),
          #"A1 SELECT "Say \"hi\"""# + "\r\n"),
    .init("LIST RETURN SPECIAL-USE and STATUS",
          .list(pattern: "*", returnSpecialUse: true, returnStatus: [.messages, .unseen, .size]),
          "A1 LIST \"\" \"*\" RETURN (SPECIAL-USE STATUS (MESSAGES UNSEEN SIZE))\r\n"),
    .init("LIST RETURN SPECIAL-USE only", .list(pattern: "%", returnSpecialUse: true, returnStatus: []),
          "A1 LIST \"\" \"%\" RETURN (SPECIAL-USE)\r\n"),
    .init("LIST plain", .list(pattern: "Archive/*", returnSpecialUse: false, returnStatus: []),
          "A1 LIST \"\" \"Archive/*\"\r\n"),
    .init("STATUS", .status(MailboxName("Archive/2024"), [.messages, .uidNext, .uidValidity, .highestModSeq]),
          "A1 STATUS \"Archive/2024\" (MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)\r\n"),
    .init("CREATE", .create(MailboxName("日本語")), "A1 CREATE \"&ZeVnLIqe-\"\r\n"),
    .init("DELETE", .delete(MailboxName("Old")), "A1 DELETE \"Old\"\r\n"),
    .init("APPEND with flags and literal", .append(MailboxName("Drafts"), flags: [.draft, .seen], message: Array(message.utf8)),
          ("A1 APPEND \"Drafts\" (\\Draft \\Seen) {21}\r\n", true), (message + "\r\n", false)),
    .init("APPEND with LITERAL+", .append(MailboxName("Drafts"), flags: [], message: Array(message.utf8)), literalPlus: true,
          "A1 APPEND \"Drafts\" {21+}\r\n" + message + "\r\n"),
    .init("UID SEARCH", .uidSearch(.and([.uid([1, 2, 3, 5]), .unseen, .not(.deleted)]), returning: nil),
          "A1 UID SEARCH CHARSET UTF-8 (UID 1:3,5 UNSEEN NOT DELETED)\r\n"),
    .init("UID SEARCH RETURN", .uidSearch(.all, returning: [.min, .max, .count, .all]),
          "A1 UID SEARCH RETURN (MIN MAX COUNT ALL) CHARSET UTF-8 ALL\r\n"),
    .init("UID SEARCH every key",
          .uidSearch(.and([.seen, .flagged, .unflagged, .undeleted, .keyword(Flag("$Label1")),
                           .unkeyword(Flag("$Junk")), .larger(100), .smaller(2000), .modSeq(620162338),
                           .or(.header("Message-ID", "<a@b>"), .header("In-Reply-To", #"q"x\y"#))]),
                     returning: nil),
          #"A1 UID SEARCH CHARSET UTF-8 (SEEN FLAGGED UNFLAGGED UNDELETED KEYWORD $Label1 UNKEYWORD $Junk LARGER 100 SMALLER 2000 MODSEQ 620162338 OR HEADER Message-ID "<a@b>" HEADER In-Reply-To "q\"x\\y")"#
              + "\r\n"),
    .init("UID SEARCH empty AND", .uidSearch(.and([]), returning: nil), "A1 UID SEARCH CHARSET UTF-8 ALL\r\n"),
    .init("UID SEARCH empty UID set matches nothing", .uidSearch(.uid(UIDSet()), returning: nil),
          "A1 UID SEARCH CHARSET UTF-8 UID 0\r\n"),
    .init("UID SEARCH 8-bit header value as literal", .uidSearch(.header("Subject", "Société"), returning: nil),
          ("A1 UID SEARCH CHARSET UTF-8 HEADER Subject {9}\r\n", true), ("Société\r\n", false)),
    .init("UID SORT REVERSE DATE", .uidSort([SortKey(.date, reverse: true)], .all, returning: nil),
          "A1 UID SORT (REVERSE DATE) UTF-8 ALL\r\n"),
    .init("UID SORT several keys with ESORT PARTIAL",
          .uidSort([SortKey(.subject), SortKey(.arrival, reverse: true)], .undeleted, returning: [.partial(1...100)]),
          "A1 UID SORT RETURN (PARTIAL 1:100) (SUBJECT REVERSE ARRIVAL) UTF-8 UNDELETED\r\n"),
    .init("UID SORT ESORT ALL COUNT", .uidSort([SortKey(.size)], .all, returning: [.all, .count]),
          "A1 UID SORT RETURN (ALL COUNT) (SIZE) UTF-8 ALL\r\n"),
    .init("UID THREAD REFERENCES", .uidThread(algorithm: "REFERENCES", .all), "A1 UID THREAD REFERENCES UTF-8 ALL\r\n"),
    .init("UID FETCH header fields with CHANGEDSINCE",
          .uidFetch([1, 2, 3, 5], [.uid, .flags, .headerFields(["X-Priority", "Importance"])], changedSince: 12345),
          "A1 UID FETCH 1:3,5 (UID FLAGS BODY.PEEK[HEADER.FIELDS (X-Priority Importance)]) (CHANGEDSINCE 12345)\r\n"),
    .init("UID FETCH every item",
          .uidFetch([7], [.uid, .flags, .rfc822Size, .internalDate, .envelope, .bodyStructure, .modSeq,
                          .bodyPeek(section: "HEADER")], changedSince: nil),
          "A1 UID FETCH 7 (UID FLAGS RFC822.SIZE INTERNALDATE ENVELOPE BODYSTRUCTURE MODSEQ BODY.PEEK[HEADER])\r\n"),
    .init("UID FETCH whole message", .uidFetch([7], [.bodyPeek(section: "")], changedSince: nil),
          "A1 UID FETCH 7 (BODY.PEEK[])\r\n"),
    .init("UID STORE +FLAGS.SILENT with UNCHANGEDSINCE",
          .uidStore([4, 5, 6], .add, flags: [.seen, Flag("$Label1")], silent: true, unchangedSince: 200),
          "A1 UID STORE 4:6 (UNCHANGEDSINCE 200) +FLAGS.SILENT (\\Seen $Label1)\r\n"),
    .init("UID STORE -FLAGS", .uidStore([7], .remove, flags: [.flagged], silent: false, unchangedSince: nil),
          "A1 UID STORE 7 -FLAGS (\\Flagged)\r\n"),
    .init("UID STORE FLAGS replace", .uidStore([1, 3], .replace, flags: [.answered, .deleted], silent: true, unchangedSince: nil),
          "A1 UID STORE 1,3 FLAGS.SILENT (\\Answered \\Deleted)\r\n"),
    .init("UID STORE empty flag list", .uidStore([1], .replace, flags: [], silent: true, unchangedSince: nil),
          "A1 UID STORE 1 FLAGS.SILENT ()\r\n"),
    .init("UID COPY compressed set", .uidCopy([3, 1, 2, 10, 11, 20], MailboxName("Archive")),
          "A1 UID COPY 1:3,10:11,20 \"Archive\"\r\n"),
    .init("UID MOVE", .uidMove([5, 6, 7, 9], MailboxName("Trash")), "A1 UID MOVE 5:7,9 \"Trash\"\r\n"),
    .init("UID MOVE non-ASCII destination", .uidMove([1], MailboxName("Entwürfe")), "A1 UID MOVE 1 \"Entw&APw-rfe\"\r\n"),
    .init("UID EXPUNGE", .uidExpunge([1, 2, 3, 5]), "A1 UID EXPUNGE 1:3,5\r\n"),
    .init("UID SEARCH saving its result", .uidSearch(.uid([1, 3]), returning: [.save]),
          "A1 UID SEARCH RETURN (SAVE) CHARSET UTF-8 UID 1,3\r\n"),
    .init("UID SEARCH adding to the saved result", .uidSearch(.or(.savedResult, .uid([7, 9])), returning: [.save, .all]),
          "A1 UID SEARCH RETURN (SAVE ALL) CHARSET UTF-8 OR UID $ UID 7,9\r\n"),
    .init("UID MOVE on the saved result", .onSavedResult(.uidMove([1, 3], MailboxName("Trash"))), "A1 UID MOVE $ \"Trash\"\r\n"),
    .init("UID COPY on the saved result", .onSavedResult(.uidCopy([1], MailboxName("Entwürfe"))),
          "A1 UID COPY $ \"Entw&APw-rfe\"\r\n"),
    .init("UID STORE on the saved result", .onSavedResult(.uidStore([1], .add, flags: [.deleted], silent: true, unchangedSince: nil)),
          "A1 UID STORE $ +FLAGS.SILENT (\\Deleted)\r\n"),
    .init("UID EXPUNGE on the saved result", .onSavedResult(.uidExpunge([1, 2])), "A1 UID EXPUNGE $\r\n"),
]

private let refusals: [RefusalFixture] = [
    .init("FETCH on a saved result", .onSavedResult(.uidFetch([1], [.flags], changedSince: nil)),
          .invalidArgument(field: "command", reason: "UID FETCH cannot act on a saved search result")),
    .init("LF in the destination of a MOVE on a saved result", .onSavedResult(.uidMove([1], MailboxName("Trash\n"))),
          .forbiddenCharacter(field: "mailbox name")),
    .init("CR LF in username", .login(username: "alice\r\nA2 DELETE INBOX", password: "x"),
          .forbiddenCharacter(field: "username")),
    .init("LF in password", .login(username: "alice", password: "x\nA2 LOGOUT"), .forbiddenCharacter(field: "password")),
    .init("NUL in password", .login(username: "alice", password: "x\0y"), .forbiddenCharacter(field: "password")),
    .init("CR in 8-bit password", .login(username: "alice", password: "pä\rss"), .forbiddenCharacter(field: "password")),
    .init("NUL in SASL username",
          .authenticatePlain(authorizationIdentity: nil, username: "alice\0admin", password: "x", initialResponse: true),
          .forbiddenCharacter(field: "username")),
    .init("NUL in SASL authorization identity",
          .authenticatePlain(authorizationIdentity: "bob\0", username: "master", password: "x", initialResponse: true),
          .forbiddenCharacter(field: "authorization identity")),
    .init("CR LF in SASL password",
          .authenticatePlain(authorizationIdentity: nil, username: "alice", password: "x\r\n", initialResponse: false),
          .forbiddenCharacter(field: "password")),
    .init("CR LF in mailbox name", .select(MailboxName("INBOX\r\nA1 DELETE INBOX"), condStore: false),
          .forbiddenCharacter(field: "mailbox name")),
    .init("NUL in mailbox name", .create(MailboxName("a\0b")), .forbiddenCharacter(field: "mailbox name")),
    .init("LF in move destination", .uidMove([1], MailboxName("Trash\n")), .forbiddenCharacter(field: "mailbox name")),
    .init("CR LF in mailbox wire bytes", .delete(MailboxName(wire: Array("INBOX\r\nA1 DELETE INBOX".utf8))),
          .forbiddenCharacter(field: "mailbox name")),
    .init("CR in modified UTF-7 wire bytes", .status(MailboxName(wire: Array("&AA0ACg-x".utf8)), [.messages]),
          .forbiddenCharacter(field: "mailbox name")),
    .init("CR LF in LIST pattern", .list(pattern: "*\r\nA2 LOGOUT", returnSpecialUse: false, returnStatus: []),
          .forbiddenCharacter(field: "pattern")),
    .init("CR LF in header search value", .uidSearch(.header("Subject", "x\r\nA2 LOGOUT"), returning: nil),
          .forbiddenCharacter(field: "header value")),
    .init("CR LF in sorted header search value", .uidSort([SortKey(.date)], .not(.header("From", "a\nb")), returning: nil),
          .forbiddenCharacter(field: "header value")),
    .init("space in header search field", .uidSearch(.header("X Priority", "1"), returning: nil),
          .invalidArgument(field: "header field", reason: "\"X Priority\" is not a header field name")),
    .init("unknown system flag", .uidStore([1], .add, flags: [Flag("\\Foo")], silent: true, unchangedSince: nil),
          .invalidFlag("\\Foo")),
    .init("flag with space", .uidStore([1], .add, flags: [Flag("bad flag")], silent: true, unchangedSince: nil),
          .invalidFlag("bad flag")),
    .init("flag with parenthesis", .uidStore([1], .remove, flags: [.seen, Flag("a)b")], silent: true, unchangedSince: nil),
          .invalidFlag("a)b")),
    .init("flag with CR LF", .uidStore([1], .add, flags: [Flag("x\r\ny")], silent: false, unchangedSince: nil),
          .invalidFlag("x\r\ny")),
    .init("empty flag", .uidStore([1], .add, flags: [Flag("")], silent: false, unchangedSince: nil), .invalidFlag("")),
    .init("wildcard flag", .uidStore([1], .add, flags: [.wildcard], silent: false, unchangedSince: nil), .invalidFlag("\\*")),
    .init("\\Recent cannot be stored", .uidStore([1], .add, flags: [.recent], silent: false, unchangedSince: nil),
          .invalidFlag("\\Recent")),
    .init("non-ASCII keyword", .uidStore([1], .add, flags: [Flag("Étiquette")], silent: false, unchangedSince: nil),
          .invalidFlag("Étiquette")),
    .init("bad APPEND flag", .append(.inbox, flags: [Flag("a b")], message: [65]), .invalidFlag("a b")),
    .init("bad search keyword", .uidSearch(.keyword(Flag("a b")), returning: nil), .invalidFlag("a b")),
    .init("system flag as search keyword", .uidSearch(.unkeyword(.seen), returning: nil), .invalidFlag("\\Seen")),
    .init("header field name with space", .uidFetch([1], [.headerFields(["X-PRIORITY", "BAD FIELD"])], changedSince: nil),
          .invalidArgument(field: "header field", reason: "\"BAD FIELD\" is not a header field name")),
    .init("header field name with bracket", .uidFetch([1], [.headerFields(["X[1"])], changedSince: nil),
          .invalidArgument(field: "header field", reason: "\"X[1\" is not a header field name")),
    .init("header field name with CR LF", .uidFetch([1], [.headerFields(["X\r\nA2 LOGOUT"])], changedSince: nil),
          .invalidArgument(field: "header field", reason: "\"X\r\nA2 LOGOUT\" is not a header field name")),
    .init("section with bracket", .uidFetch([1], [.bodyPeek(section: "TEXT] BODY[")], changedSince: nil),
          .invalidArgument(field: "section", reason: "invalid section")),
    .init("section with CR LF", .uidFetch([1], [.bodyPeek(section: "TEXT\r\n")], changedSince: nil),
          .invalidArgument(field: "section", reason: "invalid section")),
    .init("thread algorithm not an atom", .uidThread(algorithm: "REFS\r\nA2 LOGOUT", .all),
          .invalidArgument(field: "algorithm", reason: "not an atom")),
    .init("ENABLE capability not an atom", .enable([Capability("X Y")]),
          .invalidArgument(field: "capability", reason: "not an atom")),
]

@Suite("CommandEncoder")
struct CommandEncoderTests {
    @Test("encodes", arguments: encodings)
    func encodes(_ fixture: EncodingFixture) throws {
        let encoded = try CommandEncoder(useLiteralPlus: fixture.literalPlus).encode(fixture.command, tag: "A1")
        #expect(encoded.parts.map { String(decoding: $0.bytes, as: UTF8.self) } == fixture.parts.map(\.0))
        #expect(encoded.parts.map(\.waitsForContinuation) == fixture.parts.map(\.1))
        #expect(encoded.bytes == Array(fixture.parts.map(\.0).joined().utf8))
        #expect(encoded.longestLineLength == Self.longestLine(of: encoded))
        #expect(encoded.parts.last?.waitsForContinuation == false)
    }

    @Test("refuses", arguments: refusals)
    func refuses(_ fixture: RefusalFixture) {
        for literalPlus in [false, true] {
            let encoder = CommandEncoder(useLiteralPlus: literalPlus)
            #expect(throws: fixture.error) { try encoder.encode(fixture.command, tag: "A1") }
            // Nothing at all is produced for a refused command.
            let produced = try? encoder.encode(fixture.command, tag: "A1")
            #expect(produced == nil)
            // Splitting never gets around the check either.
            #expect(throws: CommandEncodingError.self) {
                for command in try encoder.split(fixture.command, maxLineLength: 8192) {
                    _ = try encoder.encode(command, tag: "A1")
                }
            }
        }
    }

    @Test func commandNames() {
        #expect(Command.uidMove([1], .inbox).name == "UID MOVE")
        #expect(Command.authenticatePlain(authorizationIdentity: nil, username: "", password: "", initialResponse: true).name
            == "AUTHENTICATE")
        #expect(Command.noop.uidSet == nil)
        #expect(Command.uidExpunge([1, 2]).uidSet == [1, 2])
        #expect(Command.noop.replacingUIDSet([1]) == .noop)
        #expect(Command.onSavedResult(.uidMove([1], .inbox)).name == "UID MOVE")
        #expect(Command.onSavedResult(.uidMove([1], .inbox)).uidSet == nil, "a command on $ is never split")
    }

    /// The searches that build `$` piece by piece split like other UID-set commands: every piece
    /// keeps `OR UID $`, fits the line, and together they name the whole set once.
    @Test func savingSearchSplitsUnderTheLineLimit() throws {
        let sparse = UIDSet(stride(from: UInt32(1), through: 20_000, by: 2))
        let command = Command.uidSearch(.or(.savedResult, .uid(sparse)), returning: [.save, .all])
        let pieces = try CommandEncoder().split(command, maxLineLength: 1024)
        #expect(pieces.count > 10)
        var union = UIDSet()
        for piece in pieces {
            guard case .uidSearch(.or(.savedResult, .uid(let set)), [.save, .all]) = piece else {
                Issue.record("piece lost its form: \(piece)")
                continue
            }
            #expect(union.intersection(set).isEmpty)
            union = union.union(set)
            #expect(try CommandEncoder().encode(piece, tag: String(repeating: "A", count: CommandEncoder.maxTagLength)).longestLineLength <= 1024)
        }
        #expect(union == sparse)
        #expect(Command.onSavedResult(.uidStore([1], .add, flags: [.seen], silent: true, unchangedSince: nil)).changesMessages)
        #expect(!command.changesMessages)
    }

    @Test func errorDescriptionsNameTheField() {
        #expect(CommandEncodingError.forbiddenCharacter(field: "password").description == "password contains CR, LF or NUL")
        #expect(CommandEncodingError.invalidFlag("a b").description.contains("a b"))
    }

    @Test(arguments: [
        ([UInt8](), ""),
        ([0x66], "Zg=="),
        ([0x66, 0x6f], "Zm8="),
        ([0x66, 0x6f, 0x6f], "Zm9v"),
        (Array("foobar".utf8), "Zm9vYmFy"),
        ([0xff, 0xfe, 0xfd], "//79"),
    ])
    func base64(input: [UInt8], expected: String) {
        #expect(Base64.encode(input) == expected)
    }

    /// The longest line of the command, literal octets not counted, CRLF counted.
    static func longestLine(of encoded: EncodedCommand) -> Int {
        let bytes = encoded.bytes
        var longest = 0
        var lineStart = 0
        var i = 0
        while i < bytes.count {
            if bytes[i] == 10 {
                longest = max(longest, i + 1 - lineStart)
                // A line ending in `{n}` / `{n+}` is followed by n literal octets.
                let line = String(decoding: bytes[lineStart..<i], as: UTF8.self)
                i += 1
                lineStart = i
                if line.hasSuffix("}\r"), let open = line.lastIndex(of: "{") {
                    let digits = line[line.index(after: open)...].dropLast(2).filter(\.isNumber)
                    if let n = Int(String(digits)) {
                        i += n
                        lineStart = i
                    }
                }
                continue
            }
            i += 1
        }
        return longest
    }
}
