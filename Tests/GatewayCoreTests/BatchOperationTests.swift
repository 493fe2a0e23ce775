import GatewayCore
import GatewayFakes
import IMAPCore
import Testing

/// Each batch operation through `engine.batches.submit`, with IDs and with ranges, checked on the
/// fake's mailboxes afterwards.
@Suite struct BatchOperationTests {
    @Test func copyLeavesTheSourceAndReportsNewIdsFromCopyUID() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", count: 4)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let archiveId = try await h.folderId("Archive")
        let outcome = try await h.run(.copy(destinationFolderId: archiveId), ids: [ids[3], ids[1]])
        #expect(outcome.failedItems.isEmpty)
        #expect(h.uids("INBOX") == uids)
        let archive = try #require(h.server.mailbox(user, "Archive"))
        #expect(Set(archive.messageIDs) == Set(h.messageIDs("INBOX", uids: [uids[1], uids[3]])))
        #expect(outcome.newIds.count == 2)
        for (old, new) in outcome.newIds {
            let oldID = try #require(MailID(old))
            let newID = try #require(MailID(new))
            #expect(newID.folderId == archiveId)
            #expect(newID.uidValidity == archive.uidValidity)
            let original = try #require(h.server.mailbox(user, "INBOX")?.message(uid: oldID.uid))
            #expect(archive.message(uid: newID.uid)?.messageID == original.messageID, "the new ID addresses the copy")
        }
    }

    /// GNU Mailutils imap4d 3.15 reads the set of `UID SEARCH UID` as sequence numbers. Where UIDs
    /// and sequence numbers differ, a copy still copies exactly the named messages, an update of a
    /// message already as asked still confirms it, and a message that is gone still fails.
    @Test func aServerMisreadingSearchUIDSetsStillCopiesAndConfirmsExactlyTheNamedMessages() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", count: 8)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        h.server.removeMessages(user, "INBOX", uids: Array(uids[0...2]))
        h.server.setFlags(user, "INBOX", uids: [uids[5]], add: [.flagged])
        h.server.misreadsSearchUIDSets = true
        let copied = try await h.run(.copy(destinationFolderId: try await h.folderId("Archive")), ids: [ids[4], ids[6], ids[1]])
        #expect(copied.failedItems == [ids[1]], "the gone message fails; the others are copied")
        #expect(Set(h.messageIDs("Archive")) == Set(h.messageIDs("INBOX", uids: [uids[4], uids[6]])))
        let updated = try await h.run(.update(isUnread: nil, isFlagged: true), ids: [ids[5], ids[7], ids[0]])
        #expect(updated.failedItems == [ids[0]], "already flagged and newly flagged are done; the gone one fails")
        #expect(h.server.messages(user, "INBOX").filter { $0.has(.flagged) }.map(\.uid) == [uids[5], uids[7]])
    }

    @Test func moveCarriesFlagsAndReportsNewIds() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", [MessageSeed(flags: [.flagged, Flag("Work")]), MessageSeed(), MessageSeed(flags: [.seen])])
        let moving = h.messageIDs("INBOX", uids: [uids[0], uids[2]])
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let outcome = try await h.run(.move(destinationFolderId: try await h.folderId("Archive")), ids: [ids[0], ids[2]])
        #expect(outcome.failedItems.isEmpty)
        #expect(h.uids("INBOX") == [uids[1]])
        let archive = try #require(h.server.mailbox(user, "Archive"))
        #expect(archive.messageIDs == moving)
        #expect(Set(archive.messages[0].flags) == [.flagged, Flag("Work")])
        #expect(Set(outcome.newIds.keys) == [ids[0], ids[2]])
        #expect(Set(outcome.newIds.values.compactMap { MailID($0)?.uid }) == Set(archive.uids))
    }

    @Test func aMoveIntoTheFolderTheMessagesAreInChangesNothingAndSucceeds() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", count: 3)
        let before = h.server.mailbox(user, "INBOX")
        let outcome = try await h.run(.move(destinationFolderId: try await h.folderId("INBOX")), ids: try await h.mailIDs("INBOX", uids: uids))
        #expect(outcome.failedItems.isEmpty)
        #expect(h.server.mailbox(user, "INBOX") == before)
        #expect(h.server.commands(.move).isEmpty && h.server.commands(.copy).isEmpty)
    }

    @Test func aMoveToAnUnknownFolderIsNotFoundAndChangesNothing() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", count: 2)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let error = await #expect(throws: GatewayError.self) { try await h.run(.move(destinationFolderId: "ZZZZZZZZZZZZ"), ids: ids) }
        #expect(error?.kind == .notFound)
        #expect(error?.code == "folderNotFound")
        #expect(h.uids("INBOX") == uids)
    }

    @Test func deleteMovesToTrashWithoutReportingNewIds() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", count: 3)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let deleted = h.messageIDs("INBOX", uids: [uids[0], uids[2]])
        let outcome = try await h.run(.delete, ids: [ids[0], ids[2]])
        #expect(outcome.failedItems.isEmpty)
        #expect(outcome.newIds.isEmpty)
        #expect(h.uids("INBOX") == [uids[1]])
        #expect(h.messageIDs("Trash") == deleted)
        #expect(h.server.commands(.expunge).isEmpty, "a move to Trash expunges nothing itself")
    }

    /// In Trash and below it, delete is permanent: `\Deleted` and UID EXPUNGE of exactly the
    /// batch; a message of Trash that another client marked `\Deleted` stays.
    @Test(arguments: ["Trash", "Trash/Old"])
    func deleteInTrashIsPermanentAndExpungesOnlyTheBatch(mailbox: String) async throws {
        let h = try EngineHarness.make()
        h.server.createMailbox("Trash/Old", for: user)
        let uids = h.server.seed(user, mailbox, count: 4)
        h.server.setFlags(user, mailbox, uids: [uids[3]], add: [.deleted])
        let ids = try await h.mailIDs(mailbox, uids: uids)
        let outcome = try await h.run(.delete, ids: [ids[0], ids[1]])
        #expect(outcome.failedItems.isEmpty)
        #expect(h.uids(mailbox) == [uids[2], uids[3]])
        #expect(h.server.messages(user, mailbox).first?.has(.deleted) == false)
        #expect(h.server.commands(.expunge).compactMap(\.uidSet) == [UIDSet([uids[0], uids[1]])])
        #expect(h.server.commands(.move).isEmpty)
    }

    /// One batch over INBOX and Trash: INBOX's items move to Trash, Trash's are removed, and the
    /// messages that just arrived in Trash are not expunged with them.
    @Test(arguments: [false, true])
    func aDeleteOverInboxAndTrashMovesOneAndRemovesTheOther(trashFirst: Bool) async throws {
        let h = try EngineHarness.make()
        let inbox = h.server.seed(user, "INBOX", count: 2)
        let trash = h.server.seed(user, "Trash", count: 2)
        let moved = h.messageIDs("INBOX", uids: [inbox[0]])
        let kept = h.messageIDs("Trash", uids: [trash[1]])
        let inboxID = try await h.mailID("INBOX", uid: inbox[0])
        let trashID = try await h.mailID("Trash", uid: trash[0])
        let outcome = try await h.run(.delete, ids: trashFirst ? [trashID, inboxID] : [inboxID, trashID])
        #expect(outcome.failedItems.isEmpty)
        #expect(h.uids("INBOX") == [inbox[1]])
        #expect(Set(h.messageIDs("Trash")) == Set(kept + moved))
    }

    @Test func deleteWithDeleteToTrashOffIsPermanentEverywhere() async throws {
        let h = try EngineHarness.make(batch: .init(deleteToTrash: false))
        let uids = h.server.seed(user, "INBOX", count: 3)
        let outcome = try await h.run(.delete, ids: try await h.mailIDs("INBOX", uids: [uids[0], uids[2]]))
        #expect(outcome.failedItems.isEmpty)
        #expect(h.uids("INBOX") == [uids[1]])
        #expect(h.uids("Trash").isEmpty)
    }

    @Test func deleteWithoutATrashFolderIsUnprocessable() async throws {
        let server = InMemoryMailServer()
        server.addAccount(user, password: "secret")
        server.createMailbox("Archive", for: user)
        let h = try EngineHarness(server: server, addAccount: false)
        let uids = server.seed(user, "INBOX", count: 2)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let error = await #expect(throws: GatewayError.self) { try await h.run(.delete, ids: ids) }
        #expect(error?.code == "noTrashFolder")
        #expect(error?.kind == .unprocessable)
        #expect(h.uids("INBOX") == uids)
    }

    /// (isUnread, isFlagged) → the flags every message carries afterwards, whatever it had before.
    @Test(arguments: [
        (Bool?.some(false), Bool?.none, [Flag.seen], [Flag]()),
        (true, nil, [], [Flag.seen]),
        (nil, true, [Flag.flagged], []),
        (nil, false, [], [Flag.flagged]),
        (false, true, [Flag.seen, .flagged], []),
        (true, false, [], [Flag.seen, .flagged]),
    ])
    func updateSetsSeenAndFlagged(isUnread: Bool?, isFlagged: Bool?, present: [Flag], absent: [Flag]) async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", [MessageSeed(flags: [.seen]), MessageSeed(flags: [.flagged]), MessageSeed(), MessageSeed()])
        let outcome = try await h.run(.update(isUnread: isUnread, isFlagged: isFlagged), ids: try await h.mailIDs("INBOX", uids: Array(uids[0...2])))
        #expect(outcome.failedItems.isEmpty)
        for message in h.server.messages(user, "INBOX").prefix(3) {
            for flag in present { #expect(message.has(flag), "uid \(message.uid) lacks \(flag)") }
            for flag in absent { #expect(!message.has(flag), "uid \(message.uid) has \(flag)") }
        }
        #expect(h.server.messages(user, "INBOX")[3].flags.isEmpty, "a message outside the batch is untouched")
    }

    @Test func labelsAddAndRemoveTheirKeyword() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", count: 4)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let label = try await h.engine.labels.create(credentials: h.credentials, name: "Très important")
        let keyword = Flag(label.keyword)
        #expect(label.keyword.hasPrefix("$gw_"))
        var outcome = try await h.run(.addLabel(labelId: label.id), ids: Array(ids[0...2]))
        #expect(outcome.failedItems.isEmpty)
        #expect(h.server.messages(user, "INBOX").map { $0.has(keyword) } == [true, true, true, false])
        outcome = try await h.run(.removeLabel(labelId: label.id), ids: [ids[1]])
        #expect(outcome.failedItems.isEmpty)
        #expect(h.server.messages(user, "INBOX").map { $0.has(keyword) } == [true, false, true, false])
    }

    @Test func anUnknownLabelIsNotFoundBeforeAnyIMAPWork() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", count: 1)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let opened = h.server.sessionsOpened
        let error = await #expect(throws: GatewayError.self) { try await h.run(.addLabel(labelId: "ZZZZZZZZZZZZ"), ids: ids) }
        #expect(error?.code == "labelNotFound")
        #expect(h.server.sessionsOpened == opened)
    }

    // MARK: - Ranges

    /// Eight messages whose Date headers are out of UID order (two share a date).
    private static let dates: [Int64] = [5000, 1000, 3000, 3000, 2000, 8000, 7000, 6000]

    /// The UIDs in `SORT (DATE)` order: by date, ties by UID; REVERSE reverses only the date.
    private static func dateOrder(_ uids: [UInt32], descending: Bool) -> [UInt32] {
        zip(uids, dates).sorted { a, b in a.1 != b.1 ? (a.1 < b.1) != descending : a.0 < b.0 }.map(\.0)
    }

    @Test(arguments: [SortDirection.ascending, .descending])
    func aRangeActsOnTheItemsOfTheSortedListingFromItsStart(direction: SortDirection) async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", Self.dates.map { MessageSeed(date: $0) })
        let order = Self.dateOrder(uids, descending: direction == .descending)
        let start = try await h.mailID("INBOX", uid: order[2])
        let outcome = try await h.run(
            .update(isUnread: nil, isFlagged: true), ids: [], ranges: [MailRange(start: start, limit: 4)],
            order: MailSortOrder(field: .date, direction: direction))
        #expect(outcome.failedItems.isEmpty)
        let flagged = Set(h.server.messages(user, "INBOX").filter { $0.has(.flagged) }.map(\.uid))
        #expect(flagged == Set(order[2..<6]))
    }

    @Test func idsAndRangesUniteWithoutDuplicatesAndARangeStopsAtTheEnd() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", Self.dates.map { MessageSeed(date: $0) })
        let order = Self.dateOrder(uids, descending: false)
        let start = try await h.mailID("INBOX", uid: order[5])
        let extra = try await h.mailIDs("INBOX", uids: [order[0], order[6]])
        let outcome = try await h.run(
            .copy(destinationFolderId: try await h.folderId("Archive")), ids: extra, ranges: [MailRange(start: start, limit: 100)],
            order: MailSortOrder(field: .date, direction: .ascending))
        #expect(outcome.failedItems.isEmpty)
        let copied = h.messageIDs("Archive")
        #expect(copied.count == 4, "order[0] and order[5...7], order[6] once")
        #expect(Set(copied) == Set(h.messageIDs("INBOX", uids: [order[0], order[5], order[6], order[7]])))
        #expect(outcome.newIds.count == 4)
    }

    @Test func aRangeWhoseStartIsStaleOrGoneFailsItsStartAndActsOnNothing() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", Self.dates.map { MessageSeed(date: $0) })
        let gone = try await h.mailID("INBOX", uid: uids[0])
        h.server.removeMessages(user, "INBOX", uids: [uids[0]])
        let stale = try await h.mailID("INBOX", uid: uids[1], uidValidity: 7)
        let outcome = try await h.run(
            .update(isUnread: nil, isFlagged: true), ids: [],
            ranges: [MailRange(start: gone, limit: 3), MailRange(start: stale, limit: 3), MailRange(start: "bogus", limit: 3)],
            order: MailSortOrder(field: .date, direction: .ascending))
        #expect(outcome.failedItems == [gone, stale, "bogus"])
        #expect(h.server.messages(user, "INBOX").allSatisfy { !$0.has(.flagged) })
    }
}
