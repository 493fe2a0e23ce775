import GatewayApp
import Foundation
import GatewayCore
import GatewayHTTP
import HTTPTypes
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// A connection that breaks after the server acted is not "nothing changed": the batch goes on over
/// a fresh connection and re-derives what the lost answer would have said (issue 13, finding 12).
/// A proxy in front of Dovecot (`integration/cutting-proxy.py`) passes one command on and loses its answer.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct BatchRecoveryTests {
    /// Starts the proxy in front of the test bed, cutting the answer to the first `command`.
    static func startProxy(_ bed: TestBed, cutting command: String) throws -> LoopbackScript {
        try LoopbackScript("cutting-proxy.py", arguments: ["--target-port", "\(bed.port)", "--cut", command])
    }

    @Test func aCopyWhoseAnswerIsLostIsMadeOnceAndReported() async throws {
        let bed = try TestBed.require()
        let proxy = try Self.startProxy(bed, cutting: " UID COPY ")
        defer { proxy.stop() }
        try await GatewayHarness.run(configure: { $0.imap.port = proxy.port }) { gw in
            let source = TestBed.uniqueMailbox("GwCutSrc")
            let destination = TestBed.uniqueMailbox("GwCutDst")
            let (validity, uids, messageIDs) = try await gw.makeMailbox(source, count: 3, as: gw.bed.bob)
            _ = try await gw.makeMailbox(destination, count: 0, as: gw.bed.bob)
            let folders = try await gw.folderIDs(gw.bed.bob)
            let ids = uids.map { MailID(folderId: folders[source]!, uidValidity: validity, uid: $0).encoded }
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/copy", json: ["ids": ids, "destinationFolderId": folders[destination]!], auth: gw.bed.bob)
            #expect(reply.status == .ok, "\(reply.status) \(reply.errorCode ?? "")")
            #expect(reply.failedItems.isEmpty)
            let copies = try await gw.bed.look(destination, user: gw.bed.bob.user).values.map(\.messageID)
            #expect(copies.sorted() == messageIDs.sorted(), "each message copied exactly once")
            #expect(try await gw.bed.look(source, user: gw.bed.bob.user).count == 3)
        }
    }

    @Test func aPermanentDeleteWhoseAnswerIsLostLeavesNoDeletedFlagBehind() async throws {
        let bed = try TestBed.require()
        let proxy = try Self.startProxy(bed, cutting: " UID EXPUNGE ")
        defer { proxy.stop() }
        try await GatewayHarness.run(configure: {
            $0.imap.port = proxy.port
            $0.deleteToTrash = false
        }) { gw in
            let source = TestBed.uniqueMailbox("GwCutDel")
            let (validity, uids, _) = try await gw.makeMailbox(source, count: 4, as: gw.bed.bob)
            let folders = try await gw.folderIDs(gw.bed.bob)
            let ids = uids.prefix(2).map { MailID(folderId: folders[source]!, uidValidity: validity, uid: $0).encoded }
            let reply = try await gw.request(.post, "/api/v1/batch/mails/delete", json: ["ids": ids], auth: gw.bed.bob)
            #expect(reply.status == .ok, "\(reply.status) \(reply.errorCode ?? "")")
            #expect(reply.failedItems.isEmpty)
            let left = try await gw.bed.look(source, user: gw.bed.bob.user)
            #expect(Set(left.keys) == Set(uids.suffix(2)))
            #expect(left.values.allSatisfy { !$0.flags.contains("\\deleted") })
        }
    }

    /// `ids` and `ranges` count as their union without duplicates against `batch.maxItems`, and
    /// resolution stops at the first item over it (issue 13, finding 5).
    @Test func maxItemsCountsDistinctItemsAsTheyResolve() async throws {
        try await GatewayHarness.run(configure: { $0.maxItems = 5 }) { gw in
            let box = TestBed.uniqueMailbox("GwMaxItems")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 8, as: gw.bed.bob)
            let folders = try await gw.folderIDs(gw.bed.bob)
            let ids = uids.map { MailID(folderId: folders[box]!, uidValidity: validity, uid: $0).encoded }
            let listing = try await gw.request(.get, "/api/v1/mails?folderId=\(folders[box]!)&sort=date&dir=ASC&limit=8", auth: gw.bed.bob)
            let ordered = ((listing["items"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
            #expect(ordered.count == 8)
            let sort: [String: Any] = ["field": "date", "direction": "ASC"]
            // Two identical ranges of 5 plus ids inside them: 5 distinct items, allowed.
            let same = try await gw.request(
                .post, "/api/v1/batch/mails/update",
                json: ["ids": Array(ordered.prefix(3)), "ranges": [["start": ordered[0], "limit": 5], ["start": ordered[0], "limit": 5]],
                       "sortInfo": sort, "isFlagged": true], auth: gw.bed.bob)
            #expect(same.status == .ok, "\(same.status) \(same.errorCode ?? "")")
            #expect(same.failedItems.isEmpty)
            let flagged = try await gw.bed.look(box, user: gw.bed.bob.user).filter { $0.value.flags.contains("\\flagged") }
            #expect(flagged.count == 5)
            // Six distinct items: refused before anything changes.
            let over = try await gw.request(
                .post, "/api/v1/batch/mails/update",
                json: ["ids": [ids[7]], "ranges": [["start": ordered[0], "limit": 5]], "sortInfo": sort, "isUnread": false],
                auth: gw.bed.bob)
            #expect(over.status == .contentTooLarge)
            #expect(over.errorCode == "tooManyItems")
            #expect(try await gw.bed.look(box, user: gw.bed.bob.user).values.allSatisfy { !$0.flags.contains("\\seen") })
        }
    }
}
