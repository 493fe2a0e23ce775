import IMAPCore
import Logging
import Tracing

/// Carries out mail batches: resolves `ids` and `ranges` to mail IDs, then either runs the batch
/// at once on one pooled connection or, above `asyncThreshold` items, hands it to ``JobService``.
///
/// Per folder: one SELECT, one `UID SEARCH UID` to learn which of the named messages still exist
/// (not for flag changes), then as few commands as the line limit allows (``BatchWork``). Every
/// item is failed unless the server confirmed it: COPYUID for copy and move (or, without it, a
/// search showing the source gone), for flag changes the STORE's FETCH answer or else a search
/// showing the message there, a search after UID EXPUNGE for permanent deletion. Nothing is
/// expunged but the batch's own UIDs (`UID EXPUNGE`, never `EXPUNGE`).
public struct MailBatchExecutor: Sendable {
    public struct Configuration: Sendable {
        /// Delete moves to Trash (outside Trash) instead of removing permanently.
        public var deleteToTrash: Bool
        /// Most UIDs one command acts on in a synchronous batch (commands are also split by the line limit).
        public var maxUIDsPerCommand: Int
        /// Most items a batch may resolve to (ids plus range items).
        public var maxItems: Int
        /// Batches resolving to more items run as jobs.
        public var asyncThreshold: Int
        /// UIDs per chunk of a job: one IMAP command each where the server offers SEARCHRES (else also
        /// split by the line limit); progress is recorded per chunk. Large, because servers spend most
        /// of an expunging command's time per command (SPEC §7).
        public var jobChunkSize: Int

        public init(
            deleteToTrash: Bool = true, maxUIDsPerCommand: Int = 5000, maxItems: Int = 100_000, asyncThreshold: Int = 1000,
            jobChunkSize: Int = 10_000
        ) {
            self.deleteToTrash = deleteToTrash
            self.maxUIDsPerCommand = maxUIDsPerCommand
            self.maxItems = maxItems
            self.asyncThreshold = asyncThreshold
            self.jobChunkSize = jobChunkSize
        }
    }

    /// A batch's answer: done now, or running as a job.
    public enum Result: Sendable {
        case completed(BatchOutcome)
        case started(JobStatus)
    }

    let mailServer: any MailServer
    let folderLists: FolderListCache
    let labels: any LabelStore
    let ordering: MailOrdering
    let jobs: JobService?
    let configuration: Configuration
    let logger: Logger

