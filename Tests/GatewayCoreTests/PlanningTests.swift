import GatewayFakes
import IMAPCore
import Testing

@testable import GatewayCore

/// How a batch's IDs become per-folder groups and chunks: grouping, duplicates and undecodable IDs
/// (pure), and chunks bounded by `maxUIDs` and by the server's line limit (on the fake).
@Suite struct PlanningTests {
    @Test func groupsFollowFirstAppearanceAndDuplicatesCountOnce() {
        let b1 = MailID(folderId: "B", uidValidity: 5, uid: 1).encoded
        let b2 = MailID(folderId: "B", uidValidity: 5, uid: 2).encoded
        let a9 = MailID(folderId: "A", uidValidity: 5, uid: 9).encoded
        let plan = BatchPlan(ids: [b1, "@@", a9, b2, "@@", b1, a9, "%"])
        #expect(plan.distinctIDs == [b1, "@@", a9, b2, "%"])
        #expect(plan.undecodable == ["@@", "%"], "each undecodable ID once, in request order")
        #expect(plan.folders.map(\.folderId) == ["B", "A"])
        #expect(plan.folders[0].ids == [1: b1, 2: b2])
        #expect(plan.folders[0].clientIDs(UIDSet([2, 3])) == [b2], "UIDs outside the group have no client ID")
        #expect(plan.ordered(["%", b2, "@@", "unknown"]) == ["@@", b2, "%"])
    }

    /// IDs that decode to nothing usable fail without any IMAP traffic.
    @Test(arguments: [
        "", "A_1_2", "QV8xXzI=", "QV8wXzE", "QV8xXzA", "QV8xXzQyOTQ5NjcyOTY", "QV8xXzE_Mg", String(repeating: "A", count: 201),
        "YS1iXzFfMg", "QV8xXzJ", "QV8xXzEwMB", "QV8xXzEwMC",
    ])
    func undecodableIDsAreSetAside(id: String) {
        // "QV8wXzE" = A_0_1 (UIDVALIDITY 0), "QV8xXzA" = A_1_0 (UID 0), "QV8xXzQyOTQ5NjcyOTY" = A_1_4294967296,
        // "QV8xXzE_Mg" = A_1_1?2, "YS1iXzFfMg" = a-b_1_2 (folder ID not alphanumeric); not canonical:
        // "QV8xXzJ" (A_1_2, whose canonical form ends in I), "QV8xXzEwMB" and "QV8xXzEwMC" (A_1_100,
        // canonically QV8xXzEwMA: the last digit's unused bits set).
        let good = MailID(folderId: "A", uidValidity: 1, uid: 2).encoded
        #expect(good == "QV8xXzI")
        #expect(MailID(folderId: "A", uidValidity: 1, uid: 100).encoded == "QV8xXzEwMA")
        let plan = BatchPlan(ids: [id, good])
        #expect(plan.undecodable == [id])
        #expect(plan.folders.count == 1)
        #expect(plan.folders.first?.uids == [2])
    }

    /// (maxUIDs, line limit, the fewest chunks there must be) over 20 UIDs that do not compress
    /// into ranges (every other UID).
    @Test(arguments: [(5000, 8192, 1), (7, 8192, 3), (5000, 60, 2), (3, 60, 7), (1, 8192, 20)])
    func chunksAreBoundedByMaxUIDsAndByTheLineLimit(maxUIDs: Int, lineLimit: Int, fewest: Int) async throws {
        let h = try EngineHarness.make(lineLimit: lineLimit)
        let uids = h.server.seed(user, "INBOX", count: 40)
        let chosen = uids.filter { $0 % 2 == 1 }
        let ids = try await h.mailIDs("INBOX", uids: chosen)
        let archiveId = try await h.folderId("Archive")
        let chunks = try await h.server.withSession(h.credentials) { session in
            let directory = try await MailboxDirectory.load(session: session, store: h.database, account: user)
            let plan = BatchPlan(ids: ids)
            var work = BatchWork(
                operation: .copy(destinationFolderId: archiveId), keyword: nil, session: session, configuration: .init(),
                logger: EngineHarness.logger)
            try await work.prepare(directory, plan: plan)
            return try await work.plan(plan.folders[0], directory: directory, maxUIDs: maxUIDs)
        }
        #expect(chunks.count >= fewest)
        if lineLimit == 8192 { #expect(chunks.count == (chosen.count + maxUIDs - 1) / maxUIDs, "the line limit plays no part") }
        #expect(chunks.flatMap(\.uids) == chosen, "every UID once, in ascending order")
        for chunk in chunks {
            #expect(chunk.uids.count <= maxUIDs)
            let line = try CommandEncoder().encode(
                .uidCopy(chunk.uidSet, MailboxName("Archive")), tag: String(repeating: "A", count: CommandEncoder.maxTagLength))
            #expect(line.longestLineLength <= lineLimit)
            #expect(chunk.action == .transfer(move: false, destinationId: archiveId, destinationMailbox: Array("Archive".utf8), reportNewIds: true))
        }
    }

    /// Through the engine: with a small line limit a move is several `UID MOVE` commands, each
    /// fitting the line, and every message moves.
    @Test func aSmallLineLimitMakesSeveralMoveCommandsThatEachFit() async throws {
        let h = try EngineHarness.make(lineLimit: 64)
        let uids = h.server.seed(user, "INBOX", count: 60)
        let chosen = uids.filter { $0 % 3 != 0 }
        let moved = h.messageIDs("INBOX", uids: chosen)
        let ids = try await h.mailIDs("INBOX", uids: chosen)
        let outcome = try await h.run(.move(destinationFolderId: try await h.folderId("Archive")), ids: ids)
        #expect(outcome.failedItems.isEmpty)
        #expect(Set(h.messageIDs("Archive")) == Set(moved))
        let moves = h.server.commands(.move)
        #expect(moves.count > 1)
        for command in moves {
            #expect(try CommandEncoder().encode(command, tag: "A123456789").longestLineLength <= 64)
        }
        #expect(moves.compactMap(\.uidSet).reduce(UIDSet()) { $0.union($1) } == UIDSet(chosen))
    }

    /// `maxUIDsPerCommand` bounds each command of a synchronous batch.
    @Test func maxUIDsPerCommandBoundsEachStore() async throws {
        let h = try EngineHarness.make(batch: .init(maxUIDsPerCommand: 4))
        let uids = h.server.seed(user, "INBOX", count: 10)
        let outcome = try await h.run(.update(isUnread: false, isFlagged: nil), ids: try await h.mailIDs("INBOX", uids: uids))
        #expect(outcome.failedItems.isEmpty)
        let stores = h.server.commands(.store).compactMap(\.uidSet)
        #expect(stores.map(\.count) == [4, 4, 2])
        #expect(h.server.messages(user, "INBOX").allSatisfy { $0.has(.seen) })
    }
}
