import IMAPCore
import Testing

@Suite("Grammar value types")
struct ValueTypesTests {
    // MARK: InternalDate

    @Test(arguments: [
        ("17-Jul-1996 02:44:25 -0700", Int64(837_596_665), -420, "17-Jul-1996 02:44:25 -0700"),
        (" 1-Jan-2024 00:00:00 +0000", 1_704_067_200, 0, "01-Jan-2024 00:00:00 +0000"),
        ("01-jan-1970 00:00:00 +0000", 0, 0, "01-Jan-1970 00:00:00 +0000"),
        ("01-Jan-1970 05:30:00 +0530", 0, 330, "01-Jan-1970 05:30:00 +0530"),
        ("31-Dec-1969 23:59:59 +0000", -1, 0, "31-Dec-1969 23:59:59 +0000"),
        ("29-Feb-2024 23:59:59 -1200", 1_709_294_399, -720, "29-Feb-2024 23:59:59 -1200"),
        ("01-Mar-2100 12:00:00 +1400", 4_107_535_200, 840, "01-Mar-2100 12:00:00 +1400"),
    ])
    func internalDate(text: String, seconds: Int64, zone: Int, canonical: String) throws {
        let date = try #require(InternalDate(parsing: text))
        #expect(date.secondsSince1970 == seconds)
        #expect(date.zoneMinutes == zone)
        #expect(date.description == canonical)
        #expect(InternalDate(parsing: date.description) == date)
    }

    @Test(arguments: [
        "", "yesterday", "17-Jul-1996 02:44:25", "17-Jly-1996 02:44:25 -0700", "17-Jul-1996 02:44 -0700",
        "17-Jul-1996 02:44:25 0700", "17-Jul-1996 02:44:25 -07000", "17/Jul/1996 02:44:25 -0700",
        "xx-Jul-1996 02:44:25 -0700", "17-Jul-1996 02:44:25 -07:0",
    ])
    func invalidInternalDate(text: String) {
        #expect(InternalDate(parsing: text) == nil)
    }

    // MARK: Flag and Capability

    @Test func flagsCompareCaseInsensitively() {
        #expect(Flag("\\SEEN") == .seen)
        #expect(Flag("$label1") == Flag("$Label1"))
        #expect(Set([Flag("\\seen"), .seen, Flag("$A"), Flag("$a")]).count == 2)
        #expect(Flag("\\Seen").isSystemFlag)
        #expect(!Flag("$Label1").isSystemFlag)
        #expect(Flag("\\Seen").description == "\\Seen")
    }

    @Test(arguments: [
        ("$Label1", true), ("Junk", true), ("$HasAttachment", true), ("a.b-c_d+e", true), ("[x", true),
        ("", false), ("a b", false), ("a)b", false), ("(a", false), ("a{1}", false), ("a%", false), ("a*", false),
        ("a\"b", false), ("\\Seen", false), ("a]", false), ("é", false), ("a\r\nb", false), ("a\u{7f}", false),
    ])
    func keywordValidity(text: String, valid: Bool) {
        #expect(Flag.isValidKeyword(text) == valid)
    }

    @Test func capabilitiesAreUpperCased() {
        #expect(Capability("literal+") == .literalPlus)
        #expect(Capability("thread=references") == .threadReferences)
        #expect(Capability("Auth=Plain").rawValue == "AUTH=PLAIN")
    }

    // MARK: IMAPValue

    @Test func valueAccessors() {
        #expect(IMAPValue.atom("12").number == 12)
        #expect(IMAPValue.string(Array("34".utf8)).number == 34)
        #expect(IMAPValue.atom("x").number == nil)
        #expect(IMAPValue.nil.text == nil)
        #expect(IMAPValue.nil.isNil)
        #expect(IMAPValue.list([.nil]).list == [.nil])
        #expect(IMAPValue.atom("a").list == nil)
        #expect(IMAPValue.string(Array("é".utf8)).text == "é")
    }

    // MARK: BodyStructure.hasAttachment

    @Test(arguments: [
        ("plain text", BodyStructure.single(.init(type: "text", subtype: "plain")), false),
        ("attachment disposition, upper-case", .single(.init(type: "text", subtype: "csv", disposition: .init(kind: "ATTACHMENT"))), true),
        ("named image without disposition", .single(.init(type: "image", subtype: "png", parameters: ["name": "a.png"])), true),
        ("named text without disposition", .single(.init(type: "text", subtype: "plain", parameters: ["name": "a.txt"])), false),
        ("inline image with filename", .single(.init(type: "image", subtype: "png", disposition: .init(kind: "inline", parameters: ["filename": "a.png"]))), true),
        ("unnamed image", .single(.init(type: "image", subtype: "png")), false),
        ("deep attachment", .multipart(parts: [.multipart(parts: [.single(.init(type: "text", subtype: "plain")),
            .single(.init(type: "application", subtype: "zip", disposition: .init(kind: "attachment")))], subtype: "mixed",
            disposition: nil)], subtype: "mixed", disposition: nil), true),
        ("empty multipart", .multipart(parts: [], subtype: "mixed", disposition: nil), false),
    ])
    func hasAttachment(name: String, structure: BodyStructure, expected: Bool) {
        #expect(structure.hasAttachment == expected, "\(name)")
    }

    // MARK: Threads and LIST entries

    @Test func threadAllNumbersSkipsMissingParents() {
        let node = ThreadNode(nil, children: [ThreadNode(3), ThreadNode(5, children: [ThreadNode(6)])])
        #expect(node.allNumbers == [3, 5, 6])
    }

    @Test func listEntryAttributesAreCaseInsensitive() {
        let entry = ListEntry(attributes: ["\\HasNoChildren", "\\Trash"], delimiter: "/", name: MailboxName("Trash"))
        #expect(entry.has("\\trash"))
        #expect(entry.has("\\HASNOCHILDREN"))
        #expect(!entry.has("\\Junk"))
    }

    @Test func encodedCommandBytesJoinParts() throws {
        let encoded = try CommandEncoder().encode(.login(username: "a", password: "é"), tag: "t")
        #expect(encoded.bytes == Array("t LOGIN \"a\" {2}\r\né\r\n".utf8))
        #expect(encoded.longestLineLength == "t LOGIN \"a\" {2}\r\n".utf8.count)
    }
}
