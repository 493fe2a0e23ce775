/// A message flag: a system flag (`\Seen`) or a keyword (`$Label1`). Compared case-insensitively (RFC 3501 §2.3.2).
public struct Flag: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }

    public static let seen = Flag("\\Seen")
    public static let answered = Flag("\\Answered")
    public static let flagged = Flag("\\Flagged")
    public static let deleted = Flag("\\Deleted")
    public static let draft = Flag("\\Draft")
    public static let recent = Flag("\\Recent")
    /// `\*` in PERMANENTFLAGS: the client may create new keywords.
    public static let wildcard = Flag("\\*")

    public var isSystemFlag: Bool { rawValue.hasPrefix("\\") }

    public var description: String { rawValue }

    public static func == (lhs: Flag, rhs: Flag) -> Bool {
        lhs.rawValue.lowercased() == rhs.rawValue.lowercased()
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(rawValue.lowercased()) }

    /// Whether `text` can be sent as a keyword: a non-empty IMAP atom (RFC 3501 `flag-keyword`).
    public static func isValidKeyword(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(IMAPGrammar.isAtomChar)
    }
}

/// A server capability such as `MOVE` or `AUTH=PLAIN`, stored upper-cased.
public struct Capability: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue.uppercased() }

    public var description: String { rawValue }

    public static let imap4rev1 = Capability("IMAP4rev1")
    public static let imap4rev2 = Capability("IMAP4rev2")
    public static let startTLS = Capability("STARTTLS")
    public static let loginDisabled = Capability("LOGINDISABLED")
    public static let authPlain = Capability("AUTH=PLAIN")
    public static let saslIR = Capability("SASL-IR")
    public static let literalPlus = Capability("LITERAL+")
    public static let literalMinus = Capability("LITERAL-")
    public static let move = Capability("MOVE")
    public static let uidPlus = Capability("UIDPLUS")
    public static let sort = Capability("SORT")
    public static let sortDisplay = Capability("SORT=DISPLAY")
    public static let esort = Capability("ESORT")
    public static let esearch = Capability("ESEARCH")
    public static let searchRes = Capability("SEARCHRES")
    public static let threadReferences = Capability("THREAD=REFERENCES")
    public static let condStore = Capability("CONDSTORE")
    public static let qresync = Capability("QRESYNC")
    public static let specialUse = Capability("SPECIAL-USE")
    public static let listStatus = Capability("LIST-STATUS")
    public static let enable = Capability("ENABLE")
    public static let utf8Accept = Capability("UTF8=ACCEPT")
    public static let idle = Capability("IDLE")
}

/// Character classes of the IMAP grammar (RFC 3501 §9).
public enum IMAPGrammar {
    /// ATOM-CHAR: any CHAR except atom-specials `(){ SP CTL % * " \ ]`.
    public static func isAtomChar(_ c: UInt8) -> Bool {
        guard c > 0x20 && c < 0x7f else { return false }
        switch c {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "{"), UInt8(ascii: "%"), UInt8(ascii: "*"),
            UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "]"):
            return false
        default:
            return true
        }
    }

    /// ASTRING-CHAR: ATOM-CHAR or `]`.
    public static func isAStringChar(_ c: UInt8) -> Bool { isAtomChar(c) || c == UInt8(ascii: "]") }
}
