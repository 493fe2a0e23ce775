import IMAPCore
import Logging

/// One message as `GET /api/v1/mails` shows it.
public struct MailSummary: Hashable, Sendable {
    public var id: String
    public var folderId: String
    public var subject: String
    public var from: String
    public var to: String
    /// ISO 8601 (UTC) of the Date header, or of the internal date where it is missing.
    public var date: String
    public var size: UInt64
    public var isUnread: Bool
    public var isFlagged: Bool
    public var importance: Importance
    public var hasAttachments: Bool
    public var labelIds: [String]
    public var messageId: String
}

/// A page of a folder's listing.
public struct MailPage: Hashable, Sendable {
    public var totalItems: Int
    public var order: MailSortOrder
    public var items: [MailSummary]
}

/// `GET /api/v1/mails`: a window of a folder in the order ``MailOrdering`` gives, with the
/// window's messages fetched in one `UID FETCH`.
public struct MailListing: Sendable {
    let mailServer: any MailServer
    let folderLists: FolderListCache
    let labels: any LabelStore
    let ordering: MailOrdering

    public init(mailServer: any MailServer, folderLists: FolderListCache, labels: any LabelStore, ordering: MailOrdering) {
        self.mailServer = mailServer
        self.folderLists = folderLists
        self.labels = labels
        self.ordering = ordering
    }

    /// One page of the listing; a span of the request's trace (`listing mails`).
    public func page(
        credentials: AccountCredentials, folderId: String, order: MailSortOrder, start: Int, limit: Int
    ) async throws -> MailPage {
        try await MailSortOrder.withListingSpan("listing mails", order) {
            try await loadPage(credentials: credentials, folderId: folderId, order: order, start: start, limit: limit)
        }
    }

    private func loadPage(
        credentials: AccountCredentials, folderId: String, order: MailSortOrder, start: Int, limit: Int
    ) async throws -> MailPage {
        let account = credentials.user
        return try await mailServer.withSession(credentials) { session in
            func lookUp(fresh: Bool) async throws -> FolderInfo {
                let directory =
                    fresh
                    ? try await folderLists.list(session: session, account: account)
                    : try await folderLists.directory(session: session, account: account, covering: [folderId])
                guard let folder = directory.folder(id: folderId) else {
                    throw GatewayError.notFound("folderNotFound", "no folder with id \(folderId)", field: "folderId")
                }
                guard folder.selectable else { throw GatewayError.folderNotSelectable(folder, field: "folderId") }
                return folder
            }
            var folder = try await lookUp(fresh: false)
            let validity: UInt32
            let uids: [UInt32]
            do {
                (validity, uids) = try await ordering.uids(in: folder, order: order, account: account, session: session)
            } catch let error as MailServerError where error.kind == .refused {
                // The kept folder list may be out of date (the folder was deleted or renamed since): ask the
                // server, and try again only if the folder now has another name.
                let listed = try await lookUp(fresh: true)
                guard listed.mailbox != folder.mailbox else { throw error }
                folder = listed
                (validity, uids) = try await ordering.uids(in: folder, order: order, account: account, session: session)
            }
            let window = start < uids.count ? Array(uids[start..<min(uids.count, start + limit)]) : []
            guard !window.isEmpty else { return MailPage(totalItems: uids.count, order: order, items: []) }
            try await session.select(folder.mailbox)
            let fetched = try await session.uidFetch(
                UIDSet(window),
                [.flags, .rfc822Size, .internalDate, .envelope, .bodyStructure, .headerFields(OrderingRules.priorityHeaders + SortKeys.headerFields)])
            var byUID: [UInt32: FetchedMessage] = [:]
            for message in fetched { if let uid = message.uid { byUID[uid] = message } }
            let labelIds = try await LabelService.labelIds(for: fetched.flatMap { $0.flags ?? [] }, account: account, store: labels)
            let items = window.compactMap { uid -> MailSummary? in
                guard let message = byUID[uid], let meta = MailOrdering.meta(message) else { return nil }
                // Subject and date of the first headers, read as the order reads them (SortKeys).
                var envelope = message.envelope
                envelope?.withFirstHeaders(of: message)
                let dateSeconds = envelope?.date.flatMap(SortKeys.sentDate) ?? message.internalDate?.secondsSince1970 ?? 0
                return MailSummary(
                    id: MailID(folderId: folder.id, uidValidity: validity, uid: uid).encoded, folderId: folder.id,
                    subject: HeaderText.decodeWords(envelope?.subject ?? ""),
                    from: Self.addresses(envelope?.from ?? []), to: Self.addresses(envelope?.to ?? []),
                    date: HeaderText.iso8601(dateSeconds), size: message.size ?? 0,
                    isUnread: !meta.flags.contains(.seen), isFlagged: meta.flags.contains(.flagged),
                    importance: meta.importance, hasAttachments: meta.hasAttachment,
                    labelIds: (message.flags ?? []).compactMap { labelIds[$0.rawValue.lowercased()] },
                    messageId: envelope?.messageID ?? "")
            }
            return MailPage(totalItems: uids.count, order: order, items: items)
        }
    }

    /// `Name <mailbox@host>, …` with encoded words decoded.
    static func addresses(_ list: [Envelope.Address]) -> String {
        list.compactMap { address -> String? in
            guard let email = address.email, address.host != nil else { return nil }
            guard let name = address.name, !name.isEmpty else { return email }
            return "\(HeaderText.decodeWords(name)) <\(email)>"
        }.joined(separator: ", ")
    }
}
