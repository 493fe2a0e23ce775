/// The `ENVELOPE` of a message (RFC 3501 §7.4.2). Strings are as the server sent them
/// (RFC 2047 encoded words are not decoded here).
public struct Envelope: Hashable, Sendable {
    public var date: String?
    public var subject: String?
    public var from: [Address]
    public var sender: [Address]
    public var replyTo: [Address]
    public var to: [Address]
    public var cc: [Address]
    public var bcc: [Address]
    public var inReplyTo: String?
    public var messageID: String?

    public init(
        date: String? = nil, subject: String? = nil, from: [Address] = [], sender: [Address] = [],
        replyTo: [Address] = [], to: [Address] = [], cc: [Address] = [], bcc: [Address] = [],
        inReplyTo: String? = nil, messageID: String? = nil
    ) {
        self.date = date
        self.subject = subject
        self.from = from
        self.sender = sender
        self.replyTo = replyTo
        self.to = to
        self.cc = cc
        self.bcc = bcc
        self.inReplyTo = inReplyTo
        self.messageID = messageID
    }

    /// One address of an envelope address list. Group syntax appears as addresses with a nil host.
    public struct Address: Hashable, Sendable {
        public var name: String?
        public var adl: String?
        public var mailbox: String?
        public var host: String?

        public init(name: String? = nil, adl: String? = nil, mailbox: String? = nil, host: String? = nil) {
            self.name = name
            self.adl = adl
            self.mailbox = mailbox
            self.host = host
        }

        /// `mailbox@host`, or the mailbox alone.
        public var email: String? {
            guard let mailbox else { return nil }
            guard let host else { return mailbox }
            return "\(mailbox)@\(host)"
        }
    }

    init?(_ value: IMAPValue) {
        guard let f = value.list, f.count >= 10 else { return nil }
        func addresses(_ v: IMAPValue) -> [Address] {
            (v.list ?? []).compactMap { item in
                guard let a = item.list, a.count >= 4 else { return nil }
                return Address(name: a[0].text, adl: a[1].text, mailbox: a[2].text, host: a[3].text)
            }
        }
        self.init(
            date: f[0].text, subject: f[1].text, from: addresses(f[2]), sender: addresses(f[3]),
            replyTo: addresses(f[4]), to: addresses(f[5]), cc: addresses(f[6]), bcc: addresses(f[7]),
            inReplyTo: f[8].text, messageID: f[9].text
        )
    }
}
