import IMAPCore
import Logging

/// The work of one batch on one connection: checks that must pass before anything changes,
/// planning per folder into chunks, and carrying out a chunk — fresh, or resumed after a crash.
///
/// Resuming is safe step by step, because each chunk's effect can be re-derived from the mailboxes:
/// - MOVE: messages of the chunk no longer in the source were moved; only those still there are moved.
/// - COPY is not idempotent: before a copy chunk starts, the destination's UIDNEXT is recorded; on
///   resume, messages already copied are recognised among the destination's UIDs at or above it
///   (same Message-ID and size) and only the others are copied. A message without a Message-ID
///   cannot be recognised and may be copied twice; that is the one case left.
/// - The COPY + `\Deleted` + UID EXPUNGE fallback finishes whichever step is left: sources already
///   gone are done; copies are recognised as above; `\Deleted` and UID EXPUNGE of exactly the
///   copied sources are repeated, which is idempotent.
/// - Permanent delete and flag changes are idempotent on exactly the chunk's UIDs: they are redone.
struct BatchWork {
    let operation: MailBatchOperation
    let keyword: Flag?
    let session: any MailSession
    let configuration: MailBatchExecutor.Configuration
    let logger: Logger
    var destination: FolderInfo?
    /// Use the server's MOVE when offered; false takes the COPY + `\Deleted` + UID EXPUNGE path
    /// even on a server with MOVE (the path servers without MOVE need; tests exercise it so).
    var useServerMove = true

    init(
        operation: MailBatchOperation, keyword: Flag?, session: any MailSession,
        configuration: MailBatchExecutor.Configuration, logger: Logger
    ) {
        self.operation = operation
        self.keyword = keyword
        self.session = session
        self.configuration = configuration
        self.logger = logger
    }

    /// Whether a move chunk is one `UID MOVE` (else COPY + `\Deleted` + UID EXPUNGE, which needs the
    /// destination's UIDNEXT recorded first to be resumable).
    var usesServerMove: Bool { useServerMove && session.capabilities.contains(.move) }

    /// Request-level checks that must pass before anything changes.
    mutating func prepare(_ directory: MailboxDirectory, plan: BatchPlan) async throws {
        let caps = session.capabilities
        let canMove = caps.contains(.move) || caps.contains(.uidPlus)
        switch operation {
        case .copy(let id), .move(let id):
            guard let folder = directory.folder(id: id) else {
                throw GatewayError.notFound("folderNotFound", "no folder with id \(id)", field: "destinationFolderId")
            }
            guard folder.selectable else { throw GatewayError.folderNotSelectable(folder, field: "destinationFolderId") }
            destination = folder
            if case .move = operation, !canMove {
                throw GatewayError.upstreamUnsupported(
                    "the IMAP server offers neither MOVE nor UIDPLUS: a move could not expunge exactly the moved messages")
            }
        case .delete:
            let folders = plan.folders.compactMap { directory.folder(id: $0.folderId) }
            let permanent = folders.contains { !configuration.deleteToTrash || directory.isInTrash($0) }
            let toTrash = folders.contains { configuration.deleteToTrash && !directory.isInTrash($0) }
            if permanent && !caps.contains(.uidPlus) {
                throw GatewayError.upstreamUnsupported(
                    "the IMAP server lacks UIDPLUS: permanent deletion could expunge messages outside the batch")
            }
            if toTrash {
                guard let trash = directory.trash else {
                    throw GatewayError.unprocessable("noTrashFolder", "the account has no Trash folder (SPECIAL-USE \\Trash)")
                }
                guard canMove else {
                    throw GatewayError.upstreamUnsupported(
                        "the IMAP server offers neither MOVE nor UIDPLUS: cannot move to Trash safely")
                }
                destination = trash
            }
        case .addLabel, .removeLabel:
            try await requireKeywordsKept(directory, plan: plan)
        case .update, .conversationUpdate:
            break
        }
    }

