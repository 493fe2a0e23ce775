import GatewayStore
import IMAPClient
import IMAPCore
import Logging

/// Carries out mail batches: resolves `ids` and `ranges` to mail IDs, then either runs the batch
/// at once on one pooled connection or, above `asyncThreshold` items, hands it to ``JobService``.
///
/// Per folder: one SELECT, one `UID SEARCH UID` to learn which of the named messages still exist,
/// then as few commands as the line limit allows (``BatchWork``). Every item is failed unless the
/// server confirmed it: COPYUID for copy and move (or, without it, a search showing the source gone),
/// the tagged OK for flag changes, a search after UID EXPUNGE for permanent deletion. Nothing is
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
        /// UIDs per chunk of a job (progress is recorded per chunk).
        public var jobChunkSize: Int

        public init(
            deleteToTrash: Bool = true, maxUIDsPerCommand: Int = 5000, maxItems: Int = 100_000, asyncThreshold: Int = 1000,
            jobChunkSize: Int = 1000
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

    let pool: IMAPConnectionPool
    let database: GatewayDatabase
    let ordering: MailOrdering
    let jobs: JobService?
    let configuration: Configuration
    let logger: Logger

    public init(
        pool: IMAPConnectionPool, database: GatewayDatabase, ordering: MailOrdering, jobs: JobService? = nil,
        configuration: Configuration, logger: Logger
    ) {
        self.pool = pool
        self.database = database
        self.ordering = ordering
        self.jobs = jobs
        self.configuration = configuration
        self.logger = logger
    }

    /// Runs a batch now, or as a job when it resolves to more than `asyncThreshold` items.
    public func submit(_ request: MailBatchRequest, credentials: IMAPCredentials) async throws -> Result {
        let keyword = try await Self.keyword(for: request.operation, account: credentials.user, database: database)
        enum Next: Sendable {
            case done(BatchOutcome)
            case job(ids: [String], badStarts: [String])
        }
        let next: Next = try await pool.withConnection(credentials) { connection in
            let directory = try await MailboxDirectory.load(connection: connection, database: database, account: credentials.user)
            let (ids, badStarts) = try await resolve(request, directory: directory, account: credentials.user, connection: connection)
            guard ids.count <= configuration.maxItems else {
                throw GatewayError.tooLarge(
                    "tooManyItems", "the batch resolves to \(ids.count) items; at most \(configuration.maxItems) are allowed")
            }
            let plan = BatchPlan(ids: ids)
            var work = BatchWork(
                operation: request.operation, keyword: keyword, connection: connection, configuration: configuration, logger: logger)
            try work.prepare(directory, plan: plan)
            if jobs != nil, plan.distinctIDs.count > configuration.asyncThreshold {
                return .job(ids: plan.distinctIDs, badStarts: badStarts)
            }
            return .done(try await runNow(plan, badStarts: badStarts, work: &work, directory: directory))
        }
        switch next {
        case .done(let outcome):
            return .completed(outcome)
        case .job(let ids, let badStarts):
            guard let jobs else { throw GatewayError(status: 500, code: "internalError", message: "no job service") }
            return .started(try await jobs.submit(operation: request.operation, ids: ids, failed: badStarts, credentials: credentials))
        }
    }

    private func runNow(_ plan: BatchPlan, badStarts: [String], work: inout BatchWork, directory: MailboxDirectory) async throws -> BatchOutcome {
        var confirmed = Set<String>()
        var newIds: [String: String] = [:]
        do {
            for group in plan.folders {
                for chunk in try await work.plan(group, directory: directory, maxUIDs: configuration.maxUIDsPerCommand) {
                    let result = try await work.execute(chunk, resuming: false, destinationUIDNext: nil)
                    confirmed.formUnion(chunk.clientIDs(result.confirmed.values))
                    Self.collectNewIds(chunk, result, into: &newIds)
                }
            }
        } catch let error as IMAPError where work.changedSomething {
            // Part of the batch was carried out: report the unconfirmed rest as failed.
            logger.warning("batch interrupted by an upstream failure", metadata: ["error": "\(error)"])
        } catch let error as IMAPError {
            throw GatewayError(error)
        }
        let failed = plan.ordered(Set(plan.distinctIDs).subtracting(confirmed))
        let outcome = BatchOutcome(failedItems: badStarts + failed.filter { !badStarts.contains($0) }, newIds: newIds)
        ordering.metrics.increment(.batchRequests)
        ordering.metrics.increment(.batchItems, by: plan.distinctIDs.count + badStarts.count)
        ordering.metrics.increment(.batchFailedItems, by: outcome.failedItems.count)
        return outcome
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

    /// The keyword of a label operation (404 for an unknown label), checked before any IMAP work.
    static func keyword(for operation: MailBatchOperation, account: String, database: GatewayDatabase) async throws -> Flag? {
        switch operation {
        case .addLabel(let labelId), .removeLabel(let labelId):
            guard let label = try await database.label(account: account, id: labelId) else {
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
        _ request: MailBatchRequest, directory: MailboxDirectory, account: String, connection: IMAPConnection
    ) async throws -> (ids: [String], badStarts: [String]) {
        guard !request.ranges.isEmpty, let order = request.order else { return (request.ids, []) }
        var ids = request.ids
        var badStarts: [String] = []
        var orders: [String: (uidValidity: UInt32, uids: [UInt32], positions: [UInt32: Int])] = [:]
        for range in request.ranges {
            guard let start = MailID(range.start), let folder = directory.folder(id: start.folderId), folder.selectable else {
                badStarts.append(range.start)
                continue
            }
            if orders[folder.id] == nil {
                let (validity, uids) = try await ordering.uids(in: folder, order: order, account: account, connection: connection)
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
            let end = min(listing.uids.count, index + range.limit)
            ids += listing.uids[index..<end].map { MailID(folderId: folder.id, uidValidity: listing.uidValidity, uid: $0).encoded }
        }
        return (ids, badStarts)
    }
}
