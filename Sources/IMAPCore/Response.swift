/// One complete server response (RFC 3501 §7): untagged data, a tagged completion, or a continuation request.
public enum Response: Hashable, Sendable {
    case untagged(UntaggedResponse)
    case tagged(TaggedResponse)
    /// `+ text`: the server waits for a literal's octets or a SASL response.
    case continuation(String)
}

/// The status word of a status response.
public enum ResponseStatus: String, Hashable, Sendable {
    case ok = "OK"
    case no = "NO"
    case bad = "BAD"
    case bye = "BYE"
    case preauth = "PREAUTH"
}

/// The completion of one command: its tag, OK / NO / BAD, and the text.
public struct TaggedResponse: Hashable, Sendable {
    public var tag: String
    public var status: ResponseStatus
    public var text: ResponseText

    public init(tag: String, status: ResponseStatus, text: ResponseText) {
        self.tag = tag
        self.status = status
        self.text = text
    }
}

/// Untagged server data (`* …`).
public enum UntaggedResponse: Hashable, Sendable {
    /// `* OK|NO|BAD|BYE|PREAUTH [code] text` — the greeting, warnings, and codes such as COPYUID after MOVE.
    case status(ResponseStatus, ResponseText)
    case capability([Capability])
    case enabled([Capability])
    case list(ListEntry)
    case mailboxStatus(MailboxStatus)
    /// `* SEARCH …` (with the CONDSTORE `(MODSEQ n)` suffix when present).
    case search([UInt32], modSeq: UInt64?)
    case esearch(ESearchResponse)
    /// `* SORT …` in the order the server sorted.
    case sort([UInt32], modSeq: UInt64?)
    case thread([ThreadNode])
    case flags([Flag])
    case exists(UInt32)
    case recent(UInt32)
    case expunge(UInt32)
    /// RFC 7162 `* VANISHED [(EARLIER)] uid-set`.
    case vanished(earlier: Bool, UIDSet)
    case fetch(sequenceNumber: UInt32, attributes: [FetchAttribute])
    /// A response this parser does not model, kept as its raw line (literal octets included).
    case unknown(String)
}

/// One `LIST` line: attributes (including SPECIAL-USE ones such as `\Trash`), delimiter and name.
public struct ListEntry: Hashable, Sendable {
    public var attributes: [String]
    public var delimiter: Character?
    public var name: MailboxName
    /// LIST-STATUS (RFC 5819) answers arrive as separate STATUS responses; they are not folded in here.
    public init(attributes: [String], delimiter: Character?, name: MailboxName) {
        self.attributes = attributes
        self.delimiter = delimiter
        self.name = name
    }

    /// Whether the entry carries `attribute` (case-insensitive, e.g. `\Trash`, `\Noselect`).
    public func has(_ attribute: String) -> Bool {
        attributes.contains { $0.caseInsensitiveCompare(attribute) }
    }
}

extension String {
    func caseInsensitiveCompare(_ other: String) -> Bool { lowercased() == other.lowercased() }
}

/// A `STATUS` answer for one mailbox; absent items are nil.
public struct MailboxStatus: Hashable, Sendable {
    public var mailbox: MailboxName
    public var messages: UInt32?
    public var recent: UInt32?
    public var uidNext: UInt32?
    public var uidValidity: UInt32?
    public var unseen: UInt32?
    public var highestModSeq: UInt64?
    public var size: UInt64?

    public init(mailbox: MailboxName) { self.mailbox = mailbox }
}

/// RFC 4731 / RFC 5267 extended search (or ESORT) result.
public struct ESearchResponse: Hashable, Sendable {
    public var correlator: String?
    public var uid: Bool
    public var min: UInt32?
    public var max: UInt32?
    public var count: UInt32?
    /// `ALL` as a set (ascending, as ESEARCH defines it).
    public var all: UIDSet?
    public var modSeq: UInt64?
    /// RFC 5267 `PARTIAL (low:high numbers)`: the numbers in the order the server gives them (sort order for ESORT).
    public var partial: PartialResult?

    /// One `PARTIAL` answer: the requested 1-based position range and the numbers found there.
    public struct PartialResult: Hashable, Sendable {
        public var range: ClosedRange<Int32>
        public var numbers: [UInt32]

        public init(range: ClosedRange<Int32>, numbers: [UInt32]) {
            self.range = range
            self.numbers = numbers
        }
    }

    public init(correlator: String? = nil, uid: Bool = false) {
        self.correlator = correlator
        self.uid = uid
    }
}

/// A node of a `THREAD` answer (RFC 5256): a message (nil for a missing parent) and its children.
public struct ThreadNode: Hashable, Sendable {
    public var number: UInt32?
    public var children: [ThreadNode]

    public init(_ number: UInt32?, children: [ThreadNode] = []) {
        self.number = number
        self.children = children
    }

    /// Every message number in the thread, parents before children.
    public var allNumbers: [UInt32] {
        var out: [UInt32] = []
        if let number { out.append(number) }
        for child in children { out.append(contentsOf: child.allNumbers) }
        return out
    }
}