    /// A label is a keyword: a server that keeps none in any folder of the batch (PERMANENTFLAGS
    /// without `\*`, as GNU Mailutils imap4d) refuses the label batch with a clear error before
    /// anything changes. One SELECT per folder, until one keeps keywords (the planning reuses the
    /// selection); where only some folders keep them, the others' items fail.
    private func requireKeywordsKept(_ directory: MailboxDirectory, plan: BatchPlan) async throws {
        guard let keyword else { return }
        var refusing: [String] = []
        for group in plan.folders {
            guard let folder = directory.folder(id: group.folderId), folder.selectable,
                let selected = try await refusable({ try await session.select(folder.mailbox) })
            else { continue }
            if selected.allowsPermanent(keyword) { return }
            refusing.append(folder.id)
        }
        guard !refusing.isEmpty else { return }
        let folders = refusing.prefix(3).joined(separator: ", ") + (refusing.count > 3 ? ", …" : "")
        throw GatewayError.upstreamUnsupported(
            "the IMAP server keeps no keywords in folder \(folders) (PERMANENTFLAGS lacks \\*): labels cannot be set or removed there")
    }

    /// Plans one folder's items: one SELECT, a check of UIDVALIDITY (stale IDs fail), one
    /// `UID SEARCH UID` (vanished IDs fail; flag changes skip it and learn this from their STORE),
    /// then chunks of at most `maxUIDs` that are one command each. Items not in any chunk have failed.
    func plan(_ group: BatchPlan.FolderItems, directory: MailboxDirectory, maxUIDs: Int) async throws -> [BatchChunk] {
        guard let folder = directory.folder(id: group.folderId), folder.selectable else { return [] }
        let selected: SelectedMailbox
        do {
            selected = try await session.select(folder.mailbox)
        } catch let error as MailServerError where error.kind == .refused {
            logger.info("folder cannot be selected; its items fail", metadata: ["reason": "\(error)"])
            return []
        }
        guard selected.uidValidity == group.uidValidity else { return [] }  // stale IDs

        let action: BatchChunk.Action
        switch operation {
        case .copy, .move:
            guard let destination else { return [] }
            let move: Bool
            if case .move = operation { move = true } else { move = false }
            action =
                move && destination.id == folder.id
                ? .none
                : .transfer(move: move, destinationId: destination.id, destinationMailbox: destination.mailbox.wire, reportNewIds: true)
        case .delete:
            if configuration.deleteToTrash && !directory.isInTrash(folder), let destination {
                action = .transfer(move: true, destinationId: destination.id, destinationMailbox: destination.mailbox.wire, reportNewIds: false)
            } else {
                action = .expunge
            }
        case .update(var isUnread, let isFlagged), .conversationUpdate(var isUnread, let isFlagged):
            if case .conversationUpdate = operation, folder.role == .sent || folder.role == .drafts { isUnread = nil }
            var add: [String] = []
            var remove: [String] = []
            if let isUnread { isUnread ? remove.append(Flag.seen.rawValue) : add.append(Flag.seen.rawValue) }
            if let isFlagged { isFlagged ? add.append(Flag.flagged.rawValue) : remove.append(Flag.flagged.rawValue) }
            action = add.isEmpty && remove.isEmpty ? .none : .store(add: add, remove: remove)
        case .addLabel, .removeLabel:
            guard let keyword else { return [] }
            if case .addLabel = operation {
                action = .store(add: [keyword.rawValue], remove: [])
            } else {
                action = .store(add: [], remove: [keyword.rawValue])
            }
        }
        let existing: UIDSet
        if case .store(let add, let remove) = action {
            guard (add + remove).allSatisfy({ selected.allowsPermanent(Flag($0)) }) else {
                logger.info("folder does not allow the flags permanently; its items fail")
                return []
            }
            // A flag change needs no search first: the STORE's own answer, and a search only for
            // what it did not report, tell which messages exist (``execute(_:resuming:destinationUIDNext:)``).
            existing = group.uids
        } else {
            existing = try await stillPresent(group.uids)
        }
        guard !existing.isEmpty else { return [] }
        let probe: (UIDSet) -> Command = { set in
            switch action {
            case .transfer(_, _, let mailbox, _): .uidCopy(set, MailboxName(wire: mailbox))
            case .expunge: .uidExpunge(set)
            case .store(let add, let remove): .uidStore(set, .add, flags: (add + remove).map(Flag.init), silent: true, unchangedSince: nil)
            case .none: .uidExpunge(set)
            }
        }
        var chunks: [BatchChunk] = []
        for part in existing.split(maxCount: maxUIDs) {
            for piece in session.splitToFitLine(part, probe) {
                chunks.append(
                    BatchChunk(folderId: folder.id, mailbox: folder.mailbox.wire, uidValidity: group.uidValidity, uids: piece.values, action: action))
            }
        }
        return chunks
    }

