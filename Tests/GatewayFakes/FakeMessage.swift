import Foundation
import GatewayCore
import IMAPCore

/// A message to put into an ``InMemoryMailServer`` mailbox: the header fields the engine reads
/// (Message-ID, Date, From, To, Subject, priority), a body, flags and an internal date. Its raw
/// form (``raw``) gives RFC822.SIZE and the header text that FETCH returns.
public struct MessageSeed: Hashable, Sendable {
    /// `<id@host>`; nil leaves the header out (such a message cannot be recognised on a resumed copy).
    public var messageID: String?
    public var subject: String
    /// `Name <mailbox@host>` or `mailbox@host`.
    public var from: String
    public var to: String
    /// Seconds since 1970 of the Date header (written in UTC); nil leaves the header out.
    public var date: Int64?
    /// INTERNALDATE, seconds since 1970.
    public var internalDate: Int64
    public var flags: [Flag]
    /// Further header lines, e.g. `X-Priority: 1 (Highest)`.
    public var extraHeaders: [String]
    public var body: String
    /// Whether BODYSTRUCTURE shows an attachment part.
    public var hasAttachment: Bool
    /// The message exactly as it was APPENDed, if it came that way: its size and header text are
    /// then the original's, not a rendering of the fields.
    public private(set) var appendedRaw: [UInt8]?

    public init(
        subject: String = "Test message", messageID: String? = MessageSeed.uniqueMessageID(), from: String = "Sender <sender@example.com>",
        to: String = "alice@example.com", date: Int64? = 1_700_000_000, internalDate: Int64? = nil, flags: [Flag] = [],
        xPriority: String? = nil, extraHeaders: [String] = [], body: String = "Hello.\r\n", hasAttachment: Bool = false
    ) {
        self.subject = subject
        self.messageID = messageID
        self.from = from
        self.to = to
        self.date = date
        self.internalDate = internalDate ?? date ?? 1_700_000_000
        self.flags = flags
        self.extraHeaders = (xPriority.map { ["X-Priority: \($0)"] } ?? []) + extraHeaders
        self.body = body
        self.hasAttachment = hasAttachment
    }

    /// A Message-ID no other seed has.
    public static func uniqueMessageID() -> String { "<\(UUID().uuidString.lowercased())@fake.test>" }

    /// The header section, each line ending in CRLF, without the blank line that ends it.
    public var headerText: String {
        if let appendedRaw { return Self.splitHeader(String(decoding: appendedRaw, as: UTF8.self)).0 }
        var lines: [String] = []
        if let messageID { lines.append("Message-ID: \(messageID)") }
        if let date { lines.append("Date: \(Self.rfc5322Date(date))") }
        lines.append("From: \(from)")
        lines.append("To: \(to)")
        lines.append("Subject: \(subject)")
        lines += extraHeaders
        return lines.map { $0 + "\r\n" }.joined()
    }

    /// The whole message as the server stores it.
    public var raw: [UInt8] { appendedRaw ?? Array((headerText + "\r\n" + body).utf8) }

    /// `1 Jan 2024 10:00:00 +0000` (the weekday is optional in RFC 5322).
    public static func rfc5322Date(_ seconds: Int64) -> String {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let (day, second) = InternalDate.dayAndSecond(seconds)
        let (y, m, d) = InternalDate.civilFromDays(day)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(d) \(months[m - 1]) \(InternalDate.four(y)) \(two(second / 3600)):\(two(second % 3600 / 60)):\(two(second % 60)) +0000"
    }

    /// The first header field of this name (unfolded), as written.
    public func headerField(_ name: String) -> String? {
        Self.fields(headerText).first { $0.0.lowercased() == name.lowercased() }?.1
    }

    /// Header fields in order, continuation lines unfolded.
    static func fields(_ header: String) -> [(String, String)] {
        var fields: [(String, String)] = []
        for line in header.components(separatedBy: "\r\n") where !line.isEmpty {
            if let first = line.first, first == " " || first == "\t", !fields.isEmpty {
                fields[fields.count - 1].1 += " " + line.trimmingCharacters(in: .whitespaces)
            } else if let colon = line.firstIndex(of: ":") {
                fields.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
            }
        }
        return fields
    }

