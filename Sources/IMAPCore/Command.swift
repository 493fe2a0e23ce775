/// A client command (RFC 3501 §6 and the extensions the gateway uses), before tagging and encoding.
public enum Command: Hashable, Sendable {
    case capability
    case noop
    case logout
    case startTLS
    case login(username: String, password: String)
    /// SASL PLAIN (RFC 4616); `authorizationIdentity` acts as that user (master-user login).
    /// `initialResponse` sends the credentials on the command line (SASL-IR, RFC 4959).
    case authenticatePlain(authorizationIdentity: String?, username: String, password: String, initialResponse: Bool)
    case enable([Capability])
    case select(MailboxName, condStore: Bool)
    case examine(MailboxName, condStore: Bool)
    case unselect
    case close
    case expunge
    /// `LIST "" pattern [RETURN (SPECIAL-USE [STATUS (...)])]`
    case list(pattern: String, returnSpecialUse: Bool, returnStatus: [StatusItem])
    case status(MailboxName, [StatusItem])
    case create(MailboxName)
    case delete(MailboxName)
    case append(MailboxName, flags: [Flag], message: [UInt8])
    case uidSearch(SearchKey, returning: [SearchReturn]?)
    case uidSort([SortKey], SearchKey, returning: [SearchReturn]?)
    case uidThread(algorithm: String, SearchKey)
    case uidFetch(UIDSet, [FetchItem], changedSince: UInt64?)
    case uidStore(UIDSet, StoreOperation, flags: [Flag], silent: Bool, unchangedSince: UInt64?)
    case uidCopy(UIDSet, MailboxName)
    case uidMove(UIDSet, MailboxName)
    case uidExpunge(UIDSet)
    /// A `UID STORE`, `UID COPY`, `UID MOVE` or `UID EXPUNGE` acting on `$`, the messages the last
    /// `UID SEARCH RETURN (SAVE)` of this connection kept (RFC 5182), instead of on its own UID set:
    /// one command for a set too long for one line.
    indirect case onSavedResult(Command)

    /// The command's name, for logs and errors (`UID MOVE`).
    public var name: String {
        switch self {
        case .capability: "CAPABILITY"
        case .noop: "NOOP"
        case .logout: "LOGOUT"
        case .startTLS: "STARTTLS"
        case .login: "LOGIN"
        case .authenticatePlain: "AUTHENTICATE"
        case .enable: "ENABLE"
        case .select: "SELECT"
        case .examine: "EXAMINE"
        case .unselect: "UNSELECT"
        case .close: "CLOSE"
        case .expunge: "EXPUNGE"
        case .list: "LIST"
        case .status: "STATUS"
        case .create: "CREATE"
        case .delete: "DELETE"
        case .append: "APPEND"
        case .uidSearch: "UID SEARCH"
        case .uidSort: "UID SORT"
        case .uidThread: "UID THREAD"
        case .uidFetch: "UID FETCH"
        case .uidStore: "UID STORE"
        case .uidCopy: "UID COPY"
        case .uidMove: "UID MOVE"
        case .uidExpunge: "UID EXPUNGE"
        case .onSavedResult(let command): command.name
        }
    }

    /// The UID set a command acts on, for commands that can be split into several.
    public var uidSet: UIDSet? {
        switch self {
        case .uidFetch(let set, _, _), .uidStore(let set, _, _, _, _), .uidCopy(let set, _), .uidMove(let set, _),
            .uidExpunge(let set):
            set
        case .uidSearch(.uid(let set), _):
            // `UID SEARCH UID <set> …`: splittable on the set, the answers are unioned.
            set
        case .uidSearch(.and(let keys), _):
            keys.first?.uidCriterion
        case .uidSearch(.or(.savedResult, .uid(let set)), _):
            // `UID SEARCH RETURN (SAVE) OR UID $ UID <set>`: adds `set` to the saved result piece by piece.
            set
        default: nil
        }
    }

    /// Whether the command changes messages (flags, copies, moves, expunges) rather than reading them.
    public var changesMessages: Bool {
        switch self {
        case .uidStore, .uidCopy, .uidMove, .uidExpunge, .onSavedResult: true
        default: false
        }
    }