    /// Carries out a chunk. With `resumingFrom` (the destination UIDNEXT recorded before a chunk that
    /// was started but not finished), it first re-derives what the interrupted attempt did.
    mutating func execute(_ chunk: BatchChunk, resuming: Bool, destinationUIDNext: UInt32?) async throws -> ChunkResult {
        let source = MailboxName(wire: chunk.mailbox)
        let selected = try await session.select(source)
        guard selected.uidValidity == chunk.uidValidity else { return .none }
        var uids = chunk.uidSet
        switch chunk.action {
        case .none:
            return ChunkResult(confirmed: uids)

        case .store(let add, let remove):
            // Planned without a search: the server reports the messages whose flags it changed; only
            // the rest (already as asked, or gone) are searched for, so a change usually costs one command.
            let reported: UIDSet? = try await refusable {
                var reported = UIDSet()
                if !add.isEmpty { reported = reported.union(try await session.uidStoreReporting(uids, .add, flags: add.map(Flag.init))) }
                if !remove.isEmpty {
                    reported = reported.union(try await session.uidStoreReporting(uids, .remove, flags: remove.map(Flag.init)))
                }
                return reported
            }
            guard let reported else { return .none }
            let unreported = uids.subtracting(reported)
            return ChunkResult(confirmed: reported.union(try await stillPresent(unreported)))

        case .expunge:
            if resuming { uids = try await stillPresent(uids) }
            _ = try await refusable {
                try await session.uidStore(uids, .add, flags: [.deleted])
                try await session.uidExpunge(uids)
            }
            let remaining = try await stillPresent(uids)
            if !remaining.isEmpty {
                // Not removed: take back the \Deleted we set, so a later EXPUNGE elsewhere cannot remove them.
                _ = try? await session.uidStore(remaining, .remove, flags: [.deleted])
            }
            return ChunkResult(confirmed: chunk.uidSet.subtracting(remaining))

        case .transfer(let move, _, let mailbox, _):
            let destination = MailboxName(wire: mailbox)
            var confirmed = UIDSet()
            if resuming && move {
                // Sources already gone were moved (or copied and expunged) by the interrupted attempt.
                let present = try await stillPresent(uids)
                confirmed = uids.subtracting(present)
                uids = present
            }
            if uids.isEmpty { return ChunkResult(confirmed: confirmed) }
            if move && usesServerMove {
                guard let answer = try await refusable({ try await session.uidMove(uids, to: destination) }) else {
                    let still = try await stillPresent(uids)
                    return ChunkResult(confirmed: confirmed.union(uids.subtracting(still)))
                }
                let result = Self.restrict(answer, to: uids)
                // On a resume, the interrupted attempt's MOVE may still have been running on the server
                // and taken some of `uids` meanwhile (they are then gone, but not in this COPYUID).
                let moved =
                    result.newUIDs.isEmpty || resuming ? uids.subtracting(try await stillPresent(uids)) : result.copiedSourceUIDs
                return ChunkResult(confirmed: confirmed.union(moved), newUIDs: result.newUIDs, destinationUIDValidity: result.uidValidity)
            }
            // COPY (also the first step of the MOVE fallback); on resume, skip what was already copied.
            var copied = UIDSet()
            var newUIDs: [UInt32: UInt32] = [:]
            var validity: UInt32?
            if resuming, let since = destinationUIDNext {
                copied = try await alreadyCopied(uids, from: source, sourceUIDValidity: chunk.uidValidity, to: destination, since: since)
            }
            let toCopy = uids.subtracting(copied)
            if !toCopy.isEmpty, let answer = try await refusable({ try await session.uidCopy(toCopy, to: destination) }) {
                let result = Self.restrict(answer, to: toCopy)
                copied = copied.union(result.newUIDs.isEmpty ? toCopy : result.copiedSourceUIDs)
                newUIDs = result.newUIDs
                validity = result.uidValidity
            }
            guard move else { return ChunkResult(confirmed: confirmed.union(copied), newUIDs: newUIDs, destinationUIDValidity: validity) }
            // MOVE fallback: expunge exactly the copied originals.
            if !copied.isEmpty {
                try await session.uidStore(copied, .add, flags: [.deleted])
                try await session.uidExpunge(copied)
            }
            let removed = copied.subtracting(try await stillPresent(copied))
            return ChunkResult(confirmed: confirmed.union(removed), newUIDs: newUIDs, destinationUIDValidity: validity)
        }
    }

