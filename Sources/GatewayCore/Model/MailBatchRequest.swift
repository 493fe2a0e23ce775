/// What a mail batch does to each message.
public enum MailBatchOperation: Hashable, Sendable, Codable {
    case copy(destinationFolderId: String)
    case move(destinationFolderId: String)
    case delete
    /// `isUnread` maps to `\Seen` (inverted), `isFlagged` to `\Flagged`; at least one is set.
    case update(isUnread: Bool?, isFlagged: Bool?)
    /// As `update`, by the conversation rule of the reference server: `isUnread` is left alone
    /// in Sent and Drafts, `isFlagged` applies everywhere.
    case conversationUpdate(isUnread: Bool?, isFlagged: Bool?)
    case addLabel(labelId: String)
    case removeLabel(labelId: String)

    /// Whether the batch only changes flags (update, labels): no message leaves its folder.
    public var changesFlagsOnly: Bool {
        switch self {
        case .copy, .move, .delete: false
        case .update, .conversationUpdate, .addLabel, .removeLabel: true
        }
    }

    /// A short fixed name (`copy`, `move`, `delete`, `update`, `labelsAdd`, `labelsRemove`), for
    /// metrics, traces and logs; it carries no folder or label ID.
    public var name: String {
        switch self {
        case .copy: "copy"
        case .move: "move"
        case .delete: "delete"
        case .update, .conversationUpdate: "update"
        case .addLabel: "labelsAdd"
        case .removeLabel: "labelsRemove"
        }
    }
}

/// `{start, limit}`: the `limit` items of the sorted listing that begin at the mail `start`.
public struct MailRange: Hashable, Sendable {
    public var start: String
    public var limit: Int

    public init(start: String, limit: Int) {
        self.start = start
        self.limit = limit
    }
}

/// A validated mail batch: the operation, the mail IDs exactly as the client sent them, and
/// ranges of a sorted listing (with the order they refer to).
public struct MailBatchRequest: Hashable, Sendable {
    public var operation: MailBatchOperation
    public var ids: [String]
    public var ranges: [MailRange]
    public var order: MailSortOrder?

    public init(operation: MailBatchOperation, ids: [String], ranges: [MailRange] = [], order: MailSortOrder? = nil) {
        self.operation = operation
        self.ids = ids
        self.ranges = ranges
        self.order = order
    }
}

/// The result of a batch: the client's IDs that were not carried out, and new IDs from COPYUID.
public struct BatchOutcome: Hashable, Sendable {
    public var failedItems: [String]
    /// old ID → new ID, for copy and move when the server reports COPYUID.
    public var newIds: [String: String]

    public init(failedItems: [String] = [], newIds: [String: String] = [:]) {
        self.failedItems = failedItems
        self.newIds = newIds
    }

    /// `items` with each ID replaced by its alias where it has one, duplicates dropped, in order.
    public static func aliased(_ items: [String], aliases: [String: String]) -> [String] {
        guard !aliases.isEmpty else { return items }
        var seen = Set<String>()
        return items.map { aliases[$0] ?? $0 }.filter { seen.insert($0).inserted }
    }
}
