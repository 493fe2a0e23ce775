/// A response code in square brackets at the start of a response text (RFC 3501 §7.1 and extensions).
public enum ResponseCode: Hashable, Sendable {
    case alert
    case parse
    case readOnly
    case readWrite
    case tryCreate
    case uidNotSticky
    case noModSeq
    case closed
    case capability([Capability])
    case permanentFlags([Flag])
    case uidNext(UInt32)
    case uidValidity(UInt32)
    case unseen(UInt32)
    case highestModSeq(UInt64)
    /// RFC 4315: the UIDs appended, in order (usually one).
    case appendUID(uidValidity: UInt32, uids: [UInt32])
    /// RFC 4315: the source and destination UIDs, position by position, in the order the server listed them.
    case copyUID(uidValidity: UInt32, source: [UInt32], destination: [UInt32])
    /// RFC 7162: messages that failed an UNCHANGEDSINCE test.
    case modified(UIDSet)
    /// Any other code (`AUTHENTICATIONFAILED`, `NONEXISTENT`, `OVERQUOTA`, …) with its raw argument text.
    case other(name: String, argument: String?)

    /// The code's name as sent, upper-cased (useful to match `AUTHENTICATIONFAILED`, `NONEXISTENT`, …).
    public var name: String {
        switch self {
        case .alert: "ALERT"
        case .parse: "PARSE"
        case .readOnly: "READ-ONLY"
        case .readWrite: "READ-WRITE"
        case .tryCreate: "TRYCREATE"
        case .uidNotSticky: "UIDNOTSTICKY"
        case .noModSeq: "NOMODSEQ"
        case .closed: "CLOSED"
        case .capability: "CAPABILITY"
        case .permanentFlags: "PERMANENTFLAGS"
        case .uidNext: "UIDNEXT"
        case .uidValidity: "UIDVALIDITY"
        case .unseen: "UNSEEN"
        case .highestModSeq: "HIGHESTMODSEQ"
        case .appendUID: "APPENDUID"
        case .copyUID: "COPYUID"
        case .modified: "MODIFIED"
        case .other(let name, _): name
        }
    }
}

/// The human-readable part of a status response, with its optional response code.
public struct ResponseText: Hashable, Sendable, CustomStringConvertible {
    public var code: ResponseCode?
    public var text: String

    public init(code: ResponseCode? = nil, text: String) {
        self.code = code
        self.text = text
    }

    public var description: String { text }
}
