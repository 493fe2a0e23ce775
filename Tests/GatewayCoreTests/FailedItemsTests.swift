import GatewayCore
import GatewayFakes
import IMAPCore
import Testing

/// `failedItems`: the IDs not carried out, in request order; every other item is done, as the
/// mailboxes (read from the fake, not through the engine) show.
@Suite struct FailedItemsTests {
    @Test func undecodableStaleVanishedAndUnknownFailInRequestOrderAndTheRestIsDone() async throws {
        let h = try EngineHarness.make()
        let inbox = h.server.seed(user, "INBOX", count: 6)
        let archive = h.server.seed(user, "Archive", count: 3)
        let inboxIDs = try await h.mailIDs("INBOX", uids: inbox)
        let archiveIDs = try await h.mailIDs("Archive", uids: archive)
        let inboxFolder = try await h.folderId("INBOX")
        let inboxValidity = try #require(h.server.mailbox(user, "INBOX")?.uidValidity)
        // Stale: minted for an older UIDVALIDITY of INBOX.
        let stale = MailID(folderId: inboxFolder, uidValidity: inboxValidity - 1, uid: inbox[1]).encoded
        // Vanished: another client removed the message.
        h.server.removeMessages(user, "INBOX", uids: [inbox[2]])
        let vanished = inboxIDs[2]
        // Unknown folder; and a UID that never existed.
        let unknownFolder = MailID(folderId: "ZZZZZZZZZZZZ", uidValidity: inboxValidity, uid: inbox[0]).encoded
        let neverExisted = MailID(folderId: inboxFolder, uidValidity: inboxValidity, uid: 999).encoded

        let request = [
            vanished, inboxIDs[0], "not-a-mail-id", archiveIDs[1], stale, neverExisted, inboxIDs[3], unknownFolder, inboxIDs[0],
            archiveIDs[2], "not-a-mail-id",
        ]
        let outcome = try await h.run(.update(isUnread: nil, isFlagged: true), ids: request)
        #expect(outcome.failedItems == [vanished, "not-a-mail-id", stale, neverExisted, unknownFolder])

        let flagged = Set(h.server.messages(user, "INBOX").filter { $0.has(.flagged) }.map(\.uid))
        #expect(flagged == [inbox[0], inbox[3]], "inbox[1] was named only by its stale ID")
        #expect(h.server.messages(user, "Archive").filter { $0.has(.flagged) }.map(\.uid) == [archive[1], archive[2]])
    }

    /// A flag change is one STORE when every message changes; a search follows only for the UIDs
    /// the STORE did not report (already flagged, or gone), and tells those apart.
    @Test func aFlagChangeSearchesOnlyForWhatItsStoreDidNotReport() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", count: 5)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        h.server.clearCommandLog()
        #expect(try await h.run(.update(isUnread: nil, isFlagged: true), ids: [ids[0], ids[1]]).failedItems == [])
        #expect(h.server.commands(.store).count == 1)
        #expect(h.server.commands(.search).isEmpty, "both changed: the STORE's answer confirmed them")

