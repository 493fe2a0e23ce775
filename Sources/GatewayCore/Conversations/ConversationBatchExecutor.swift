import Tracing

/// `{start, limit, sourceFolderId}`: the `limit` conversations of `sourceFolderId`'s conversation
/// listing that begin at the conversation `start`.
public struct ConversationRange: Hashable, Sendable {
    public var start: String
    public var limit: Int
    public var sourceFolderId: String

    public init(start: String, limit: Int, sourceFolderId: String) {
        self.start = start
        self.limit = limit
        self.sourceFolderId = sourceFolderId
    }
}

/// A validated conversation batch: a mail operation (move, delete, conversation update, labels),
/// conversation IDs and ranges of a folder's conversation listing.
public struct ConversationBatchRequest: Hashable, Sendable {
    public var operation: MailBatchOperation
    public var ids: [String]
    public var ranges: [ConversationRange]
    public var order: MailSortOrder?

    public init(operation: MailBatchOperation, ids: [String], ranges: [ConversationRange] = [], order: MailSortOrder? = nil) {
        self.operation = operation
        self.ids = ids
        self.ranges = ranges
        self.order = order
    }
}

/// `POST /api/v1/batch/conversations/*`: resolves conversations to their member mails by the
/// reference server's rules, then runs a mail batch over them — synchronously, or as a job when the
/// members outnumber `batch.asyncThreshold` — with the same planning, confirmation, persistence and
/// crash safety as mail batches. Failed items are conversation IDs: an unknown one, a range start
/// not in its folder's listing, or a conversation any of whose acted-on members failed.
///
/// Rules: every member is acted on, except that `move` skips members in Sent and Drafts (and
/// members already in the destination are left as they are), and `update` leaves `isUnread` alone
/// in Sent and Drafts. `delete` sends every member to Trash under `batch.deleteToTrash`, and
/// removes permanently the members already in Trash.
public struct ConversationBatchExecutor: Sendable {
    let mailServer: any MailServer
    let listing: ConversationListing
    let executor: MailBatchExecutor

    public init(mailServer: any MailServer, listing: ConversationListing, executor: MailBatchExecutor) {
        self.mailServer = mailServer
        self.listing = listing
        self.executor = executor
    }

    /// A span of the request's trace (`batch conversations move`).
    public func submit(_ request: ConversationBatchRequest, credentials: AccountCredentials) async throws -> MailBatchExecutor.Result {
        try await withSpan("batch conversations \(request.operation.name)") { span in
            span.attributes["batch.ids"] = request.ids.count
            span.attributes["batch.ranges"] = request.ranges.count
            return try await resolveAndSubmit(request, credentials: credentials)
        }
    }

    private func resolveAndSubmit(_ request: ConversationBatchRequest, credentials: AccountCredentials) async throws -> MailBatchExecutor.Result {
        let maxItems = executor.configuration.maxItems
        let resolved: (mailIDs: [String], failed: [String], aliases: [String: String]) = try await mailServer.withSession(credentials) {
            session in
            let directory = try await MailboxDirectory.load(session: session, store: listing.folders, account: credentials.user)
            let set = try await listing.index.load(directory: directory, account: credentials.user, session: session)
            var chosen: [Conversation] = []
            var seen = Set<String>()
            var failed: [String] = []
            for id in request.ids where seen.insert(id).inserted {
                if let conversation = set.conversation(id: id) { chosen.append(conversation) } else { failed.append(id) }
            }
            var orders: [String: [Conversation]] = [:]
            for range in request.ranges {
                guard let order = request.order, let folder = directory.folder(id: range.sourceFolderId), folder.selectable else {
                    failed.append(range.start)
                    continue
                }
                if orders[folder.id] == nil { orders[folder.id] = set.sorted(inFolder: folder.id, by: order) }
                let ordered = orders[folder.id] ?? []
                guard let index = ordered.firstIndex(where: { $0.id == range.start }) else {
                    failed.append(range.start)
                    continue
                }
                for conversation in ordered[index..<min(ordered.count, index + max(range.limit, 0))]
                where seen.insert(conversation.id).inserted {
                    chosen.append(conversation)
                }
            }
            var mailIDs: [String] = []
            var aliases: [String: String] = [:]
            for conversation in chosen {
                for member in conversation.members where Self.actsOn(member, operation: request.operation) {
                    let id = member.mailID
                    guard aliases[id] == nil else { continue }
                    aliases[id] = conversation.id
                    mailIDs.append(id)
                    guard mailIDs.count <= maxItems else {
                        throw GatewayError.tooLarge(
                            "tooManyItems", "the conversations have more than \(maxItems) messages, the most one batch may act on")
                    }
                }
            }
            return (mailIDs, failed, aliases)
        }
        return try await executor.submit(
            MailBatchRequest(operation: request.operation, ids: resolved.mailIDs), credentials: credentials, failed: resolved.failed,
            aliases: resolved.aliases)
    }

    /// Whether the operation touches this member (the reference server's conversation rules).
    static func actsOn(_ member: ConversationMember, operation: MailBatchOperation) -> Bool {
        let sentOrDrafts = member.role == .sent || member.role == .drafts
        switch operation {
        case .move(let destination): return !sentOrDrafts && member.folderId != destination
        case .conversationUpdate(let isUnread, let isFlagged): return !sentOrDrafts || (isFlagged != nil) || isUnread == nil
        case .copy, .delete, .update, .addLabel, .removeLabel: return true
        }
    }
}