    /// Runs a step the server may refuse: a refusal (NO or BAD) is logged and answers nil, and
    /// the chunk's items are then judged by what the mailbox shows. Other failures propagate.
    private func refusable<T>(_ step: () async throws -> T) async throws -> T? {
        do {
            return try await step()
        } catch let error as MailServerError where error.kind == .refused {
            logger.info("upstream refused a chunk", metadata: ["reason": "\(error)"])
            return nil
        }
    }

    /// Which of `uids` still exist in the selected mailbox. The server's answer is intersected with
    /// what was asked (SPEC §4): a wrong server answering `ALL 1:4294967295` never widens a batch.
    ///
    /// UIDs the search leaves out are asked once more by `UID FETCH <set> (UID)`: GNU Mailutils
    /// imap4d 3.15 reads the set of `UID SEARCH UID` as sequence numbers, so wherever UIDs and
    /// sequence numbers differ it leaves out messages that exist (the UIDs it does answer are
    /// real ones, and the intersection keeps only those asked). On a server that answers right,
    /// the second look costs a command only where messages are gone (after an expunge, say), and
    /// finds none of them.
    private func stillPresent(_ uids: UIDSet) async throws -> UIDSet {
        guard !uids.isEmpty else { return UIDSet() }
        let found = try await session.uidSearch(.uid(uids)).intersection(uids)
        let missing = uids.subtracting(found)
        guard !missing.isEmpty else { return found }
        let fetched = try await refusable { try await session.uidFetch(missing, [.uid], changedSince: nil) } ?? []
        return found.union(UIDSet(fetched.compactMap(\.uid)).intersection(missing))
    }

    /// A COPYUID answer cut down to the source UIDs that were asked about, so a server naming
    /// other messages can neither confirm nor map them.
    static func restrict(_ result: CopyResult, to asked: UIDSet) -> CopyResult {
        CopyResult(uidValidity: result.uidValidity, newUIDs: result.newUIDs.filter { asked.contains($0.key) && $0.value > 0 })
    }

    /// The source UIDs that already have a copy in `destination` at or above UIDNEXT `since`,
    /// matched by Message-ID and size. Leaves the source selected.
    private func alreadyCopied(
        _ uids: UIDSet, from source: MailboxName, sourceUIDValidity: UInt32, to destination: MailboxName, since: UInt32
    ) async throws -> UIDSet {
        let status = try await session.status(destination, [.uidNext])
        guard let next = status.uidNext, next > since else { return UIDSet() }
        let sources = try await session.uidFetch(uids, [.rfc822Size, .envelope])
        try await session.select(destination, readOnly: true)
        let copies = try await session.uidFetch(UIDSet(ranges: [since...(next - 1)]), [.rfc822Size, .envelope])
        let reselected = try await session.select(source)
        guard reselected.uidValidity == sourceUIDValidity else {
            throw MailServerError(.connectionBroken, "UIDVALIDITY of \(source) changed during a resumed copy")
        }
        var available: [String: Int] = [:]
        for copy in copies {
            guard let id = copy.envelope?.messageID, let size = copy.size else { continue }
            available["\(id) \(size)", default: 0] += 1
        }
        var found: [UInt32] = []
        for message in sources {
            guard let uid = message.uid, let id = message.envelope?.messageID, let size = message.size else { continue }
            let key = "\(id) \(size)"
            if let count = available[key], count > 0 {
                available[key] = count - 1
                found.append(uid)
            }
        }
        return UIDSet(found).intersection(uids)
    }
}