        h.server.removeMessages(user, "INBOX", uids: [uids[3]])
        h.server.clearCommandLog()
        let outcome = try await h.run(.update(isUnread: nil, isFlagged: true), ids: [ids[1], ids[2], ids[3], ids[4]])
        #expect(outcome.failedItems == [ids[3]], "gone; ids[1] was already flagged and is done")
        #expect(h.server.commands(.store).count == 1)
        #expect(h.server.commands(.search) == [.uidSearch(.uid(UIDSet([uids[1], uids[3]])), returning: nil)])
        let flagged = h.server.messages(user, "INBOX").filter { $0.has(.flagged) }.map(\.uid)
        #expect(flagged == [uids[0], uids[1], uids[2], uids[4]])
    }

    /// Items of a folder whose UIDVALIDITY changed fail, interleaved in request order with the
    /// items of other folders that are done.
    @Test func aFolderWithANewUIDValidityFailsOnlyItsOwnItems() async throws {
        let h = try EngineHarness.make()
        let inbox = h.server.seed(user, "INBOX", count: 3)
        let archive = h.server.seed(user, "Archive", count: 3)
        let inboxIDs = try await h.mailIDs("INBOX", uids: inbox)
        let archiveIDs = try await h.mailIDs("Archive", uids: archive)
        h.server.renewUIDValidity(user, "Archive")
        let request = [archiveIDs[2], inboxIDs[1], archiveIDs[0], inboxIDs[2]]
        let outcome = try await h.run(.move(destinationFolderId: try await h.folderId("Sent")), ids: request)
        #expect(outcome.failedItems == [archiveIDs[2], archiveIDs[0]])
        #expect(h.uids("Archive") == archive, "a stale ID never touches a message")
        #expect(h.uids("INBOX") == [inbox[0]])
        #expect(h.server.messages(user, "Sent").count == 2)
    }

    /// A refused command fails the items of its chunk, and only those.
    @Test func anUpstreamRefusalFailsOnlyItsChunk() async throws {
        let h = try EngineHarness.make(batch: .init(maxUIDsPerCommand: 2))
        let uids = h.server.seed(user, "INBOX", count: 6)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        h.server.inject(.refusal(on: .store, nth: 2))
        let outcome = try await h.run(.update(isUnread: nil, isFlagged: true), ids: ids)
        #expect(outcome.failedItems == [ids[2], ids[3]])
        let flagged = h.server.messages(user, "INBOX").filter { $0.has(.flagged) }.map(\.uid)
        #expect(flagged == [uids[0], uids[1], uids[4], uids[5]])
    }

    /// A refused COPY: its items fail, the chunks before and after are copied, and no newIds are
    /// reported for the failed ones.
    @Test func aRefusedCopyFailsItsItemsAndReportsNoNewIdsForThem() async throws {
        let h = try EngineHarness.make(batch: .init(maxUIDsPerCommand: 2))
        let uids = h.server.seed(user, "INBOX", count: 5)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        h.server.inject(.refusal(on: .copy, nth: 2))
        let outcome = try await h.run(.copy(destinationFolderId: try await h.folderId("Archive")), ids: ids)
        #expect(outcome.failedItems == [ids[2], ids[3]])
        #expect(Set(outcome.newIds.keys) == Set([ids[0], ids[1], ids[4]]))
        #expect(Set(h.messageIDs("Archive")) == Set(h.messageIDs("INBOX", uids: [uids[0], uids[1], uids[4]])))
    }

    /// Flags the folder cannot keep permanently fail the folder's items instead of being stored
    /// for the session only.
    @Test func aFolderThatCannotKeepKeywordsFailsItsLabelItems() async throws {
        let h = try EngineHarness.make()
        h.server.createMailbox("Frozen", for: user, permanentFlags: [.seen, .deleted])
        let frozen = h.server.seed(user, "Frozen", count: 2)
        let inbox = h.server.seed(user, "INBOX", count: 2)
        let label = try await h.engine.labels.create(credentials: h.credentials, name: "Work")
        let frozenIDs = try await h.mailIDs("Frozen", uids: frozen)
        let inboxIDs = try await h.mailIDs("INBOX", uids: inbox)
        let outcome = try await h.run(.addLabel(labelId: label.id), ids: frozenIDs + inboxIDs)
        #expect(outcome.failedItems == frozenIDs)
        #expect(h.server.messages(user, "INBOX").allSatisfy { $0.has(Flag("Work")) })
        #expect(h.server.messages(user, "Frozen").allSatisfy { $0.flags.isEmpty })
    }

    /// Where no folder of a label batch keeps keywords (a server without keywords, as GNU Mailutils
    /// imap4d), the batch is a clear error before anything changes, and no STORE is sent.
    @Test(arguments: [true, false])
    func aLabelBatchWhereNoFolderKeepsKeywordsIsRefused(adding: Bool) async throws {
        let h = try EngineHarness.make()
        h.server.createMailbox("Frozen", for: user, permanentFlags: [.seen, .deleted])
        h.server.createMailbox("Cold", for: user, permanentFlags: [])
        let ids = try await h.mailIDs("Frozen", uids: h.server.seed(user, "Frozen", count: 2))
            + h.mailIDs("Cold", uids: h.server.seed(user, "Cold", count: 1))
        let label = try await h.engine.labels.create(credentials: h.credentials, name: "Work")
        let before = (h.server.messages(user, "Frozen"), h.server.messages(user, "Cold"))
        h.server.clearCommandLog()
        let operation: MailBatchOperation = adding ? .addLabel(labelId: label.id) : .removeLabel(labelId: label.id)
        let error = await #expect(throws: GatewayError.self) { try await h.run(operation, ids: ids) }
        #expect(error?.code == "upstreamUnsupported")
        #expect(error?.message.contains("keeps no keywords") == true)
        #expect(h.server.commands(.store).isEmpty)
        #expect(h.server.messages(user, "Frozen") == before.0 && h.server.messages(user, "Cold") == before.1)
    }
}
