import IMAPCore

/// What the conversation index keeps of one message: its RFC 5256 sort keys (the base subject
/// among them, which threading needs too) and the message IDs that link it into a thread. Like
/// sort keys, they never change for a message, so they are fetched once.
public struct ThreadHeaders: Hashable, Sendable {
    /// Base subject, first From and To mailbox, sent date and size (``SortKeys``).
    public var keys: SortKeys
    /// The message's own Message ID (without `<>`), or nil when it has none: such a message is a
    /// conversation of its own.
    public var messageID: String?
    /// The References of RFC 5256 §3 step 1, oldest first (In-Reply-To's first ID when there are none).
    public var references: [String]
    /// Whether the subject was a reply or forward (`Re:`, `Fwd:`, …), for step 5 of threading.
    public var isReplyOrForward: Bool

    /// How headers are read: rows stored under another version are read again. 2: subject and
    /// date of the first header (``SortKeys``).
    public static let version = 2
    /// At most this many references are kept per message: what ``ReferencesThreading/Limits/dovecot`` uses.
    public static let maxReferences = 1_001
    /// What one FETCH asks for a message.
    public static let fetchItems: [FetchItem] = [
        .envelope, .internalDate, .rfc822Size, .headerFields(ReferencesThreading.headerFields + SortKeys.headerFields),
    ]

    public init(keys: SortKeys, messageID: String?, references: [String], isReplyOrForward: Bool) {
        self.keys = keys
        self.messageID = messageID
        self.references = references
        self.isReplyOrForward = isReplyOrForward
    }

    /// What the index keeps of a message the server did not describe: no keys, no Message ID (so
    /// it is a conversation of its own).
    public static let undescribed = ThreadHeaders(
        keys: SortKeys(subject: [], from: [], to: [], date: 0, size: 0), messageID: nil, references: [], isReplyOrForward: false)

    /// From a message fetched with ``fetchItems``; a part the server left out reads as empty.
    public init(_ message: FetchedMessage) {
        // The header section is read once: raw for the message IDs, unfolded for the keys.
        let fields = message.firstHeaderFields() ?? [:]
        let first = FetchedMessage.unfolded(fields)
        let keys = SortKeys(message, firstHeaders: first) ?? MailOrdering.fallbackKeys(message)
        var references = fields["references"].map { ReferencesThreading.messageIDs(in: $0) } ?? []
        if references.isEmpty, let first = fields["in-reply-to"].flatMap({ ReferencesThreading.firstMessageID(in: $0) }) {
            references = [first]
        }
        self.init(
            keys: keys, messageID: fields["message-id"].flatMap { ReferencesThreading.firstMessageID(in: $0) },
            references: Array(references.prefix(Self.maxReferences)),
            // The subject the keys were made of: the first `Subject` header's, else the envelope's.
            isReplyOrForward: (first["subject"] ?? message.envelope?.subject).map { BaseSubject.extractKey($0).isReplyOrForward } ?? false)
    }

    /// The base subject as threading compares it (RFC 5256 §2.1, case-mapped).
    public var baseSubject: String { String(decoding: keys.subject, as: UTF8.self) }
}

/// The per-folder header cache behind conversations: kept in step with the server like the sort
/// keys (new UIDs fetched, expunged ones dropped, everything again after a UIDVALIDITY change).
public protocol ConversationCache: Sendable {
    func threadHeaderSyncState(account: String, folderId: String) async throws -> SortKeySyncState?
    /// The cached headers of a folder, by UID.
    func threadHeaders(account: String, folderId: String) async throws -> [UInt32: ThreadHeaders]
    /// One sync step in one transaction: drop `removed` (everything when `reset`), add `added`,
    /// record `state` (its `version` is ``ThreadHeaders/version``).
    func applyThreadHeaderSync(
        account: String, folderId: String, reset: Bool, removed: [UInt32], added: [UInt32: ThreadHeaders], state: SortKeySyncState
    ) async throws
}
