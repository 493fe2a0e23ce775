import GatewayCore
import GatewayFakes
import IMAPCore
import Testing

/// Servers poorer than Dovecot: without MOVE a move is COPY + `\Deleted` + UID EXPUNGE of exactly
/// the copied originals; without UIDPLUS as well, the gateway refuses rather than risk expunging
/// messages outside the batch.
@Suite struct MoveFallbackTests {
    @Test func withoutMoveAMoveIsCopyDeletedAndUIDExpungeOfExactlyTheCopiedOriginals() async throws {
        let h = try EngineHarness.make(dropping: [.move])
        let uids = h.server.seed(user, "INBOX", count: 6)
        // Another client marked a message outside the batch \Deleted before, and another one while the batch runs.
        h.server.setFlags(user, "INBOX", uids: [uids[4]], add: [.deleted])
        h.server.interpose(on: .copy) { server in server.setFlags(user, "INBOX", uids: [uids[5]], add: [.deleted]) }
        let batch = [uids[0], uids[2], uids[3]]
        let moving = h.messageIDs("INBOX", uids: batch)
        let ids = try await h.mailIDs("INBOX", uids: batch)
        let outcome = try await h.run(.move(destinationFolderId: try await h.folderId("Archive")), ids: ids)
        #expect(outcome.failedItems.isEmpty)
        #expect(h.uids("INBOX") == [uids[1], uids[4], uids[5]], "messages outside the batch stay, \\Deleted or not")
        #expect(h.messageIDs("Archive") == moving)
        #expect(h.server.messages(user, "Archive").allSatisfy { !$0.has(.deleted) }, "the copies do not inherit the \\Deleted set afterwards")
        #expect(h.server.commands(.move).isEmpty)
        #expect(h.server.commands(.expunge).compactMap(\.uidSet) == [UIDSet(batch)])
        #expect(Set(outcome.newIds.keys) == Set(ids), "COPYUID still reports the new IDs")
    }

    @Test func withoutMoveDeleteToTrashTakesTheFallbackToo() async throws {
        let h = try EngineHarness.make(dropping: [.move])
        let uids = h.server.seed(user, "INBOX", count: 3)
        let outcome = try await h.run(.delete, ids: try await h.mailIDs("INBOX", uids: [uids[1]]))
        #expect(outcome.failedItems.isEmpty)
        #expect(h.uids("INBOX") == [uids[0], uids[2]])
        #expect(h.server.messages(user, "Trash").count == 1)
    }

    @Test func withoutMoveAndUIDPlusAMoveIsRefusedAndNothingChanges() async throws {
        let h = try EngineHarness.make(dropping: [.move, .uidPlus])
        let uids = h.server.seed(user, "INBOX", count: 3)
        let before = try #require(h.server.mailbox(user, "INBOX"))
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let archiveId = try await h.folderId("Archive")
        let error = await #expect(throws: GatewayError.self) { try await h.run(.move(destinationFolderId: archiveId), ids: ids) }
        #expect(error?.code == "upstreamUnsupported")
        #expect(error?.kind == .upstreamFailed)
        #expect(h.server.mailbox(user, "INBOX") == before)
        #expect(h.uids("Archive").isEmpty)
        #expect(h.server.commands(.copy).isEmpty && h.server.commands(.store).isEmpty)
        // Delete to Trash is a move too.
        let deleteError = await #expect(throws: GatewayError.self) { try await h.run(.delete, ids: ids) }
        #expect(deleteError?.code == "upstreamUnsupported")
        #expect(h.server.mailbox(user, "INBOX") == before)
    }

    @Test func withoutUIDPlusAPermanentDeleteIsRefusedAndNothingChanges() async throws {
        let h = try EngineHarness.make(dropping: [.uidPlus], batch: .init(deleteToTrash: false))
        let uids = h.server.seed(user, "INBOX", count: 2)
        let before = try #require(h.server.mailbox(user, "INBOX"))
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let error = await #expect(throws: GatewayError.self) { try await h.run(.delete, ids: ids) }
        #expect(error?.code == "upstreamUnsupported")
        #expect(h.server.mailbox(user, "INBOX") == before)
        #expect(h.server.commands(.store).isEmpty)
    }

    /// With MOVE but no UIDPLUS there is no COPYUID: the move is confirmed by the source search
    /// instead, and no new IDs are reported.
    @Test func withMoveButWithoutUIDPlusAMoveIsConfirmedBySearchWithoutNewIds() async throws {
        let h = try EngineHarness.make(dropping: [.uidPlus])
        let uids = h.server.seed(user, "INBOX", count: 3)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let outcome = try await h.run(.move(destinationFolderId: try await h.folderId("Archive")), ids: [ids[0], ids[1]])
        #expect(outcome.failedItems.isEmpty)
        #expect(outcome.newIds.isEmpty)
        #expect(h.uids("INBOX") == [uids[2]])
        #expect(h.uids("Archive").count == 2)
    }
}
