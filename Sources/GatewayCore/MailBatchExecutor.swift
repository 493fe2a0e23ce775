import GatewayStore
import IMAPClient
import IMAPCore
import Logging

/// Carries out a mail batch on one pooled connection: per folder one SELECT, one `UID SEARCH UID`
/// to learn which of the named messages still exist, then as few commands as the line limit allows.
///
/// Every item is failed unless the server confirmed it: COPYUID for copy and move (or, without it,
/// a search showing the source is gone), the tagged OK for flag changes, a search after UID EXPUNGE
/// for permanent deletion. So a stale, unknown, vanished or refused item lands in `failedItems`,
/// and an upstream failure halfway reports the unconfirmed rest as failed rather than guessing.
/// Nothing is expunged but the batch's own UIDs (`UID EXPUNGE`, never `EXPUNGE`).
public struct MailBatchExecutor: Sendable {
    public struct Configuration: Sendable {
        /// Delete moves to Trash (outside Trash) instead of removing permanently.
        public var deleteToTrash: Bool
        /// Most UIDs one command acts on (commands are also split by the line limit).
        public var maxUIDsPerCommand: Int
        /// Most items a batch may resolve to (ids plus range items).
        public var maxItems: Int

        public init(deleteToTrash: Bool = true, maxUIDsPerCommand: Int = 5000, maxItems: Int = 100_000) {
            self.deleteToTrash = deleteToTrash
            self.maxUIDsPerCommand = maxUIDsPerCommand
            self.maxItems = maxItems
        }
    }

    let pool: IMAPConnectionPool
    let database: GatewayDatabase
    let ordering: MailOrdering
    let configuration: Configuration
    let logger: Logger

    public init(
        pool: IMAPConnectionPool, database: GatewayDatabase, ordering: MailOrdering, configuration: Configuration, logger: Logger
    ) {
        self.pool = pool
        self.database = database
        self.ordering = ordering
        self.configuration = configuration
        self.logger = logger
    }

