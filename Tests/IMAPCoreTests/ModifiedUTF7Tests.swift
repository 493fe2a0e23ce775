import IMAPCore
import Testing

struct UTF7Case: Sendable, CustomTestStringConvertible {
    let name: String
    let decoded: String
    let encoded: String

    init(_ name: String, _ decoded: String, _ encoded: String) {
        self.name = name
        self.decoded = decoded
        self.encoded = encoded
    }

    var testDescription: String { name }
}

struct InvalidUTF7Case: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]

    init(_ name: String, _ text: String) {
        self.init(name, bytes: Array(text.utf8))
    }

    init(_ name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }

    var testDescription: String { name }
}

private let roundTrips: [UTF7Case] = [
    .init("ASCII", "INBOX", "INBOX"),
    .init("empty", "", ""),
    .init("every printable ASCII but &", " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~", " !\"#$%'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~"),
    .init("ampersand", "Tom & Jerry", "Tom &- Jerry"),
    .init("two ampersands", "&&", "&-&-"),
    .init("ampersand before dash", "&-", "&--"),
    .init("Latin accents", "Société", "Soci&AOk-t&AOk-"),
    .init("Latin hierarchy", "Société/Été", "Soci&AOk-t&AOk-/&AMk-t&AOk-"),
    .init("German drafts", "Entwürfe", "Entw&APw-rfe"),
    .init("Greek single letter", "Ω", "&A6k-"),
    .init("Japanese", "日本語", "&ZeVnLIqe-"),
    .init("RFC 3501 example", "~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    .init("emoji surrogate pair", "📁 Archive", "&2D3cwQ- Archive"),
    .init("two emoji in one run", "😀😃", "&2D3eANg93gM-"),
    .init("control character", "a\tb", "a&AAk-b"),
    .init("non-ASCII then dash", "é-", "&AOk--"),
]

private let invalid: [InvalidUTF7Case] = [
    .init("unterminated &", "&"),
    .init("unterminated base64", "&AOk"),
    .init("unterminated after text", "Soci&AOk-t&AOk"),
    .init("bad base64 character", "&A=-"),
    .init("standard base64 slash instead of comma", "&U/BTFw-"),
    .init("encoded printable ASCII", "&AGE-"),
    .init("encoded ampersand", "&ACY-"),
    .init("odd number of octets", "&AO-"),
    .init("non-zero padding bits", "&AOl-"),
    .init("unpaired high surrogate", "&2D0-"),
    .init("unpaired low surrogate", "&3gA-"),
    .init("raw 8-bit octets", bytes: [0x53, 0x6F, 0x63, 0x69, 0xC3, 0xA9]),
    .init("raw DEL", bytes: [0x61, 0x7F]),
    .init("raw line feed", "abc\n"),
    .init("raw NUL", bytes: [0x61, 0x00]),
]

@Suite("ModifiedUTF7")
struct ModifiedUTF7Tests {
    @Test("round trips", arguments: roundTrips)
    func roundTrip(_ c: UTF7Case) {
        #expect(ModifiedUTF7.encode(c.decoded) == c.encoded)
        #expect(ModifiedUTF7.decode(Array(c.encoded.utf8)) == c.decoded)
        #expect(ModifiedUTF7.encode(c.decoded).utf8.allSatisfy { $0 >= 0x20 && $0 <= 0x7e })
    }

    @Test("rejects", arguments: invalid)
    func rejects(_ c: InvalidUTF7Case) {
        #expect(ModifiedUTF7.decode(c.bytes) == nil)
    }

    @Test func decodesNonCanonicalButValidRuns() {
        // Two adjacent runs where one would do: valid (RFC 3501 only says SHOULD NOT), decodes the same.
        #expect(ModifiedUTF7.decode(Array("&AOk-&AOk-".utf8)) == "éé")
        #expect(ModifiedUTF7.decode(Array("&AOkA6Q-".utf8)) == "éé")
        #expect(ModifiedUTF7.encode("éé") == "&AOkA6Q-")
    }

    @Test func decodesFromAnyByteCollection() {
        let bytes = Array("x&ZeVnLIqe-y".utf8)
        #expect(ModifiedUTF7.decode(bytes[1..<11]) == "日本語")
        #expect(ModifiedUTF7.decode(bytes.dropFirst()) == "日本語y")
    }

    @Test func roundTripsEveryBMPBlockSample() {
        // A sample of scalars across the BMP (skipping surrogates) and beyond, each alone and in runs.
        var scalars: [Unicode.Scalar] = []
        for v in stride(from: 0x80, to: 0x11_0000, by: 997) where !(0xD800...0xDFFF).contains(v) {
            scalars.append(Unicode.Scalar(UInt32(v))!)
        }
        for s in scalars {
            let name = "a" + String(s) + "&b"
            #expect(ModifiedUTF7.decode(Array(ModifiedUTF7.encode(name).utf8)) == name, "U+\(String(s.value, radix: 16))")
        }
        let run = String(String.UnicodeScalarView(scalars))
        #expect(ModifiedUTF7.decode(Array(ModifiedUTF7.encode(run).utf8)) == run)
    }

    // MARK: MailboxName

    @Test func mailboxNameFromString() {
        #expect(MailboxName("Société").wire == Array("Soci&AOk-t&AOk-".utf8))
        #expect(MailboxName("Société").name == "Société")
        #expect(MailboxName("Société").description == "Société")
        #expect(MailboxName("inbox").wire == Array("INBOX".utf8))
        #expect(MailboxName("InBoX") == .inbox)
        #expect(MailboxName("inbox").isInbox)
        #expect(MailboxName(wire: Array("inbox".utf8)).isInbox)
        #expect(!MailboxName("INBOX/Sub").isInbox)
        // Only INBOX itself is case-insensitive; other names keep their case.
        #expect(MailboxName("Inbox2").wire == Array("Inbox2".utf8))
    }

    @Test func mailboxNameWithInvalidWireFallsBackToUTF8() {
        let name = MailboxName(wire: Array("Soci\u{e9}t\u{e9}".utf8))
        #expect(name.name == "Société")
        #expect(MailboxName(wire: Array("&AOk".utf8)).name == "&AOk")
    }
}
