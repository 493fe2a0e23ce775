/// A cached sort order: a folder's UIDs in order, and the folder state it is valid for.
public struct CachedOrder: Hashable, Sendable {
    public var uidValidity: UInt32
    public var token: String
    public var uids: [UInt32]

    public init(uidValidity: UInt32, token: String, uids: [UInt32]) {
        self.uidValidity = uidValidity
        self.token = token
        self.uids = uids
    }
}

/// Where a folder's metadata cache stands.
public struct FolderSyncState: Hashable, Sendable {
    public var uidValidity: UInt32
    public var uidNext: UInt32
    public var highestModSeq: UInt64

    public init(uidValidity: UInt32, uidNext: UInt32, highestModSeq: UInt64) {
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.highestModSeq = highestModSeq
    }
}

/// What the gateway keeps per message to order by flags, importance and attachments.
public struct MessageMeta: Hashable, Sendable {
    public var uid: UInt32
    public var flags: MessageFlags
    public var modSeq: UInt64
    public var importance: Importance
    public var hasAttachment: Bool

    public init(uid: UInt32, flags: MessageFlags, modSeq: UInt64, importance: Importance, hasAttachment: Bool) {
        self.uid = uid
        self.flags = flags
        self.modSeq = modSeq
        self.importance = importance
        self.hasAttachment = hasAttachment
    }
}

/// Where a folder's RFC 5256 sort keys stand: the UIDVALIDITY and UIDNEXT they were read at,
/// and the ``SortKeys/version`` that computed them.
public struct SortKeySyncState: Hashable, Sendable {
    public var uidValidity: UInt32
    public var uidNext: UInt32
    public var version: Int

    public init(uidValidity: UInt32, uidNext: UInt32, version: Int = SortKeys.version) {
        self.uidValidity = uidValidity
        self.uidNext = uidNext
        self.version = version
    }
}

/// The caches behind listings and ranges: sort orders per (folder, field, direction),
/// per-message metadata kept in step incrementally, and (for servers without SORT) each
/// message's RFC 5256 sort keys, which never change for a message.
public protocol ListingCache: Sendable {
    func cachedOrder(account: String, folderId: String, order: MailSortOrder) async throws -> CachedOrder?
    func storeOrder(account: String, folderId: String, order: MailSortOrder, cached: CachedOrder) async throws
    func folderSyncState(account: String, folderId: String) async throws -> FolderSyncState?
    /// One sync step in one transaction: drop `removed` (everything when `reset`), upsert
    /// `changed`, record `state`.
    func applyMetaSync(
        account: String, folderId: String, reset: Bool, removed: [UInt32], changed: [MessageMeta], state: FolderSyncState
    ) async throws
    /// Every cached message of a folder, by UID.
    func messageMeta(account: String, folderId: String) async throws -> [UInt32: MessageMeta]

    func sortKeySyncState(account: String, folderId: String) async throws -> SortKeySyncState?
    /// The cached sort keys of a folder, by UID.
    func sortKeys(account: String, folderId: String) async throws -> [UInt32: SortKeys]
    /// One sort-key sync step in one transaction: drop `removed` (everything when `reset`), add
    /// `added`, record `state`.
    func applySortKeySync(
        account: String, folderId: String, reset: Bool, removed: [UInt32], added: [UInt32: SortKeys], state: SortKeySyncState
    ) async throws
}