    public func run(_ request: MailBatchRequest, credentials: IMAPCredentials) async throws -> BatchOutcome {
        var keyword: Flag?
        switch request.operation {
        case .addLabel(let labelId), .removeLabel(let labelId):
            guard let label = try await database.label(account: credentials.user, id: labelId) else {
                throw GatewayError.notFound("labelNotFound", "no label with id \(labelId)", field: "labelId")
            }
            keyword = Flag(label.keyword)
        default:
            break
        }
        return try await pool.withConnection(credentials) { connection in
            let directory = try await MailboxDirectory.load(connection: connection, database: database, account: credentials.user)
            let (ids, badStarts) = try await resolve(request, directory: directory, account: credentials.user, connection: connection)
            guard ids.count <= configuration.maxItems else {
                throw GatewayError.tooLarge(
                    "tooManyItems", "the batch resolves to \(ids.count) items; at most \(configuration.maxItems) are allowed")
            }
            let plan = BatchPlan(ids: ids)
            var run = Run(
                plan: plan, operation: request.operation, keyword: keyword, connection: connection,
                configuration: configuration, logger: logger)
            try run.prepare(directory)
            do {
                for group in plan.folders { try await run.process(group, directory: directory) }
            } catch let error as IMAPError where run.changedSomething {
                // Part of the batch was carried out: report the unconfirmed rest as failed.
                logger.warning("batch interrupted by an upstream failure", metadata: ["error": "\(error)"])
            } catch let error as IMAPError {
                throw GatewayError(error)
            }
            let failed = plan.ordered(Set(plan.distinctIDs).subtracting(run.confirmed))
            let outcome = BatchOutcome(failedItems: badStarts + failed.filter { !badStarts.contains($0) }, newIds: run.newIds)
            ordering.metrics.increment(.batchRequests)
            ordering.metrics.increment(.batchItems, by: plan.distinctIDs.count + badStarts.count)
            ordering.metrics.increment(.batchFailedItems, by: outcome.failedItems.count)
            return outcome
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

/// The state of one batch while it runs.
private struct Run {
    let plan: BatchPlan
    let operation: MailBatchOperation
    let keyword: Flag?
    let connection: IMAPConnection
    let configuration: MailBatchExecutor.Configuration
    let logger: Logger
    var destination: FolderInfo?
    var confirmed = Set<String>()
    var newIds: [String: String] = [:]
    var changedSomething = false

    init(
        plan: BatchPlan, operation: MailBatchOperation, keyword: Flag?, connection: IMAPConnection,
        configuration: MailBatchExecutor.Configuration, logger: Logger
    ) {
        self.plan = plan
        self.operation = operation
        self.keyword = keyword
        self.connection = connection
        self.configuration = configuration
        self.logger = logger
    }

    /// Request-level checks that must pass before anything changes.
    mutating func prepare(_ directory: MailboxDirectory) throws {
        let caps = connection.capabilities
        let canMove = caps.contains(.move) || caps.contains(.uidPlus)
        switch operation {
        case .copy(let id), .move(let id):
            guard let folder = directory.folder(id: id), folder.selectable else {
                throw GatewayError.notFound("folderNotFound", "no folder with id \(id)", field: "destinationFolderId")
            }
            destination = folder
            if case .move = operation, !canMove {
                throw GatewayError.upstreamUnsupported("the IMAP server offers neither MOVE nor UIDPLUS: a move could not expunge exactly the moved messages")
            }
        case .delete:
            let folders = plan.folders.compactMap { directory.folder(id: $0.folderId) }
            let permanent = folders.contains { !configuration.deleteToTrash || directory.isInTrash($0) }
            let toTrash = folders.contains { configuration.deleteToTrash && !directory.isInTrash($0) }
            if permanent && !caps.contains(.uidPlus) {
                throw GatewayError.upstreamUnsupported("the IMAP server lacks UIDPLUS: permanent deletion could expunge messages outside the batch")
            }
            if toTrash {
                guard let trash = directory.trash else {
                    throw GatewayError.unprocessable("noTrashFolder", "the account has no Trash folder (SPECIAL-USE \\Trash)")
                }
                guard canMove else {
                    throw GatewayError.upstreamUnsupported("the IMAP server offers neither MOVE nor UIDPLUS: cannot move to Trash safely")
                }
                destination = trash
            }
        case .update, .addLabel, .removeLabel:
            break
        }
    }

    mutating func process(_ group: BatchPlan.FolderItems, directory: MailboxDirectory) async throws {
        guard let folder = directory.folder(id: group.folderId), folder.selectable else { return }
        let selected: SelectedMailbox
        do {
            selected = try await connection.select(folder.mailbox)
        } catch IMAPError.commandFailed(_, _, let text) {
            logger.info("folder cannot be selected; its items fail", metadata: ["reason": "\(text.text)"])
            return
        }
        guard selected.uidValidity == group.uidValidity else { return }  // stale IDs
        let existing = try await connection.uidSearch(.uid(group.uids))
        guard !existing.isEmpty else { return }

        switch operation {
        case .copy:
            try await transfer(existing, group: group, from: folder, move: false)
        case .move:
            if destination?.id == folder.id {
                confirm(group.clientIDs(existing))  // already there: nothing to do
            } else {
                try await transfer(existing, group: group, from: folder, move: true)
            }
        case .delete:
            if configuration.deleteToTrash && !directory.isInTrash(folder) {
                try await transfer(existing, group: group, from: folder, move: true, reportNewIds: false)
            } else {
                try await expunge(existing, group: group)
            }
        case .update(let isUnread, let isFlagged):
            var changes: [(StoreOperation, Flag)] = []
            if let isUnread { changes.append((isUnread ? .remove : .add, .seen)) }
            if let isFlagged { changes.append((isFlagged ? .add : .remove, .flagged)) }
            try await store(existing, group: group, changes: changes, selected: selected)
        case .addLabel, .removeLabel:
            guard let keyword else { return }
            if case .addLabel = operation {
                try await store(existing, group: group, changes: [(.add, keyword)], selected: selected)
            } else {
                try await store(existing, group: group, changes: [(.remove, keyword)], selected: selected)
            }
        }
    }

    private mutating func confirm(_ ids: [String]) { confirmed.formUnion(ids) }

    /// Pieces of `uids` that each fit one command line (and `maxUIDsPerCommand`).
    private func chunks(_ uids: UIDSet, _ command: (UIDSet) -> Command) -> [UIDSet] {
        var pieces: [UIDSet] = []
        for part in uids.split(maxCount: configuration.maxUIDsPerCommand) {
            let commands = (try? CommandEncoder().split(command(part), maxLineLength: connection.maxCommandLineLength)) ?? [command(part)]
            pieces.append(contentsOf: commands.compactMap(\.uidSet))
        }
        return pieces
    }

    /// COPY or MOVE (MOVE, else COPY + `\Deleted` + UID EXPUNGE of the copied UIDs).
    private mutating func transfer(
        _ uids: UIDSet, group: BatchPlan.FolderItems, from folder: FolderInfo, move: Bool, reportNewIds: Bool = true
    ) async throws {
        guard let destination else { return }
        let useMove = move && connection.capabilities.contains(.move)
        for chunk in chunks(uids, { useMove ? .uidMove($0, destination.mailbox) : .uidCopy($0, destination.mailbox) }) {
            let result: CopyResult
            do {
                result = useMove ? try await connection.uidMove(chunk, to: destination.mailbox) : try await connection.uidCopy(chunk, to: destination.mailbox)
                changedSomething = true
            } catch IMAPError.commandFailed(let command, _, let text) {
                logger.info("upstream refused a chunk", metadata: ["command": "\(command)", "reason": "\(text.text)"])
                if useMove { try await confirmGone(chunk, group: group) }
                continue
            }
            var done = result.copiedSourceUIDs
            if result.newUIDs.isEmpty {
                // No COPYUID (server without UIDPLUS): a MOVE is confirmed by the source being gone, a COPY by OK.
                done = useMove ? chunk.subtracting(try await connection.uidSearch(.uid(chunk))) : chunk
            }
            if move && !useMove {
                // Fallback: expunge exactly the copied originals.
                try await connection.uidStore(done, .add, flags: [.deleted])
                try await connection.uidExpunge(done)
                done = done.subtracting(try await connection.uidSearch(.uid(done)))
            }
            confirm(group.clientIDs(done))
            if reportNewIds, let validity = result.uidValidity {
                for uid in done.values {
                    if let old = group.ids[uid], let new = result.newUIDs[uid] {
                        newIds[old] = MailID(folderId: destination.id, uidValidity: validity, uid: new).encoded
                    }
                }
            }
        }
    }

    /// Permanent removal: `\Deleted` on exactly these UIDs, then `UID EXPUNGE` of exactly these UIDs.
    private mutating func expunge(_ uids: UIDSet, group: BatchPlan.FolderItems) async throws {
        for chunk in chunks(uids, { .uidExpunge($0) }) {
            do {
                try await connection.uidStore(chunk, .add, flags: [.deleted])
                changedSomething = true
                try await connection.uidExpunge(chunk)
            } catch IMAPError.commandFailed(let command, _, let text) {
                logger.info("upstream refused a chunk", metadata: ["command": "\(command)", "reason": "\(text.text)"])
            }
            let remaining = try await connection.uidSearch(.uid(chunk))
            if !remaining.isEmpty {
                // Not removed: take back the \Deleted we set, so a later EXPUNGE elsewhere cannot remove them.
                _ = try? await connection.uidStore(remaining, .remove, flags: [.deleted])
            }
            confirm(group.clientIDs(chunk.subtracting(remaining)))
        }
    }

    /// Flag and keyword changes; a folder whose PERMANENTFLAGS refuse a flag fails its items.
    private mutating func store(
        _ uids: UIDSet, group: BatchPlan.FolderItems, changes: [(StoreOperation, Flag)], selected: SelectedMailbox
    ) async throws {
        guard changes.allSatisfy({ selected.allowsPermanent($0.1) }) else {
            logger.info("folder does not allow the flags permanently; its items fail")
            return
        }
        for chunk in chunks(uids, { .uidStore($0, .add, flags: changes.map(\.1), silent: true, unchangedSince: nil) }) {
            var ok = true
            for (operation, flag) in changes {
                do {
                    try await connection.uidStore(chunk, operation, flags: [flag])
                    changedSomething = true
                } catch IMAPError.commandFailed(let command, _, let text) {
                    logger.info("upstream refused a chunk", metadata: ["command": "\(command)", "reason": "\(text.text)"])
                    ok = false
                }
            }
            if ok { confirm(group.clientIDs(chunk)) }
        }
    }

    /// After a refused MOVE, the messages that are no longer in the source did move.
    private mutating func confirmGone(_ chunk: UIDSet, group: BatchPlan.FolderItems) async throws {
        let still = try await connection.uidSearch(.uid(chunk))
        confirm(group.clientIDs(chunk.subtracting(still)))
    }
}
