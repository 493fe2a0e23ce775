import IMAPCore
import Logging

/// The one ordering function behind both `GET /api/v1/mails` and range resolution, so that the two
/// agree item for item on an unchanged folder.
///
/// Native fields (`subject from to date size`) are sorted by the server (`UID SORT`, `REVERSE` for
/// DESC — cached per direction as the server answers, since REVERSE keeps ties ascending). The other
/// fields follow ``OrderingRules`` over the server's `SORT (DATE)` order, with values from the
/// per-message metadata cache. Every order is kept in the listing cache with a token taken from one STATUS
/// (UIDVALIDITY, UIDNEXT, MESSAGES, and HIGHESTMODSEQ for flag-based fields): while the token
/// holds, a range costs one STATUS and no SORT.
public struct MailOrdering: Sendable {
    let cache: any ListingCache
    let metrics: GatewayMetrics
    let logger: Logger
    /// Most messages one metadata `UID FETCH` asks about (`listing.metadataFetchBatch`).
    let metadataFetchBatch: Int

    public init(cache: any ListingCache, metrics: GatewayMetrics, metadataFetchBatch: Int = 5000, logger: Logger) {
        self.cache = cache
        self.metrics = metrics
        self.metadataFetchBatch = max(1, metadataFetchBatch)
        self.logger = logger
    }

    /// The folder's UIDs in `order`, with the UIDVALIDITY they belong to.
    public func uids(
        in folder: FolderInfo, order: MailSortOrder, account: String, session: any MailSession
    ) async throws -> (uidValidity: UInt32, uids: [UInt32]) {
        let status = try await session.status(folder.mailbox, Self.statusItems(session))
        return try await uids(in: folder, order: order, account: account, session: session, status: status)
    }

    private func uids(
        in folder: FolderInfo, order: MailSortOrder, account: String, session: any MailSession, status: MailboxStatus
    ) async throws -> (uidValidity: UInt32, uids: [UInt32]) {
        let validity = status.uidValidity ?? 0
        let token = Self.token(status, field: order.field)
        if let token, let cached = try await cache.cachedOrder(account: account, folderId: folder.id, order: order),
            cached.uidValidity == validity, cached.token == token
        {
            metrics.increment(.sortCacheHits)
            return (validity, cached.uids)
        }
        metrics.increment(.sortCacheMisses)
        let uids: [UInt32]
        if let criterion = order.field.nativeCriterion {
            guard session.capabilities.contains(.sort) else {
                throw GatewayError.upstreamUnsupported("the IMAP server lacks SORT; ordering by \(order.field.rawValue) is not available")
            }
            try await session.select(folder.mailbox)
            uids = try await session.uidSort([SortKey(criterion, reverse: order.direction == .descending)])
            metrics.increment(.imapSortCommands)
        } else {
            let dateOrder = try await self.uids(
                in: folder, order: MailSortOrder(field: .date, direction: .ascending), account: account, session: session,
                status: status
            ).uids
            if order.field == .folderName {
                // Constant within one folder: date, then UID.
                uids = order.direction == .ascending ? dateOrder : dateOrder.reversed()
            } else {
                let meta = try await syncMetadata(folder: folder, account: account, session: session)
                let value: (UInt32) -> Int
                switch order.field {
                case .isUnread: value = { meta[$0].map { $0.flags.contains(.seen) ? 0 : 1 } ?? 0 }
                case .isFlagged: value = { meta[$0].map { $0.flags.contains(.flagged) ? 1 : 0 } ?? 0 }
                case .importance: value = { (meta[$0]?.importance ?? .normal).rawValue }
                default: value = { (meta[$0]?.hasAttachment ?? false) ? 1 : 0 }
                }
                uids = OrderingRules.order(dateOrder: dateOrder, value: value, direction: order.direction)
            }
        }
        if let token {
            try await cache.storeOrder(
                account: account, folderId: folder.id, order: order, cached: CachedOrder(uidValidity: validity, token: token, uids: uids))
        }
        return (validity, uids)
    }

