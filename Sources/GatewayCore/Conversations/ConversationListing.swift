import IMAPCore

/// One member as `GET /api/v1/conversations` shows it.
public struct ConversationMail: Hashable, Sendable {
    public var mailId: String
    public var folderId: String
    public var isUnread: Bool
    public var isFlagged: Bool
}

/// One conversation as `GET /api/v1/conversations` shows it.
public struct ConversationSummary: Hashable, Sendable {
    public var id: String
    /// The root's subject, encoded words decoded.
    public var subject: String
    /// ISO 8601 (UTC) of the newest member's sent date.
    public var date: String
    public var isUnread: Bool
    public var isFlagged: Bool
    public var hasAttachments: Bool
    public var importance: Importance
    /// The labels of any member.
    public var labelIds: [String]
    public var mails: [ConversationMail]
}

/// A page of a folder's conversation listing.
public struct ConversationPage: Hashable, Sendable {
    public var totalItems: Int
    public var order: MailSortOrder
    public var items: [ConversationSummary]
}

/// `GET /api/v1/conversations`: the conversations with a member in a folder, in the order
/// ``Conversation/sorted(_:by:)`` gives — the one ordering function behind this listing and
/// conversation ranges. The window's members are fetched (flags and envelope) in one
/// `UID FETCH` per folder they are in.
public struct ConversationListing: Sendable {
    let mailServer: any MailServer
    let folders: any FolderStore
    let labels: any LabelStore
    let index: ConversationIndex

    public init(mailServer: any MailServer, folders: any FolderStore, labels: any LabelStore, index: ConversationIndex) {
        self.mailServer = mailServer
        self.folders = folders
        self.labels = labels
        self.index = index
    }

    /// The folder's conversations in `order`, with the directory they were read with.
    func ordered(
        folderId: String, order: MailSortOrder, account: String, session: any MailSession, field: String
    ) async throws -> (MailboxDirectory, [Conversation]) {
        let directory = try await MailboxDirectory.load(session: session, store: folders, account: account)
        guard let folder = directory.folder(id: folderId) else {
            throw GatewayError.notFound("folderNotFound", "no folder with id \(folderId)", field: field)
        }
        guard folder.selectable else { throw GatewayError.folderNotSelectable(folder, field: field) }
        let set = try await index.load(directory: directory, account: account, session: session)
        return (directory, set.sorted(inFolder: folderId, by: order))
    }

    /// One page of the listing; a span of the request's trace (`listing conversations`).
    public func page(
        credentials: AccountCredentials, folderId: String, order: MailSortOrder, start: Int, limit: Int
    ) async throws -> ConversationPage {
        try await MailSortOrder.withListingSpan("listing conversations", order) {
            try await loadPage(credentials: credentials, folderId: folderId, order: order, start: start, limit: limit)
        }
    }

    private func loadPage(
        credentials: AccountCredentials, folderId: String, order: MailSortOrder, start: Int, limit: Int
    ) async throws -> ConversationPage {
        let account = credentials.user
        return try await mailServer.withSession(credentials) { session in
            let (directory, ordered) = try await ordered(
                folderId: folderId, order: order, account: account, session: session, field: "folderId")
            let window = start < ordered.count ? Array(ordered[start..<min(ordered.count, start + limit)]) : []
            guard !window.isEmpty else { return ConversationPage(totalItems: ordered.count, order: order, items: []) }

            // Each folder of the window's members once: fresh flags (labels) and the roots' first
            // Subject header (as the order reads it: SortKeys).
            var fetched: [String: [UInt32: FetchedMessage]] = [:]
            let byFolder = Dictionary(grouping: window.flatMap(\.members), by: \.folderId)
            for (id, members) in byFolder.sorted(by: { $0.key < $1.key }) {
                guard let folder = directory.folder(id: id) else { continue }
                try await session.select(folder.mailbox)
                var messages: [UInt32: FetchedMessage] = [:]
                for message in try await session.uidFetch(UIDSet(members.map(\.uid)), [.flags, .headerFields(["Subject"])]) {
                    if let uid = message.uid { messages[uid] = message }
                }
                fetched[id] = messages
            }
            let labelIds = try await LabelService.labelIds(
                for: fetched.values.flatMap { $0.values.flatMap { $0.flags ?? [] } }, account: account, store: labels)

            let items = window.map { conversation -> ConversationSummary in
                var mails: [ConversationMail] = []
                var labels: [String] = []
                for member in conversation.members {
                    let flags = fetched[member.folderId]?[member.uid]?.flags
                    let system = flags.map { MessageFlags($0) } ?? member.meta?.flags ?? []
                    mails.append(
                        ConversationMail(
                            mailId: member.mailID, folderId: member.folderId, isUnread: !system.contains(.seen),
                            isFlagged: system.contains(.flagged)))
                    for flag in flags ?? [] {
                        if let id = labelIds[flag.rawValue.lowercased()], !labels.contains(id) { labels.append(id) }
                    }
                }
                let rootSubject = fetched[conversation.root.folderId]?[conversation.root.uid]?.firstHeaders()?["subject"] ?? ""
                return ConversationSummary(
                    id: conversation.id, subject: HeaderText.decodeWords(rootSubject), date: HeaderText.iso8601(conversation.date),
                    isUnread: mails.contains(where: \.isUnread), isFlagged: mails.contains(where: \.isFlagged),
                    hasAttachments: conversation.hasAttachments, importance: conversation.importance, labelIds: labels, mails: mails)
            }
            return ConversationPage(totalItems: ordered.count, order: order, items: items)
        }
    }
}