    /// Reads an APPENDed message back into a seed (header fields by name, unfolded; the Date
    /// header through the engine's own date reader, the one place the fake borrows engine code).
    init(raw: [UInt8], flags: [Flag], internalDate: Int64) {
        let text = String(decoding: raw, as: UTF8.self)
        let (header, body) = Self.splitHeader(text)
        let fields = Self.fields(header)
        func field(_ name: String) -> String? { fields.first { $0.0.lowercased() == name.lowercased() }?.1 }
        let known: Set<String> = ["message-id", "date", "from", "to", "subject"]
        self.init(
            subject: field("Subject") ?? "", messageID: field("Message-ID"), from: field("From") ?? "", to: field("To") ?? "",
            date: field("Date").flatMap(SortKeys.sentDate), internalDate: internalDate, flags: flags,
            extraHeaders: fields.filter { !known.contains($0.0.lowercased()) }.map { "\($0.0): \($0.1)" }, body: body,
            hasAttachment: body.lowercased().contains("content-disposition: attachment"))
        appendedRaw = raw
    }

    private static func splitHeader(_ text: String) -> (String, String) {
        guard let range = text.range(of: "\r\n\r\n") else { return (text, "") }
        return (String(text[..<range.lowerBound]) + "\r\n", String(text[range.upperBound...]))
    }
}

/// A message as an ``InMemoryMailServer`` mailbox holds it: its UID, flags and mod-sequence, and
/// its content. Tests read these to check what a batch really did, without the engine.
public struct FakeMessage: Hashable, Sendable {
    public var uid: UInt32
    public var flags: [Flag]
    public var modSeq: UInt64
    public var content: MessageSeed

    public var messageID: String? { content.messageID }
    /// RFC822.SIZE.
    public var size: UInt64 { UInt64(content.raw.count) }

    public func has(_ flag: Flag) -> Bool { flags.contains(flag) }

    /// The header lines named in `names` (case-insensitively), continuation lines included, then
    /// the blank line: what `BODY[HEADER.FIELDS (...)]` returns.
    func headerFields(_ names: [String]) -> [UInt8] {
        let wanted = Set(names.map { $0.lowercased() })
        var out = ""
        var keep = false
        for line in content.headerText.components(separatedBy: "\r\n") where !line.isEmpty {
            if let first = line.first, first == " " || first == "\t" {
                if keep { out += line + "\r\n" }
                continue
            }
            let name = line.split(separator: ":", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            keep = wanted.contains(name)
            if keep { out += line + "\r\n" }
        }
        return Array((out + "\r\n").utf8)
    }

    /// The ENVELOPE (strings as written; addresses split into name, mailbox and host).
    var envelope: Envelope {
        Envelope(
            date: content.headerField("Date"), subject: content.subject, from: Self.addresses(content.from),
            to: Self.addresses(content.to), messageID: content.messageID)
    }

    /// A one-part text body, or a text part and a PDF attachment.
    var bodyStructure: BodyStructure {
        let text = BodyStructure.single(.init(type: "text", subtype: "plain", parameters: ["charset": "utf-8"], size: UInt64(content.body.utf8.count)))
        guard content.hasAttachment else { return text }
        let attachment = BodyStructure.single(
            .init(type: "application", subtype: "pdf", encoding: "base64", size: 100,
                disposition: .init(kind: "attachment", parameters: ["filename": "a.pdf"])))
        return .multipart(parts: [text, attachment], subtype: "mixed", disposition: nil)
    }

    /// `Name <mb@host>, mb2@host2` → addresses.
    static func addresses(_ text: String) -> [Envelope.Address] {
        text.split(separator: ",").compactMap { part -> Envelope.Address? in
            var name: String?
            var address = part.trimmingCharacters(in: .whitespaces)
            if let open = address.lastIndex(of: "<"), let close = address.lastIndex(of: ">"), open < close {
                let display = address[..<open].trimmingCharacters(in: .whitespaces)
                name = display.isEmpty ? nil : display.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                address = String(address[address.index(after: open)..<close])
            }
            guard !address.isEmpty else { return nil }
            let pieces = address.split(separator: "@", maxSplits: 1)
            return Envelope.Address(name: name, mailbox: String(pieces[0]), host: pieces.count > 1 ? String(pieces[1]) : nil)
        }
    }

    /// RFC 5256 base subject, simplified: leading `Re:`/`Fwd:`/`Fw:` and trailing `(fwd)` removed,
    /// whitespace collapsed, compared case-insensitively.
    var baseSubject: String {
        var subject = content.subject.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ").lowercased()
        var changed = true
        while changed {
            changed = false
            for prefix in ["re:", "fwd:", "fw:"] where subject.hasPrefix(prefix) {
                subject = String(subject.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
                changed = true
            }
            if subject.hasSuffix("(fwd)") {
                subject = String(subject.dropLast(5)).trimmingCharacters(in: .whitespaces)
                changed = true
            }
        }
        return subject
    }
}
