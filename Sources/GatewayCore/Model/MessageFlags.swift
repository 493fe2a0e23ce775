import IMAPCore

/// The system flags the engine reads from a message (RFC 3501 §2.3.2), as a set of bits rather
/// than strings. Keywords (labels) are kept apart, as ``Label`` keywords.
public struct MessageFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let seen = MessageFlags(rawValue: 1 << 0)
    public static let flagged = MessageFlags(rawValue: 1 << 1)
    public static let answered = MessageFlags(rawValue: 1 << 2)
    public static let deleted = MessageFlags(rawValue: 1 << 3)
    public static let draft = MessageFlags(rawValue: 1 << 4)

    private static let names: [(MessageFlags, String)] = [
        (.seen, "\\Seen"), (.flagged, "\\Flagged"), (.answered, "\\Answered"), (.deleted, "\\Deleted"), (.draft, "\\Draft"),
    ]

    /// The system flags among `flags` (compared case-insensitively, as IMAP does).
    public init(_ flags: some Sequence<Flag>) {
        self.init(words: flags.map(\.rawValue))
    }

    /// The system flags among space-separated or listed words; anything else is ignored.
    public init(words: some Sequence<some StringProtocol>) {
        var set: MessageFlags = []
        for word in words {
            let lowered = word.lowercased()
            for (flag, name) in Self.names where name.lowercased() == lowered { set.insert(flag) }
        }
        self = set
    }

    /// The flags as IMAP names (`\Seen \Flagged`), for storage.
    public var words: [String] { Self.names.filter { contains($0.0) }.map(\.1) }
}

/// A message's importance from its priority headers (see ``OrderingRules/importance(headers:)``).
public enum Importance: Int, Hashable, Sendable, Comparable {
    case low = 0
    case normal = 1
    case high = 2

    /// The API's name: `low`, `normal`, `high`.
    public var name: String {
        switch self {
        case .low: "low"
        case .normal: "normal"
        case .high: "high"
        }
    }

    public static func < (a: Importance, b: Importance) -> Bool { a.rawValue < b.rawValue }
}

/// A folder's role from SPECIAL-USE (RFC 6154), or INBOX.
public enum FolderRole: String, Hashable, Sendable {
    case inbox, drafts, sent, trash, junk, archive
    /// No special role (the API shows an empty string).
    case none = ""
}
