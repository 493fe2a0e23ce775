import GatewayCore
import GatewayFakes
import IMAPCore
import Testing

/// A connection that breaks mid-batch, before or after a command took effect: the batch goes on
/// over a fresh session (a job: on its next attempt), re-derives what the lost command did from the
/// mailboxes, and every message ends up moved or copied exactly once.
@Suite struct ResumeTests {
    /// One way a batch is interrupted.
    struct Interruption: Sendable, CustomTestStringConvertible {
        var name: String
        var copy: Bool
        /// Whether the server offers MOVE (false: the COPY + \Deleted + UID EXPUNGE fallback).
        var serverMove: Bool
        var fault: FakeFault

        var testDescription: String { name }
    }

    static let interruptions: [Interruption] = [
        Interruption(name: "MOVE, answer lost", copy: false, serverMove: true, fault: .connectionBreak(on: .move, nth: 2, timing: .after)),
        Interruption(name: "MOVE, never sent", copy: false, serverMove: true, fault: .connectionBreak(on: .move, nth: 2, timing: .before)),
        Interruption(name: "COPY, answer lost", copy: true, serverMove: true, fault: .connectionBreak(on: .copy, nth: 2, timing: .after)),
        Interruption(name: "COPY, never sent", copy: true, serverMove: true, fault: .connectionBreak(on: .copy, nth: 2, timing: .before)),
        Interruption(
            name: "fallback, after COPY", copy: false, serverMove: false, fault: .connectionBreak(on: .copy, nth: 2, timing: .after)),
        Interruption(
            name: "fallback, after \\Deleted", copy: false, serverMove: false, fault: .connectionBreak(on: .store, nth: 2, timing: .after)),
        Interruption(
            name: "fallback, before UID EXPUNGE", copy: false, serverMove: false,
            fault: .connectionBreak(on: .expunge, nth: 2, timing: .before)),
        Interruption(
            name: "fallback, after UID EXPUNGE", copy: false, serverMove: false,
            fault: .connectionBreak(on: .expunge, nth: 2, timing: .after)),
        Interruption(name: "timeout after MOVE", copy: false, serverMove: true, fault: FakeFault(
            kind: .move, nth: 1, timing: .after, error: MailServerError(.timeout, "injected: no answer in time"))),
    ]

    /// Checks that each of `originals` (Message-IDs) is in Archive exactly once, and in INBOX
    /// still (copy) or no longer (move); the unbatched message stays in INBOX.
    private func expectTransferredOnce(_ h: EngineHarness, originals: [String], untouched: String, copy: Bool) {
        let archive = occurrences(h.messageIDs("Archive"))
        #expect(archive == Dictionary(uniqueKeysWithValues: originals.map { ($0, 1) }), "each message exactly once in Archive")
        let inbox = Set(h.messageIDs("INBOX"))
        #expect(inbox == (copy ? Set(originals + [untouched]) : [untouched]))
        #expect(h.server.messages(user, "INBOX").allSatisfy { !$0.has(.deleted) }, "no \\Deleted left behind")
    }

    @Test(arguments: interruptions)
    func aSynchronousBatchRecoversOnAFreshSessionAndTransfersEachMessageOnce(_ interruption: Interruption) async throws {
        let h = try EngineHarness.make(dropping: interruption.serverMove ? [] : [.move], batch: .init(maxUIDsPerCommand: 2))
        let uids = h.server.seed(user, "INBOX", count: 7)
        let batch = Array(uids[0..<6])
        let originals = h.messageIDs("INBOX", uids: batch)
        let untouched = h.messageIDs("INBOX", uids: [uids[6]])[0]
        let ids = try await h.mailIDs("INBOX", uids: batch)
        let archiveId = try await h.folderId("Archive")
        let sessionsBefore = h.server.sessionsOpened
        h.server.inject(interruption.fault)

        let outcome = try await h.run(interruption.copy ? .copy(destinationFolderId: archiveId) : .move(destinationFolderId: archiveId), ids: ids)

        #expect(h.server.allFaultsFired)
        #expect(h.server.sessionsOpened >= sessionsBefore + 3, "resolution, the broken session, and a fresh one")
        #expect(h.server.openSessions == 0, "every session was given back")
        #expect(outcome.failedItems.isEmpty)
        expectTransferredOnce(h, originals: originals, untouched: untouched, copy: interruption.copy)
        // Whatever newIds are reported address the right copies.
        let archive = try #require(h.server.mailbox(user, "Archive"))
        for (old, new) in outcome.newIds {
            let oldUID = try #require(MailID(old)?.uid)
            let newUID = try #require(MailID(new)?.uid)
            #expect(archive.message(uid: newUID)?.messageID == originals[batch.firstIndex(of: oldUID) ?? -1])
        }
    }