    /// Brings the folder's metadata cache up to date: new UIDs since the recorded UIDNEXT, flags
    /// changed since the recorded HIGHESTMODSEQ (CONDSTORE `CHANGEDSINCE`), expunged UIDs dropped.
    /// Without CONDSTORE, or after a UIDVALIDITY change, it refetches the folder.
    func syncMetadata(folder: FolderInfo, account: String, session: any MailSession) async throws -> [UInt32: MessageMeta] {
        try await session.select(folder.mailbox)
        let status = try await session.status(folder.mailbox, Self.statusItems(session))
        guard let validity = status.uidValidity, let uidNext = status.uidNext else {
            throw GatewayError.upstreamRefused("STATUS lacked UIDVALIDITY or UIDNEXT")
        }
        let previous = try await cache.folderSyncState(account: account, folderId: folder.id)
        let modSeq = status.highestModSeq
        let state = FolderSyncState(uidValidity: validity, uidNext: uidNext, highestModSeq: modSeq ?? 0)
        if let previous, previous == state { return try await cache.messageMeta(account: account, folderId: folder.id) }
        let full: [FetchItem] = [.flags, .modSeq, .bodyStructure, .headerFields(OrderingRules.priorityHeaders)]
        guard let previous, previous.uidValidity == validity, let modSeq, previous.highestModSeq > 0 else {
            metrics.increment(.metadataFullSyncs)
            // In pieces of `metadataFetchBatch` UIDs, each its own command (own timeout, bounded
            // memory) and saved as it arrives. Until the last piece, the saved state says "known
            // up to this UID, as of this HIGHESTMODSEQ", so an interrupted sync resumes
            // incrementally instead of starting over (issue 13, finding 6).
            let existing = uidNext > 1 ? try await session.uidSearch(.all).intersection(UIDSet(ranges: [1...(uidNext - 1)])) : UIDSet()
            let pieces = existing.split(maxCount: metadataFetchBatch)
            if pieces.isEmpty {
                try await cache.applyMetaSync(account: account, folderId: folder.id, reset: true, removed: [], changed: [], state: state)
            }
            for (index, piece) in pieces.enumerated() {
                let fetched = try await session.uidFetch(piece, full)
                let last = index == pieces.count - 1
                let partial = FolderSyncState(uidValidity: validity, uidNext: (piece.max ?? 0) + 1, highestModSeq: modSeq ?? 0)
                try await cache.applyMetaSync(
                    account: account, folderId: folder.id, reset: index == 0, removed: [], changed: fetched.compactMap(Self.meta),
                    state: last ? state : partial)
            }
            return try await cache.messageMeta(account: account, folderId: folder.id)
        }
        metrics.increment(.metadataIncrementalSyncs)
        var cached = try await cache.messageMeta(account: account, folderId: folder.id)
        var changed: [MessageMeta] = []
        if uidNext > previous.uidNext {
            changed += try await session.uidFetch(UIDSet(ranges: [previous.uidNext...(uidNext - 1)]), full).compactMap(Self.meta)
        }
        if modSeq > previous.highestModSeq, previous.uidNext > 1 {
            let flagChanges = try await session.uidFetch(
                UIDSet(ranges: [1...(previous.uidNext - 1)]), [.flags, .modSeq], changedSince: previous.highestModSeq)
            for message in flagChanges {
                guard let uid = message.uid, var meta = cached[uid], let flags = message.flags else { continue }
                meta.flags = MessageFlags(flags)
                meta.modSeq = message.modSeq ?? meta.modSeq
                if flags.contains(Flag("$HasAttachment")) { meta.hasAttachment = true }
                if flags.contains(Flag("$HasNoAttachment")) { meta.hasAttachment = false }
                changed.append(meta)
            }
        }
        let existing = try await session.uidSearch(.all)
        let removed = cached.keys.filter { !existing.contains($0) }
        try await cache.applyMetaSync(
            account: account, folderId: folder.id, reset: false, removed: removed, changed: changed, state: state)
        for uid in removed { cached[uid] = nil }
        for meta in changed { cached[meta.uid] = meta }
        return cached
    }

    static func meta(_ message: FetchedMessage) -> MessageMeta? {
        guard let uid = message.uid, let flags = message.flags else { return nil }
        var hasAttachment = message.bodyStructure?.hasAttachment ?? false
        if flags.contains(Flag("$HasAttachment")) { hasAttachment = true }
        if flags.contains(Flag("$HasNoAttachment")) { hasAttachment = false }
        let headers = message.sections.first { $0.key.hasPrefix("HEADER.FIELDS") }.map { String(decoding: $0.value, as: UTF8.self) } ?? ""
        return MessageMeta(
            uid: uid, flags: MessageFlags(flags), modSeq: message.modSeq ?? 0,
            importance: OrderingRules.importance(headers: headers), hasAttachment: hasAttachment)
    }

    static func statusItems(_ session: any MailSession) -> [StatusItem] {
        var items: [StatusItem] = [.uidValidity, .uidNext, .messages]
        if session.capabilities.contains(.condStore) { items.append(.highestModSeq) }
        return items
    }

    /// The folder state an order is valid for; nil when it cannot be told (never cached then).
    static func token(_ status: MailboxStatus, field: SortField) -> String? {
        guard let validity = status.uidValidity, let next = status.uidNext, let messages = status.messages else { return nil }
        var token = "\(validity):\(next):\(messages)"
        if field.dependsOnFlags {
            guard let modSeq = status.highestModSeq else { return nil }
            token += ":\(modSeq)"
        }
        return token
    }
}
