/// What a mail batch does to each message.
public enum MailBatchOperation: Hashable, Sendable {
    case copy(destinationFolderId: String)
    case move(destinationFolderId: String)
    case delete
    /// `isUnread` maps to `\Seen` (inverted), `isFlagged` to `\Flagged`; at least one is set.
    case update(isUnread: Bool?, isFlagged: Bool?)
    case addLabel(labelId: String)
    case removeLabel(labelId: String)
}

/// A validated mail batch: the operation and the mail IDs exactly as the client sent them.
public struct MailBatchRequest: Hashable, Sendable {
    public var operation: MailBatchOperation
    public var ids: [String]

    public init(operation: MailBatchOperation, ids: [String]) {
        self.operation = operation
        self.ids = ids
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
}
