import IMAPCore
import Logging

/// The one ordering function behind both `GET /api/v1/mails` and range resolution, so that the two
/// agree item for item on an unchanged folder.
///
/// Native fields (`subject from to date size`) are sorted by the server (`UID SORT`, `REVERSE` for
/// DESC — cached per direction as the server answers, since REVERSE keeps ties ascending), or,
/// where the server lacks SORT, by the gateway with the same RFC 5256 rules (``SortKeys``) over
/// cached per-message keys. The other
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
            if session.capabilities.contains(.sort) {
                try await session.select(folder.mailbox)
                uids = try await session.uidSort([SortKey(criterion, reverse: order.direction == .descending)])
                metrics.increment(.imapSortCommands)
            } else {
                // No SORT: the same RFC 5256 order, computed from each message's cached keys.
                let keys = try await syncSortKeys(folder: folder, account: account, session: session)
                uids = SortKeys.order(keys.map { ($0.key, $0.value) }, by: criterion, reverse: order.direction == .descending)
                metrics.increment(.ownSorts)
            }
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
    /// changed since the recorded HIGHESTMODSEQ (CONDSTORE `CHANGEDSINCE`; without CONDSTORE, the
    /// flags of every known message, fetched in pieces), expunged UIDs dropped. After a
    /// UIDVALIDITY change it refetches the folder.
    func syncMetadata(folder: FolderInfo, account: String, session: any MailSession) async throws -> [UInt32: MessageMeta] {
        try await session.select(folder.mailbox)
        let status = try await session.status(folder.mailbox, Self.statusItems(session))
        guard let validity = status.uidValidity, let uidNext = status.uidNext else {
            throw GatewayError.upstreamRefused("STATUS lacked UIDVALIDITY or UIDNEXT")
        }
        let previous = try await cache.folderSyncState(account: account, folderId: folder.id)
        // Mod-sequences only where the server keeps them (CONDSTORE, and not NOMODSEQ): a server
        // without CONDSTORE answers BAD to a FETCH of MODSEQ.
        let modSeq = session.capabilities.contains(.condStore) ? status.highestModSeq : nil
        let state = FolderSyncState(uidValidity: validity, uidNext: uidNext, highestModSeq: modSeq ?? 0)
        if modSeq != nil, let previous, previous == state { return try await cache.messageMeta(account: account, folderId: folder.id) }
        var full: [FetchItem] = [.flags, .bodyStructure, .headerFields(OrderingRules.priorityHeaders)]
        if modSeq != nil { full.append(.modSeq) }
        guard let previous, previous.uidValidity == validity, modSeq == nil || previous.highestModSeq > 0 else {
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
        let existing = try await session.uidSearch(.all)
        if uidNext > previous.uidNext {
            let added = existing.intersection(UIDSet(ranges: [previous.uidNext...(uidNext - 1)]))
            for piece in added.split(maxCount: metadataFetchBatch) {
                changed += try await session.uidFetch(piece, full).compactMap(Self.meta)
            }
        }
        if previous.uidNext > 1 {
            let known = UIDSet(ranges: [1...(previous.uidNext - 1)])
            var flagChanges: [FetchedMessage] = []
            if let modSeq {
                // CONDSTORE: only what changed since the recorded mod-sequence.
                if modSeq > previous.highestModSeq {
                    flagChanges = try await session.uidFetch(known, [.flags, .modSeq], changedSince: previous.highestModSeq)
                }
            } else {
                // Without CONDSTORE nothing tells what changed: every known message's flags, in pieces.
                for piece in existing.intersection(known).split(maxCount: metadataFetchBatch) {
                    flagChanges += try await session.uidFetch(piece, [.flags])
                }
            }
            for message in flagChanges {
                guard let uid = message.uid, let before = cached[uid], let flags = message.flags else { continue }
                var meta = before
                meta.flags = MessageFlags(flags)
                meta.modSeq = message.modSeq ?? meta.modSeq
                if flags.contains(Flag("$HasAttachment")) { meta.hasAttachment = true }
                if flags.contains(Flag("$HasNoAttachment")) { meta.hasAttachment = false }
                if meta != before { changed.append(meta) }
            }
        }
        let removed = cached.keys.filter { !existing.contains($0) }
        try await cache.applyMetaSync(
            account: account, folderId: folder.id, reset: false, removed: removed, changed: changed, state: state)
        for uid in removed { cached[uid] = nil }
        for meta in changed { cached[meta.uid] = meta }
        return cached
    }

    /// The RFC 5256 sort keys of every message of the folder, for servers without SORT, kept in
    /// step like the metadata cache: keys never change for a message, so only messages not yet
    /// known are fetched (``SortKeys/fetchItems``, in pieces of `metadataFetchBatch`,
    /// each saved as it arrives) and expunged ones dropped; a new UIDVALIDITY, or keys computed by
    /// another ``SortKeys/version``, start over.
    func syncSortKeys(folder: FolderInfo, account: String, session: any MailSession) async throws -> [UInt32: SortKeys] {
        let selected = try await session.select(folder.mailbox)
        let validity = selected.uidValidity
        let previous = try await cache.sortKeySyncState(account: account, folderId: folder.id)
        let reset = previous?.uidValidity != validity || previous?.version != SortKeys.version
        let keys = reset ? [:] : try await cache.sortKeys(account: account, folderId: folder.id)
        // UIDNEXT from STATUS: the SELECT answer's is stale once messages arrive in a selected mailbox.
        let uidNext = try await session.status(folder.mailbox, [.uidNext]).uidNext
        return try await Self.syncOncePerMessage(
            session: session, uidNext: uidNext, validity: validity, version: SortKeys.version, previous: previous, reset: reset,
            known: consume keys, items: SortKeys.fetchItems, batch: metadataFetchBatch,
            value: { SortKeys($0) ?? Self.fallbackKeys($0) },
            // A message the server did not describe still belongs to the folder: it sorts with
            // empty keys rather than vanishing from listings and ranges.
            placeholder: SortKeys(subject: [], from: [], to: [], date: 0, size: 0),
            apply: { reset, removed, added, state in
                try await cache.applySortKeySync(
                    account: account, folderId: folder.id, reset: reset, removed: removed, added: added, state: state)
            })
    }

    /// Brings a folder's per-message values that never change for a message (sort keys, thread
    /// headers) in step with the selected mailbox: the server's `UID SEARCH ALL` is cut to the UIDs
    /// below UIDNEXT (a wrong answer of `1:4294967295` must neither stall the sync nor put messages
    /// that do not exist into a listing), expunged UIDs are dropped, and only unknown ones are
    /// fetched, in pieces of `batch`, each saved (`apply`) as it arrives. A message the server did
    /// not describe gets `placeholder`. The state saved is (UIDVALIDITY, the larger of UIDNEXT and
    /// the highest UID + 1, `version`).
    static func syncOncePerMessage<Value: Sendable>(
        session: any MailSession, uidNext: UInt32?, validity: UInt32, version: Int, previous: SortKeySyncState?, reset: Bool,
        known: consuming [UInt32: Value], items: [FetchItem], batch: Int, value: (FetchedMessage) -> Value, placeholder: Value,
        apply: (_ reset: Bool, _ removed: [UInt32], _ added: [UInt32: Value], _ state: SortKeySyncState) async throws -> Void
    ) async throws -> [UInt32: Value] {
        // Taken over, not copied: callers pass a dictionary they no longer use, and a copy of the
        // known values made on the first change was 10 MB beside them at 60,000 messages (heaptrack).
        var values = consume known
        var existing = try await session.uidSearch(.all)
        if let uidNext {
            existing = uidNext > 1 ? existing.intersection(UIDSet(ranges: [1...(uidNext - 1)])) : UIDSet()
        }
        let removed = values.keys.filter { !existing.contains($0) }
        for uid in removed { values[uid] = nil }
        let missing = existing.subtracting(UIDSet(values.keys))
        let state = SortKeySyncState(uidValidity: validity, uidNext: max(uidNext ?? 1, (existing.max ?? 0) + 1), version: version)
        let pieces = missing.split(maxCount: batch)
        if pieces.isEmpty, reset || !removed.isEmpty || previous != state {
            try await apply(reset, removed, [:], state)
        }
        for (index, piece) in pieces.enumerated() {
            var added: [UInt32: Value] = [:]
            for message in try await session.uidFetch(piece, items) {
                guard let uid = message.uid, piece.contains(uid) else { continue }
                added[uid] = value(message)
            }
            for uid in piece.values where added[uid] == nil { added[uid] = placeholder }
            try await apply(reset && index == 0, index == 0 ? removed : [], added, state)
            values.merge(added) { _, new in new }
        }
        return values
    }

    /// Keys from what a partial FETCH answer gave (envelope, internal date or size missing).
    static func fallbackKeys(_ message: FetchedMessage) -> SortKeys {
        if var envelope = message.envelope {
            envelope.withFirstHeaders(of: message)
            return SortKeys(
                envelope: envelope, internalDate: message.internalDate ?? InternalDate(secondsSince1970: 0, zoneMinutes: 0),
                size: message.size ?? 0)
        }
        return SortKeys(subject: [], from: [], to: [], date: message.internalDate?.secondsSince1970 ?? 0, size: message.size ?? 0)
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
