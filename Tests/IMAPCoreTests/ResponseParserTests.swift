import IMAPCore
import Testing

@Suite("ResponseParser")
struct ResponseParserTests {
    let parser = ResponseParser()

    @Test("parses", arguments: ResponseFixtures.all + ResponseFixtures.large)
    func parses(_ fixture: ResponseFixture) throws {
        let response = try parser.parse(fixture.wire)
        #expect(response == fixture.expected)
    }

    @Test("refuses malformed input", arguments: ResponseFixtures.malformed)
    func refuses(_ fixture: MalformedFixture) {
        let error = #expect(throws: IMAPParseError.self) { try fixture.parser.parse(fixture.wire) }
        if let reason = fixture.reason, let error {
            #expect(error.message.contains(reason), "refused for another reason: \(error)")
        }
    }

    @Test func fixtureNamesAreUnique() {
        let names = (ResponseFixtures.all + ResponseFixtures.large).map(\.name) + ResponseFixtures.malformed.map(\.name)
        #expect(Set(names).count == names.count)
    }

    // MARK: Typed views of parsed values

    @Test func modifiedUTF7ListNameDecodes() throws {
        let response = try parser.parse(Array("* LIST (\\HasNoChildren) \"/\" \"Soci&AOk-t&AOk-/&AMk-t&AOk-\"\r\n".utf8))
        guard case .untagged(.list(let entry)) = response else {
            Issue.record("not a LIST: \(response)")
            return
        }
        #expect(entry.name.name == "Société/Été")
        #expect(entry.name == MailboxName("Société/Été"))
        #expect(entry.has("\\hasnochildren"))
        #expect(!entry.has("\\Trash"))
    }

    @Test func listNameKeepsNonCanonicalWireBytes() throws {
        // `&AOk-&AOk-` could be written `&AOkA6Q-`: the server's bytes must be kept for sending them back.
        let response = try parser.parse(Array("* LIST () \"/\" \"&AOk-&AOk-\"\r\n".utf8))
        guard case .untagged(.list(let entry)) = response else {
            Issue.record("not a LIST: \(response)")
            return
        }
        #expect(entry.name.wire == Array("&AOk-&AOk-".utf8))
        #expect(entry.name.name == "éé")
    }

    @Test func internalDateIsTheKnownInstant() throws {
        let response = try parser.parse(Array("* 1 FETCH (INTERNALDATE \"17-Jul-1996 02:44:25 -0700\")\r\n".utf8))
        guard case .untagged(.fetch(_, let attributes)) = response, case .internalDate(let date) = attributes.first else {
            Issue.record("no INTERNALDATE in \(response)")
            return
        }
        #expect(date.secondsSince1970 == 837_596_665)
        #expect(date.zoneMinutes == -420)
        #expect(date.description == "17-Jul-1996 02:44:25 -0700")
    }

    @Test(
        "hasAttachment of parsed BODYSTRUCTURE",
        arguments: [
            ("FETCH BODYSTRUCTURE single text part", false),
            ("FETCH BODY non-extensible", false),
            ("FETCH BODYSTRUCTURE multipart/mixed with attachment", true),
            ("FETCH BODYSTRUCTURE multipart/alternative text only", false),
            ("FETCH BODYSTRUCTURE nested message/rfc822", true),
        ]
    )
    func hasAttachment(fixtureName: String, expected: Bool) throws {
        let fixture = try #require(ResponseFixtures.all.first { $0.name == fixtureName })
        let response = try parser.parse(fixture.wire)
        guard case .untagged(.fetch(_, let attributes)) = response else {
            Issue.record("not a FETCH: \(response)")
            return
        }
        let structure = try #require(FetchedMessage(sequenceNumber: 1, attributes: attributes).bodyStructure)
        #expect(structure.hasAttachment == expected)
    }

    @Test func fetchFoldsIntoMessage() throws {
        let wire = "* 7 FETCH (UID 100 FLAGS (\\Seen) RFC822.SIZE 2048 MODSEQ (77) "
            + "BODY[HEADER.FIELDS (X-PRIORITY IMPORTANCE)] " + literal(headerFieldsLiteral) + ")\r\n"
        guard case .untagged(.fetch(let n, let attributes)) = try parser.parse(Array(wire.utf8)) else {
            Issue.record("not a FETCH")
            return
        }
        let message = FetchedMessage(sequenceNumber: n, attributes: attributes)
        #expect(message.sequenceNumber == 7)
        #expect(message.uid == 100)
        #expect(message.flags == [.seen])
        #expect(message.size == 2048)
        #expect(message.modSeq == 77)
        #expect(message.sections["HEADER.FIELDS (X-PRIORITY IMPORTANCE)"] == Array(headerFieldsLiteral.utf8))
    }

    @Test func envelopeAddressesGiveEmails() throws {
        let fixture = try #require(ResponseFixtures.all.first { $0.name == "FETCH ENVELOPE RFC 3501 example" })
        guard case .untagged(.fetch(_, let attributes)) = try parser.parse(fixture.wire),
            case .envelope(let envelope) = attributes.first
        else {
            Issue.record("no ENVELOPE")
            return
        }
        #expect(envelope.from.map(\.email) == ["gray@cac.washington.edu"])
        #expect(envelope.cc.map(\.email) == ["minutes@CNRI.Reston.VA.US", "KLENSIN@MIT.EDU"])
        #expect(envelope.bcc.isEmpty)
        #expect(envelope.inReplyTo == nil)
    }

    @Test func threadNumbersInOrder() throws {
        let response = try parser.parse(Array("* THREAD (2)(3 6 (4 23)(44 7 96))\r\n".utf8))
        guard case .untagged(.thread(let roots)) = response else {
            Issue.record("not a THREAD")
            return
        }
        #expect(roots.map(\.allNumbers) == [[2], [3, 6, 4, 23, 44, 7, 96]])
    }

    @Test func responseCodeNames() throws {
        #expect(ResponseCode.copyUID(uidValidity: 1, source: [], destination: []).name == "COPYUID")
        #expect(ResponseCode.other(name: "AUTHENTICATIONFAILED", argument: nil).name == "AUTHENTICATIONFAILED")
        #expect(ResponseCode.readWrite.name == "READ-WRITE")
        guard case .tagged(let t) = try parser.parse(Array("a1 NO [nonexistent] Unknown Mailbox\r\n".utf8)) else {
            Issue.record("not tagged")
            return
        }
        #expect(t.text.code?.name == "NONEXISTENT")
        #expect(t.text.description == "Unknown Mailbox")
    }

    @Test func copyUIDExpansionIsBounded() throws {
        // A set that would expand past the limit is not expanded: the code is kept raw instead.
        let small = ResponseParser(maxExpandedSetSize: 100)
        let response = try small.parse(Array("a OK [COPYUID 9 1:1000 1:1000] Done\r\n".utf8))
        #expect(response == tagged("a", .ok, .other(name: "COPYUID", argument: "9 1:1000 1:1000"), "Done"))
        let fits = try small.parse(Array("a OK [COPYUID 9 1:100 201:300] Done\r\n".utf8))
        guard case .tagged(let t) = fits, case .copyUID(_, let source, let destination) = t.text.code else {
            Issue.record("no COPYUID")
            return
        }
        #expect(source == Array(1...100))
        #expect(destination == Array(201...300))
    }

    @Test func errorsCarryAnExcerpt() {
        do {
            _ = try parser.parse(Array("a1 FOO bar\r\n".utf8))
            Issue.record("parsed")
        } catch {
            #expect(error.excerpt?.contains("FOO") == true)
            #expect(error.description.contains("near"))
        }
    }
}