    /// The same command acting on `set` instead.
    public func replacingUIDSet(_ set: UIDSet) -> Command {
        switch self {
        case .uidFetch(_, let items, let since): .uidFetch(set, items, changedSince: since)
        case .uidStore(_, let op, let flags, let silent, let since):
            .uidStore(set, op, flags: flags, silent: silent, unchangedSince: since)
        case .uidCopy(_, let mailbox): .uidCopy(set, mailbox)
        case .uidMove(_, let mailbox): .uidMove(set, mailbox)
        case .uidExpunge: .uidExpunge(set)
        case .uidSearch(.uid, let returning): .uidSearch(.uid(set), returning: returning)
        case .uidSearch(.and(let keys), let returning) where keys.first?.uidCriterion != nil:
            .uidSearch(.and([.uid(set)] + keys.dropFirst()), returning: returning)
        case .uidSearch(.or(.savedResult, .uid), let returning): .uidSearch(.or(.savedResult, .uid(set)), returning: returning)
        default: self
        }
    }
}

/// `STATUS` data items.
public enum StatusItem: String, Hashable, Sendable, CaseIterable {
    case messages = "MESSAGES"
    case recent = "RECENT"
    case uidNext = "UIDNEXT"
    case uidValidity = "UIDVALIDITY"
    case unseen = "UNSEEN"
    case highestModSeq = "HIGHESTMODSEQ"
    case size = "SIZE"
}

/// How `UID STORE` changes flags.
public enum StoreOperation: String, Hashable, Sendable {
    case add = "+FLAGS"
    case remove = "-FLAGS"
    case replace = "FLAGS"
}

/// Data items to fetch.
public enum FetchItem: Hashable, Sendable {
    case uid
    case flags
    case rfc822Size
    case internalDate
    case envelope
    case bodyStructure
    case modSeq
    /// `BODY.PEEK[HEADER.FIELDS (...)]`: the named header fields, without setting `\Seen`.
    case headerFields([String])
    /// `BODY.PEEK[section]`, e.g. `HEADER` or the empty section for the whole message.
    case bodyPeek(section: String)
}

/// One sort criterion (RFC 5256 §3), optionally reversed.
public struct SortKey: Hashable, Sendable {
    public enum Criterion: String, Hashable, Sendable {
        case arrival = "ARRIVAL"
        case cc = "CC"
        case date = "DATE"
        case from = "FROM"
        case size = "SIZE"
        case subject = "SUBJECT"
        case to = "TO"
        case displayFrom = "DISPLAYFROM"
        case displayTo = "DISPLAYTO"
    }

    public var criterion: Criterion
    public var reverse: Bool

    public init(_ criterion: Criterion, reverse: Bool = false) {
        self.criterion = criterion
        self.reverse = reverse
    }
}

/// ESEARCH / ESORT `RETURN` options (RFC 4731, RFC 5267).
public enum SearchReturn: Hashable, Sendable {
    case min
    case max
    case count
    case all
    /// Keep the result on the server as `$` (RFC 5182 SEARCHRES).
    case save
    /// 1-based positions, e.g. `1:100`; negative counts from the end.
    case partial(ClosedRange<Int32>)
}

/// Search criteria (RFC 3501 §6.4.4, RFC 7162 MODSEQ). Several keys in `.and` are all required.
public indirect enum SearchKey: Hashable, Sendable {
    case all
    case uid(UIDSet)
    /// `UID $`: the messages the last `SEARCH RETURN (SAVE)` kept (RFC 5182).
    case savedResult
    case seen
    case unseen
    case flagged
    case unflagged
    case deleted
    case undeleted
    case keyword(Flag)
    case unkeyword(Flag)
    case header(String, String)
    case larger(UInt32)
    case smaller(UInt32)
    case modSeq(UInt64)
    case not(SearchKey)
    case or(SearchKey, SearchKey)
    case and([SearchKey])

    var uidCriterion: UIDSet? {
        if case .uid(let set) = self { return set }
        return nil
    }
}
