import GatewayApp
import Foundation
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IMAPClient
import IMAPCore
import NIOCore
import TestBedSupport
import Testing

/// The six mail batch endpoints over real HTTP against Dovecot; every outcome is checked by doveadm.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct MailBatchEndToEndTests {
    private func ids(_ folderId: String, _ validity: UInt32, _ uids: [UInt32]) -> [String] {
        uids.map { MailID(folderId: folderId, uidValidity: validity, uid: $0).encoded }
    }

    @Test func copyReturnsNewIdsAndLeavesTheSource() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let source = TestBed.uniqueMailbox("GwCopy")
            let dest = TestBed.uniqueMailbox("GwCopyDest")
            let (validity, uids, messageIDs) = try await gw.makeMailbox(source, count: 3)
            _ = try await gw.makeMailbox(dest, count: 0)
            let folders = try await gw.folderIDs(alice)
            let sourceId = try #require(folders[source])
            let destId = try #require(folders[dest])
            let chosen = ids(sourceId, validity, [uids[0], uids[2]])
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/copy", json: ["ids": chosen, "destinationFolderId": destId], auth: alice)
            #expect(reply.status == .ok)
            #expect(reply["status"] as? String == "completed")
            #expect(reply["progress"] as? Int == 100)
            #expect(reply.failedItems.isEmpty)
            #expect(Set(reply.newIds.keys) == Set(chosen))
            let copied = try await gw.bed.look(dest)
            #expect(try await gw.bed.look(source).count == 3)
            #expect(Set(copied.values.map(\.messageID)) == [messageIDs[0], messageIDs[2]])
            for (old, new) in reply.newIds {
                let oldID = try #require(MailID(old))
                let newID = try #require(MailID(new))
                #expect(newID.folderId == destId)
                #expect(copied[newID.uid]?.messageID == messageIDs[uids.firstIndex(of: oldID.uid)!])
            }
        }
    }

    @Test func moveMovesExactlyTheNamedMessages() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let source = TestBed.uniqueMailbox("GwMove")
            let dest = TestBed.uniqueMailbox("GwMoveDest")
            let (validity, uids, messageIDs) = try await gw.makeMailbox(source, count: 4)
            _ = try await gw.makeMailbox(dest, count: 0)
            let folders = try await gw.folderIDs(alice)
            let chosen = ids(folders[source]!, validity, [uids[1], uids[2]])
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/move", json: ["ids": chosen, "destinationFolderId": folders[dest]!], auth: alice)
            #expect(reply.status == .ok)
            #expect(reply.failedItems.isEmpty)
            #expect(reply.newIds.count == 2)
            #expect(Set(try await gw.bed.look(source).keys) == [uids[0], uids[3]])
            #expect(Set(try await gw.bed.look(dest).values.map(\.messageID)) == [messageIDs[1], messageIDs[2]])
        }
    }

    @Test func deleteMovesToTrashThenRemovesPermanentlyInTrash() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let source = TestBed.uniqueMailbox("GwDelete")
            let (validity, uids, messageIDs) = try await gw.makeMailbox(source, count: 2)
            let folders = try await gw.folderIDs(alice)
            let trashId = try #require(folders["Trash"])
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/delete", json: ["ids": ids(folders[source]!, validity, [uids[0]])], auth: alice)
            #expect(reply.status == .ok)
            #expect(reply.failedItems.isEmpty)
            #expect(Set(try await gw.bed.look(source).keys) == [uids[1]])
            let inTrash = try #require(try await gw.bed.look("Trash").values.first { $0.messageID == messageIDs[0] })

            // In Trash, delete removes permanently.
            let trashValidity = try #require(UInt32(try await gw.bed.status("Trash", "uidvalidity")["uidvalidity"] ?? ""))
            let again = try await gw.request(
                .post, "/api/v1/batch/mails/delete", json: ["ids": ids(trashId, trashValidity, [inTrash.uid])], auth: alice)
            #expect(again.status == .ok)
            #expect(again.failedItems.isEmpty)
            #expect(try await gw.bed.look("Trash")[inTrash.uid] == nil)
        }
    }

    /// With deleteToTrash off, delete expunges exactly the batch: a message that already carried
    /// \Deleted, but is not in the batch, survives.
    @Test func permanentDeleteSparesAPreexistingDeletedMessage() async throws {
        try await GatewayHarness.run(configure: { $0.deleteToTrash = false }) { gw in
            let alice = gw.bed.alice
            let source = TestBed.uniqueMailbox("GwPurge")
            let (validity, uids, _) = try await gw.makeMailbox(source, count: 3, flags: [[], [], [.deleted]])
            let folders = try await gw.folderIDs(alice)
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/delete", json: ["ids": ids(folders[source]!, validity, [uids[0]])], auth: alice)
            #expect(reply.status == .ok)
            #expect(reply.failedItems.isEmpty)
            let look = try await gw.bed.look(source)
            #expect(Set(look.keys) == [uids[1], uids[2]])
            #expect(look[uids[2]]?.flags.contains("\\deleted") == true)
            #expect(look[uids[1]]?.flags.contains("\\deleted") == false)
        }
    }

    @Test func updateSetsSeenAndFlagged() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let source = TestBed.uniqueMailbox("GwUpdate")
            let (validity, uids, _) = try await gw.makeMailbox(source, count: 3, flags: [[.seen], [], []])
            let folders = try await gw.folderIDs(alice)
            let chosen = ids(folders[source]!, validity, [uids[0], uids[1]])
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/update", json: ["ids": chosen, "isUnread": true, "isFlagged": true], auth: alice)
            #expect(reply.status == .ok)
            #expect(reply.failedItems.isEmpty)
            var look = try await gw.bed.look(source)
            #expect(look[uids[0]]?.flags.contains("\\seen") == false)
            #expect(look[uids[0]]?.flags.contains("\\flagged") == true)
            #expect(look[uids[1]]?.flags.contains("\\flagged") == true)
            #expect(look[uids[2]]?.flags.contains("\\flagged") == false)

            let read = try await gw.request(
                .post, "/api/v1/batch/mails/update", json: ["ids": [chosen[1]], "isUnread": false], auth: alice)
            #expect(read.status == .ok)
            look = try await gw.bed.look(source)
            #expect(look[uids[1]]?.flags.contains("\\seen") == true)
            #expect(look[uids[1]]?.flags.contains("\\flagged") == true, "isFlagged absent: unchanged")
        }
    }

    @Test func labelsAddAndRemoveAsKeywords() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let source = TestBed.uniqueMailbox("GwLabel")
            let (validity, uids, _) = try await gw.makeMailbox(source, count: 2)
            let folders = try await gw.folderIDs(alice)
            let name = "Très important \(UUID().uuidString.prefix(6))"
            let created = try await gw.request(.post, "/api/v1/labels", json: ["name": name], auth: alice)
            #expect(created.status == .created)
            let labelId = try #require(created["id"] as? String)
            let chosen = ids(folders[source]!, validity, uids)
            let added = try await gw.request(
                .post, "/api/v1/batch/mails/labels/add", json: ["ids": chosen, "labelId": labelId], auth: alice)
            #expect(added.status == .ok)
            #expect(added.failedItems.isEmpty)
            let keywords = try await gw.bed.look(source)[uids[0]]?.flags.filter { $0.hasPrefix("$gw_") } ?? []
            #expect(keywords.count == 1, "a name with spaces gets a generated keyword")
            #expect(try await gw.bed.look(source)[uids[1]]?.flags.isSuperset(of: keywords) == true)

            let removed = try await gw.request(
                .post, "/api/v1/batch/mails/labels/remove", json: ["ids": [chosen[0]], "labelId": labelId], auth: alice)
            #expect(removed.status == .ok)
            let look = try await gw.bed.look(source)
            #expect(look[uids[0]]?.flags.isDisjoint(with: keywords) == true)
            #expect(look[uids[1]]?.flags.isSuperset(of: keywords) == true)
        }
    }

    /// Good, stale (UIDVALIDITY changed), unknown, malformed and already-moved IDs in one batch:
    /// exactly the bad ones fail, the good ones are carried out.
    @Test func mixedBatchFailsExactlyTheBadItems() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let good = TestBed.uniqueMailbox("GwMixed")
            let staleBox = TestBed.uniqueMailbox("GwStale")
            let dest = TestBed.uniqueMailbox("GwMixedDest")
            let (validity, uids, messageIDs) = try await gw.makeMailbox(good, count: 3)
            let (staleValidity, staleUIDs, _) = try await gw.makeMailbox(staleBox, count: 1)
            _ = try await gw.makeMailbox(dest, count: 0)
            let folders = try await gw.folderIDs(alice)
            let staleID = ids(folders[staleBox]!, staleValidity, staleUIDs)[0]

            // Recreate the stale folder: same name and folder ID, new UIDVALIDITY, a message at the same UID.
            let connection = try await gw.bed.connect()
            try await connection.delete(MailboxName(staleBox))
            connection.close()
            let (newValidity, newUIDs, _) = try await gw.makeMailbox(staleBox, count: 1)
            #expect(newValidity != staleValidity)
            #expect(newUIDs == staleUIDs)

            // One of the good folder's messages is moved away behind the gateway's back.
            let other = try await gw.bed.connect()
            try await other.select(MailboxName(good))
            _ = try await other.uidMove([uids[2]], to: .inbox)
            other.close()

            let goodIDs = ids(folders[good]!, validity, [uids[0], uids[1]])
            let goneID = ids(folders[good]!, validity, [uids[2]])[0]
            let unknownFolderID = MailID(folderId: "NoSuchFolder", uidValidity: validity, uid: uids[0]).encoded
            let malformed = "not-a-mail-id"
            let missingUID = ids(folders[good]!, validity, [uids[2] + 1000])[0]
            let batch = [goodIDs[0], staleID, unknownFolderID, goneID, malformed, goodIDs[1], missingUID, goodIDs[0]]
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/move", json: ["ids": batch, "destinationFolderId": folders[dest]!], auth: alice)
            #expect(reply.status == .ok)
            #expect(reply.failedItems == [staleID, unknownFolderID, goneID, malformed, missingUID])
            #expect(Set(reply.newIds.keys) == Set(goodIDs))
            #expect(Set(try await gw.bed.look(dest).values.map(\.messageID)) == [messageIDs[0], messageIDs[1]])
            #expect(try await gw.bed.look(good).isEmpty)
            #expect(try await gw.bed.look(staleBox).count == 1, "the recreated folder's message was not touched")
        }
    }

    @Test func oneAccountCannotTouchAnothersMail() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let bob = gw.bed.bob
            let box = TestBed.uniqueMailbox("GwAlice")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 2)
            let aliceFolders = try await gw.folderIDs(alice)
            let aliceIDs = ids(aliceFolders[box]!, validity, uids)
            let before = try await gw.bed.look(box)
            let bobFolders = try await gw.folderIDs(bob)
            #expect(bobFolders[box] == nil)
            #expect(Set(bobFolders.values).isDisjoint(with: [aliceFolders[box]!]))

            let deleted = try await gw.request(.post, "/api/v1/batch/mails/delete", json: ["ids": aliceIDs], auth: bob)
            #expect(deleted.status == .ok)
            #expect(deleted.failedItems == aliceIDs)
            let updated = try await gw.request(
                .post, "/api/v1/batch/mails/update", json: ["ids": aliceIDs, "isFlagged": true], auth: bob)
            #expect(updated.failedItems == aliceIDs)
            // Bob cannot use alice's folder as a destination either.
            let bobBox = TestBed.uniqueMailbox("GwBob")
            let (bobValidity, bobUIDs, _) = try await gw.makeMailbox(bobBox, count: 1, as: bob)
            let bobFolderId = try #require(try await gw.folderIDs(bob)[bobBox])
            let moved = try await gw.request(
                .post, "/api/v1/batch/mails/move",
                json: ["ids": ids(bobFolderId, bobValidity, bobUIDs), "destinationFolderId": aliceFolders[box]!], auth: bob)
            #expect(moved.status == .notFound)
            #expect(moved.errorCode == "folderNotFound")
            #expect(try await gw.bed.look(box) == before)
            #expect(try await gw.bed.look(bobBox, user: bob.user).count == 1)
        }
    }

    /// 10,000 messages moved by one synchronous request (threshold raised above it): one SELECT,
    /// a few commands, every message accounted for.
    @Test func tenThousandIdsMoveInOneRequest() async throws {
        try await GatewayHarness.run(configure: { $0.asyncThreshold = 20_000 }) { gw in
            let alice = gw.bed.gina  // an account of its own for very large folders (see TestBed.dave)
            let source = TestBed.uniqueMailbox("GwBig")
            let dest = TestBed.uniqueMailbox("GwBigDest")
            try await gw.bed.fill(source, count: 10_000, user: alice.user)
            _ = try await gw.makeMailbox(dest, count: 0, as: alice)
            let folders = try await gw.folderIDs(alice)
            let validity = try #require(UInt32(try await gw.bed.status(source, "uidvalidity", user: alice.user)["uidvalidity"] ?? ""))
            let all = try await gw.bed.search(source, user: alice.user).values
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/move", json: ["ids": ids(folders[source]!, validity, all), "destinationFolderId": folders[dest]!],
                auth: alice)
            #expect(reply.status == .ok)
            #expect(reply.failedItems.isEmpty)
            #expect(reply.newIds.count == 10_000)
            #expect(try await gw.bed.search(source, user: alice.user).isEmpty)
            #expect(try await gw.bed.search(dest, user: alice.user).count == 10_000)
        }
    }
}