    /// The connection breaks three times in a row after a COPY took effect: the batch gives up with
    /// a clear error, yet nothing was copied twice.
    @Test func aBatchWhoseConnectionKeepsBreakingStopsWithoutCopyingTwice() async throws {
        let h = try EngineHarness.make(batch: .init(maxUIDsPerCommand: 2))
        let uids = h.server.seed(user, "INBOX", count: 6)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let archiveId = try await h.folderId("Archive")
        h.server.inject(FakeFault(kind: .copy, nth: 1, count: 3, timing: .after, error: MailServerError(.connectionBroken, "injected")))
        let error = await #expect(throws: GatewayError.self) { try await h.run(.copy(destinationFolderId: archiveId), ids: ids) }
        #expect(error?.code == "upstreamInterrupted")
        #expect(occurrences(h.messageIDs("Archive")).values.allSatisfy { $0 == 1 })
        #expect(h.messageIDs("Archive").count == 6, "each of the three breaks came after its copy")
    }

    /// Before anything changed, a broken connection is simply an error (nothing to re-derive).
    @Test func aBreakBeforeAnyChangeIsAnErrorAndChangesNothing() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", count: 2)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let archiveId = try await h.folderId("Archive")
        h.server.inject(.connectionBreak(on: .search, nth: 1, timing: .before))
        let error = await #expect(throws: GatewayError.self) { try await h.run(.move(destinationFolderId: archiveId), ids: ids) }
        #expect(error?.kind == .upstreamFailed)
        #expect(h.uids("INBOX") == uids)
    }

    // MARK: - Jobs

    static let jobInterruptions: [Interruption] = [
        Interruption(name: "job MOVE, answer lost", copy: false, serverMove: true, fault: .connectionBreak(on: .move, nth: 2)),
        Interruption(name: "job COPY, answer lost", copy: true, serverMove: true, fault: .connectionBreak(on: .copy, nth: 2)),
        Interruption(name: "job fallback, after COPY", copy: false, serverMove: false, fault: .connectionBreak(on: .copy, nth: 2)),
        Interruption(name: "job fallback, after \\Deleted", copy: false, serverMove: false, fault: .connectionBreak(on: .store, nth: 2)),
        Interruption(name: "job fallback, after UID EXPUNGE", copy: false, serverMove: false, fault: .connectionBreak(on: .expunge, nth: 3)),
    ]

    @Test(arguments: jobInterruptions)
    func anInterruptedJobResumesToCompletionAndTransfersEachMessageOnce(_ interruption: Interruption) async throws {
        let h = try EngineHarness.make(
            dropping: interruption.serverMove ? [] : [.move], batch: .init(asyncThreshold: 3, jobChunkSize: 2))
        let uids = h.server.seed(user, "INBOX", count: 8)
        let batch = Array(uids[0..<7])
        let originals = h.messageIDs("INBOX", uids: batch)
        let untouched = h.messageIDs("INBOX", uids: [uids[7]])[0]
        let ids = try await h.mailIDs("INBOX", uids: batch)
        let archiveId = try await h.folderId("Archive")
        h.server.inject(interruption.fault)

        let key = try await h.startJob(interruption.copy ? .copy(destinationFolderId: archiveId) : .move(destinationFolderId: archiveId), ids: ids)
        let status = try await h.waitForJob(key)

        #expect(status.state == .completed)
        #expect(status.progress == 100)
        #expect(status.failedItems.isEmpty)
        #expect(h.server.allFaultsFired)
        expectTransferredOnce(h, originals: originals, untouched: untouched, copy: interruption.copy)
    }

    /// A job's failed items: undecodable and vanished IDs, in the job's status, while the rest is done.
    @Test func aJobReportsItsFailedItemsAndDoesTheRest() async throws {
        let h = try EngineHarness.make(batch: .init(asyncThreshold: 3, jobChunkSize: 2))
        let uids = h.server.seed(user, "INBOX", count: 6)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        h.server.removeMessages(user, "INBOX", uids: [uids[4]])
        let key = try await h.startJob(.update(isUnread: nil, isFlagged: true), ids: ids + ["not-a-mail-id"])
        let status = try await h.waitForJob(key)
        #expect(status.state == .completed)
        #expect(Set(status.failedItems) == [ids[4], "not-a-mail-id"])
        #expect(h.server.messages(user, "INBOX").allSatisfy { $0.has(.flagged) })
        #expect(h.server.messages(user, "INBOX").count == 5)
        // Another account never sees the job.
        #expect(try await h.engine.jobs.status(key: key, account: "mallory") == nil)
    }
}