    public init(
        mailServer: any MailServer, folderLists: FolderListCache, labels: any LabelStore, ordering: MailOrdering,
        jobs: JobService? = nil, configuration: Configuration, logger: Logger
    ) {
        self.mailServer = mailServer
        self.folderLists = folderLists
        self.labels = labels
        self.ordering = ordering
        self.jobs = jobs
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs a batch now, or as a job when it resolves to more than `asyncThreshold` items.
    /// A span of the request's trace (`batch mails move`): the IMAP commands are spans within it.
    public func submit(_ request: MailBatchRequest, credentials: AccountCredentials) async throws -> Result {
        try await withSpan("batch mails \(request.operation.name)") { span in
            span.attributes["batch.ids"] = request.ids.count
            span.attributes["batch.ranges"] = request.ranges.count
            return try await submit(request, credentials: credentials, failed: [], aliases: [:])
        }
    }

    /// Runs a batch of already resolved items for another kind of batch (conversations): `failed`
    /// are the client's items that failed while resolving, and `aliases` give the client's ID of
    /// a mail ID (failed items are reported by those, each once).
    func submit(
        _ request: MailBatchRequest, credentials: AccountCredentials, failed: [String], aliases: [String: String]
    ) async throws -> Result {
        let keyword = try await Self.keyword(for: request.operation, account: credentials.user, labels: labels)
        enum Next: Sendable {
            case run(BatchPlan, badStarts: [String], directory: MailboxDirectory)
            case job(ids: [String], badStarts: [String])
        }
        let next: Next = try await mailServer.withSession(credentials) { session in
            // Flag and label changes may use a recent LIST; a copy, move or delete lists afresh, so
            // its destination (or Trash) is checked against the server as it is now.
            let directory =
                request.operation.changesFlagsOnly
                ? try await folderLists.directory(session: session, account: credentials.user, covering: Self.folderIds(of: request))
                : try await folderLists.list(session: session, account: credentials.user)
            let (ids, badStarts) = try await resolve(request, directory: directory, account: credentials.user, session: session)
            let plan = BatchPlan(ids: ids)
            var work = BatchWork(
                operation: request.operation, keyword: keyword, session: session, configuration: configuration, logger: logger)
            try await work.prepare(directory, plan: plan)
            if jobs != nil, plan.distinctIDs.count > configuration.asyncThreshold {
                return .job(ids: plan.distinctIDs, badStarts: badStarts)
            }
            return .run(plan, badStarts: badStarts, directory: directory)
        }
        switch next {
        case .run(let plan, let badStarts, let directory):
            var outcome = try await runNow(
                plan, badStarts: failed + badStarts, directory: directory, operation: request.operation, keyword: keyword,
                credentials: credentials)
            outcome.failedItems = BatchOutcome.aliased(outcome.failedItems, aliases: aliases)
            return .completed(outcome)
        case .job(let ids, let badStarts):
            guard let jobs else { throw GatewayError.internalError }
            return .started(
                try await jobs.submit(
                    operation: request.operation, ids: ids, failed: failed + badStarts, aliases: aliases, credentials: credentials))
        }
    }

    /// Where a synchronous batch stands: folders not yet planned, chunks planned but not sent, the
    /// chunk in flight (sent, outcome unknown), and what the server confirmed so far.
    struct Progress {
        var folders: ArraySlice<BatchPlan.FolderItems>
        var planned: ArraySlice<BatchChunk> = []
        var inFlight: (chunk: BatchChunk, destinationUIDNext: UInt32?)?
        var confirmed = Set<String>()
        var newIds: [String: String] = [:]
        /// Whether a command that changes mailboxes was sent (even if its answer never came).
        var mayHaveChanged = false
    }

    /// How often a synchronous batch re-connects after its connection broke mid-batch.
    static let recoveryAttempts = 2

    /// Carries out a planned batch. If the connection breaks, the batch goes on over a fresh one,
    /// and a chunk whose answer was lost is re-derived from the mailboxes first, exactly as a job
    /// resumes after a crash (``BatchWork``): a copy whose COPYUID never arrived is not made twice,
    /// a delete does not leave `\Deleted` behind, and the answer tells what really happened.
    private func runNow(
        _ plan: BatchPlan, badStarts: [String], directory: MailboxDirectory, operation: MailBatchOperation, keyword: Flag?,
        credentials: AccountCredentials
    ) async throws -> BatchOutcome {
        var progress = Progress(folders: plan.folders[...])
        var attempt = 0
        while true {
            do {
                try await mailServer.withSession(credentials) { session in
                    var work = BatchWork(
                        operation: operation, keyword: keyword, session: session, configuration: configuration, logger: logger)
                    try await work.prepare(directory, plan: plan)
                    try await run(&progress, work: &work, directory: directory)
                }
                break
            } catch let error as MailServerError where progress.mayHaveChanged && error.brokeConnection && attempt < Self.recoveryAttempts {
                attempt += 1
                logger.warning(
                    "connection broke during a batch; resuming on a fresh one", metadata: ["error": "\(error)", "attempt": "\(attempt)"])
            } catch let error as MailServerError where progress.mayHaveChanged {
                guard error.brokeConnection else {
                    // The server refused a step after others were done: the unconfirmed rest fails.
                    logger.warning("batch interrupted by an upstream refusal", metadata: ["error": "\(error)"])
                    break
                }
                throw GatewayError(
                    .upstreamFailed, code: "upstreamInterrupted",
                    message: "the IMAP connection broke repeatedly while changes were in flight; some items may have been "
                        + "carried out: list the folders before retrying (\(error))")
            } catch let error as MailServerError {
                throw GatewayError(error)
            }
        }
        let failed = plan.ordered(Set(plan.distinctIDs).subtracting(progress.confirmed))
        let outcome = BatchOutcome(failedItems: badStarts + failed.filter { !badStarts.contains($0) }, newIds: progress.newIds)
        ordering.metrics.increment(.batchRequests)
        ordering.metrics.increment(.batchItems, by: plan.distinctIDs.count + badStarts.count)
        ordering.metrics.increment(.batchFailedItems, by: outcome.failedItems.count)
        return outcome
    }

    private func run(_ progress: inout Progress, work: inout BatchWork, directory: MailboxDirectory) async throws {
        while true {
            if let (chunk, destinationUIDNext) = progress.inFlight {
                // The answer to this chunk was lost with the old connection: re-derive what it did.
                let result = try await work.execute(chunk, resuming: true, destinationUIDNext: destinationUIDNext)
                collect(chunk, result, into: &progress)
                continue
            }
            if let chunk = progress.planned.first {
                var destinationUIDNext: UInt32?
                if case .transfer(let move, _, let mailbox, _) = chunk.action, !(move && work.usesServerMove) {
                    destinationUIDNext = try await work.session.status(MailboxName(wire: mailbox), [.uidNext]).uidNext
                }
                progress.planned.removeFirst()
                progress.inFlight = (chunk, destinationUIDNext)
                if case .none = chunk.action {} else { progress.mayHaveChanged = true }
                let result = try await work.execute(chunk, resuming: false, destinationUIDNext: destinationUIDNext)
                collect(chunk, result, into: &progress)
                continue
            }
            guard let group = progress.folders.first else { return }
            progress.planned = try await work.plan(group, directory: directory, maxUIDs: configuration.maxUIDsPerCommand)[...]
            progress.folders.removeFirst()
        }
    }

    private func collect(_ chunk: BatchChunk, _ result: ChunkResult, into progress: inout Progress) {
        progress.inFlight = nil
        progress.confirmed.formUnion(chunk.clientIDs(result.confirmed.values))
        Self.collectNewIds(chunk, result, into: &progress.newIds)
    }

    static func collectNewIds(_ chunk: BatchChunk, _ result: ChunkResult, into newIds: inout [String: String]) {
        guard case .transfer(_, let destinationId, _, true) = chunk.action, let validity = result.destinationUIDValidity else { return }
        for uid in result.confirmed.values {
            if let new = result.newUIDs[uid] {
                newIds[MailID(folderId: chunk.folderId, uidValidity: chunk.uidValidity, uid: uid).encoded] =
                    MailID(folderId: destinationId, uidValidity: validity, uid: new).encoded
            }
        }
    }

    /// The folders of a batch's IDs and range starts.
    static func folderIds(of request: MailBatchRequest) -> Set<String> {
        var ids = Set(request.ids.compactMap { MailID($0)?.folderId })
        for range in request.ranges { if let start = MailID(range.start) { ids.insert(start.folderId) } }
        return ids
    }

    /// The keyword of a label operation (404 for an unknown label), checked before any IMAP work.
    static func keyword(for operation: MailBatchOperation, account: String, labels: any LabelStore) async throws -> Flag? {
        switch operation {
        case .addLabel(let labelId), .removeLabel(let labelId):
            guard let label = try await labels.label(account: account, id: labelId) else {
                throw GatewayError.notFound("labelNotFound", "no label with id \(labelId)", field: "labelId")
            }
            return Flag(label.keyword)
        default:
            return nil
        }
    }

    /// The IDs a batch names: its `ids`, then each range's items in listing order (the same
    /// ordering function as `GET /api/v1/mails`). A range whose `start` is not in its folder
    /// (unknown, stale or gone) resolves to nothing, and its start ID is reported failed.
    private func resolve(
        _ request: MailBatchRequest, directory: MailboxDirectory, account: String, session: any MailSession
    ) async throws -> (ids: [String], badStarts: [String]) {
        // The limit is checked as items are added, so a request of 100 ranges × 100,000 stops at the
        // first item over the limit instead of being resolved whole first (issue 13, finding 5).
        var distinct = Set<String>()
        func admit(_ id: String) throws -> Bool {
            guard distinct.insert(id).inserted else { return false }
            guard distinct.count <= configuration.maxItems else {
                throw GatewayError.tooLarge(
                    "tooManyItems", "the batch resolves to more than \(configuration.maxItems) items, the most allowed")
            }
            return true
        }
        var ids: [String] = []
        ids.reserveCapacity(min(request.ids.count, configuration.maxItems))
        for id in request.ids where try admit(id) { ids.append(id) }
        guard !request.ranges.isEmpty, let order = request.order else { return (ids, []) }
        var badStarts: [String] = []
        var orders: [String: (uidValidity: UInt32, uids: [UInt32], positions: [UInt32: Int])] = [:]
        for range in request.ranges {
            guard let start = MailID(range.start), let folder = directory.folder(id: start.folderId), folder.selectable else {
                badStarts.append(range.start)
                continue
            }
            if orders[folder.id] == nil {
                let (validity, uids) = try await ordering.uids(in: folder, order: order, account: account, session: session)
                var positions: [UInt32: Int] = [:]
                positions.reserveCapacity(uids.count)
                for (index, uid) in uids.enumerated() { positions[uid] = index }
                orders[folder.id] = (validity, uids, positions)
            }
            guard let listing = orders[folder.id], listing.uidValidity == start.uidValidity,
                let index = listing.positions[start.uid]
            else {
                badStarts.append(range.start)
                continue
            }
            let end = index + min(listing.uids.count - index, max(range.limit, 0))
            for uid in listing.uids[index..<end] {
                let id = MailID(folderId: folder.id, uidValidity: listing.uidValidity, uid: uid).encoded
                if try admit(id) { ids.append(id) }
            }
        }
        return (ids, badStarts)
    }
}
