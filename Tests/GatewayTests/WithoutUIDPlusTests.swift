import Foundation
import GatewayApp
import GatewayCore
import HTTPTypes
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// A server without MOVE and without UIDPLUS (GNU Mailutils imap4d is one): it has no `UID EXPUNGE`,
/// so nothing can expunge exactly a batch's messages while other clients may be flagging others
/// `\Deleted`. Through a proxy that truly lacks both (integration/refusing-proxy.py), moves, deletes
/// to Trash and permanent deletes are answered `502 upstreamUnsupported` and change nothing — a
/// `\Deleted` message outside the batch stays too — while copy and update work. Checked with the
/// bed's independent look, never through the proxy.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct WithoutUIDPlusTests {
    @Test func movesAndDeletesAreRefusedBeforeAnythingChangesWhileCopyAndUpdateWork() async throws {
        let bed = try TestBed.require()
        let proxy = try RefusingProxy(targetPort: bed.dovecotPort, refusing: ["MOVE", "UIDPLUS"])
        defer { proxy.stop() }
        try await GatewayHarness.run(configure: { $0.imap.port = proxy.port }) { gw in
            let alice = gw.bed.alice
            let source = TestBed.uniqueMailbox("GwNoPlus")
            let dest = TestBed.uniqueMailbox("GwNoPlusDest")
            let inTrash = "Trash/" + TestBed.uniqueMailbox("GwNoPlus")
            // The fourth message carries \Deleted and is never named: no command may expunge it.
            let (validity, uids, messageIDs) = try await gw.makeMailbox(source, count: 4, flags: [[], [], [], [.deleted]])
            _ = try await gw.makeMailbox(dest, count: 0)
            let (trashValidity, trashUIDs, _) = try await gw.makeMailbox(inTrash, count: 2)
            let sourceBefore = try await gw.bed.look(source)
            let inTrashBefore = try await gw.bed.look(inTrash)
            #expect(sourceBefore.count == 4)

            let folders = try await gw.folderIDs(alice)
            let sourceID = try #require(folders[source])
            let destID = try #require(folders[dest])
            let inTrashID = try #require(folders[inTrash], "\(folders.keys.sorted())")
            let named = [uids[0], uids[1]].map { MailID(folderId: sourceID, uidValidity: validity, uid: $0).encoded }

            let move = try await gw.request(.post, "/api/v1/batch/mails/move", json: ["ids": named, "destinationFolderId": destID], auth: alice)
            #expect(move.status == .badGateway)
            #expect(move.errorCode == "upstreamUnsupported")
            let toTrash = try await gw.request(.post, "/api/v1/batch/mails/delete", json: ["ids": named], auth: alice)
            #expect(toTrash.status == .badGateway)
            #expect(toTrash.errorCode == "upstreamUnsupported")
            let permanent = try await gw.request(
                .post, "/api/v1/batch/mails/delete",
                json: ["ids": [MailID(folderId: inTrashID, uidValidity: trashValidity, uid: trashUIDs[0]).encoded]], auth: alice)
            #expect(permanent.status == .badGateway)
            #expect(permanent.errorCode == "upstreamUnsupported")

            #expect(try await gw.bed.look(source) == sourceBefore, "the source is untouched, its \\Deleted message included")
            #expect(try await gw.bed.look(dest).isEmpty)
            // alice's Trash is shared with tests running meanwhile: none of these messages is there.
            let trash = Set(try await gw.bed.look("Trash").values.map(\.messageID))
            #expect(trash.isDisjoint(with: messageIDs))
            #expect(try await gw.bed.look(inTrash) == inTrashBefore)

            // What needs no expunge still works: COPY (no COPYUID, so no newIds) and flag updates.
            let copy = try await gw.request(.post, "/api/v1/batch/mails/copy", json: ["ids": named, "destinationFolderId": destID], auth: alice)
            #expect(copy.status == .ok)
            #expect(copy.failedItems.isEmpty)
            #expect(copy.newIds.isEmpty)
            #expect(Set(try await gw.bed.look(dest).values.map(\.messageID)) == [messageIDs[0], messageIDs[1]])
            let update = try await gw.request(.post, "/api/v1/batch/mails/update", json: ["ids": named, "isFlagged": true], auth: alice)
            #expect(update.status == .ok)
            #expect(update.failedItems.isEmpty)
            #expect(try await gw.bed.search(source, ["FLAGGED"]) == UIDSet([uids[0], uids[1]]))
            #expect(try await gw.bed.look(source).count == 4)
        }
    }
}
