/// What the server told about the selected mailbox (SELECT/EXAMINE answer, kept up to date with
/// EXISTS, EXPUNGE and VANISHED as they arrive).
public struct SelectedMailbox: Hashable, Sendable {
    public var name: MailboxName
    public var readOnly: Bool
    public var exists: UInt32 = 0
    public var uidValidity: UInt32 = 0
    public var uidNext: UInt32?
    /// nil when the server does not keep mod-sequences for this mailbox (NOMODSEQ or no CONDSTORE).
    public var highestModSeq: UInt64?
    public var flags: [Flag] = []
    /// Flags a STORE can set permanently; contains `\*` when new keywords may be created. When the
    /// server sent no PERMANENTFLAGS, ``allFlagsPermanent`` (RFC 3501 §6.3.1).
    public var permanentFlags: [Flag] = []

    /// What a mailbox allows when SELECT reports no PERMANENTFLAGS: RFC 3501 §6.3.1 says the client
    /// should then assume all flags can be changed permanently (system flags, and new keywords).
    public static let allFlagsPermanent: [Flag] = [.answered, .flagged, .deleted, .seen, .draft, .wildcard]

    public init(name: MailboxName, readOnly: Bool) {
        self.name = name
        self.readOnly = readOnly
    }

    /// Whether `flag` can be stored permanently (keywords need `\*` unless already listed).
    public func allowsPermanent(_ flag: Flag) -> Bool {
        permanentFlags.contains(flag) || (!flag.isSystemFlag && permanentFlags.contains(.wildcard))
    }

    /// Applies untagged data that changes the mailbox while it is selected.
    package mutating func apply(_ response: UntaggedResponse) {
        switch response {
        case .exists(let n): exists = n
        case .expunge: exists = exists > 0 ? exists - 1 : 0
        case .vanished(let earlier, let set) where !earlier:
            let gone = UInt32(clamping: set.count)
            exists = exists > gone ? exists - gone : 0
        case .flags(let f): flags = f
        case .status(.ok, let text):
            switch text.code {
            case .uidValidity(let v): uidValidity = v
            case .uidNext(let v): uidNext = v
            case .highestModSeq(let v): highestModSeq = v
            case .noModSeq: highestModSeq = nil
            case .permanentFlags(let f): permanentFlags = f
            default: break
            }
        default: break
        }
    }
}

/// One mailbox of a LIST answer, with its STATUS when LIST-STATUS returned one.
public struct MailboxListing: Hashable, Sendable {
    public var entry: ListEntry
    public var status: MailboxStatus?

    public init(entry: ListEntry, status: MailboxStatus? = nil) {
        self.entry = entry
        self.status = status
    }

    public var name: MailboxName { entry.name }

    /// The SPECIAL-USE role (`\Trash`, `\Sent`, …) if the server marks one.
    public var specialUse: String? {
        let uses = ["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"]
        return entry.attributes.first { attribute in uses.contains { $0.lowercased() == attribute.lowercased() } }
    }

    public var isSelectable: Bool { !entry.has("\\Noselect") && !entry.has("\\NonExistent") }
}

/// The answer to UID COPY / UID MOVE: the destination's UIDVALIDITY and the new UID of each source UID (COPYUID).
public struct CopyResult: Hashable, Sendable {
    public var uidValidity: UInt32?
    /// Source UID → destination UID. Empty when the server sent no COPYUID (no UIDPLUS, or nothing copied).
    public var newUIDs: [UInt32: UInt32]

    public init(uidValidity: UInt32? = nil, newUIDs: [UInt32: UInt32] = [:]) {
        self.uidValidity = uidValidity
        self.newUIDs = newUIDs
    }

    /// The source UIDs the server reported as copied.
    public var copiedSourceUIDs: UIDSet { UIDSet(newUIDs.keys) }
}
