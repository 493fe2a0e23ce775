import IMAPCore
import Synchronization

/// The account's folders as last listed, kept for a few seconds (`listing.folderListSeconds`), so
/// listings and batches need no LIST per request: it was a third of the IMAP commands of a small
/// update. `GET /api/v1/folders` always lists afresh (and refreshes this), and a folder ID the kept
/// list does not know sends the request back to the server at once, so a folder made elsewhere is
/// found. A folder deleted or renamed meanwhile fails its SELECT, so its items fail as they would
/// after a fresh LIST; stale mail IDs still fail on UIDVALIDITY.
public final class FolderListCache: Sendable {
    let store: any FolderStore
    let maxAge: Duration
    let metrics: GatewayMetrics
    private let entries = Mutex<[String: Entry]>([:])

    private struct Entry {
        var directory: MailboxDirectory
        var listedAt: ContinuousClock.Instant
    }

    /// Accounts kept at most; past it, lists older than `maxAge` go, then all.
    static let maxAccounts = 10_000

    /// - Parameter maxAge: how long a LIST is reused; zero lists on every request.
    public init(store: any FolderStore, maxAge: Duration, metrics: GatewayMetrics = GatewayMetrics()) {
        self.store = store
        self.maxAge = maxAge
        self.metrics = metrics
    }

    /// The account's folders: the kept list while it is younger than `maxAge` and knows every one of
    /// `folderIds`, else a fresh LIST.
    public func directory(
        session: any MailSession, account: String, covering folderIds: some Sequence<String>
    ) async throws -> MailboxDirectory {
        if maxAge > .zero, let entry = entries.withLock({ $0[account] }), ContinuousClock.now - entry.listedAt < maxAge,
            folderIds.allSatisfy({ entry.directory.folder(id: $0) != nil })
        {
            metrics.increment(.folderListCacheHits)
            return entry.directory
        }
        metrics.increment(.folderListCacheMisses)
        return try await list(session: session, account: account)
    }

    /// A fresh LIST (with STATUS where asked), kept for the next requests.
    public func list(session: any MailSession, account: String, status: [StatusItem] = []) async throws -> MailboxDirectory {
        let listedAt = ContinuousClock.now
        let directory = try await MailboxDirectory.load(session: session, store: store, account: account, status: status)
        guard maxAge > .zero else { return directory }
        entries.withLock { entries in
            if entries[account] == nil, entries.count >= Self.maxAccounts {
                entries = entries.filter { listedAt - $0.value.listedAt < maxAge }
                if entries.count >= Self.maxAccounts { entries = [:] }
            }
            entries[account] = Entry(directory: directory, listedAt: listedAt)
        }
        return directory
    }
}
