import Foundation
import GatewayCore
import GatewayFakes
import GatewayHTTP
import HTTPTypes
import IMAPCore
import Testing

/// Mail batches over HTTP: the answer's shape and what the fake mailboxes show afterwards.
struct BatchEndpointTests {
    /// The keys of a synchronous answer: no `jobKey`, and `newIds` only for copy and move.
    static func expectCompleted(_ reply: Reply, newIds: Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(reply.status == .ok, "\(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.isJSON, sourceLocation: sourceLocation)
        #expect(reply.object.keys.sorted() == ["batchOperationDetails", "progress", "status"], sourceLocation: sourceLocation)
        #expect(reply["status"] as? String == "completed", sourceLocation: sourceLocation)
        #expect(number(reply["progress"]) == 100, sourceLocation: sourceLocation)
        let keys = reply.details?.keys.sorted()
        #expect(keys == (newIds ? ["failedItems", "newIds"] : ["failedItems"]), sourceLocation: sourceLocation)
    }

    @Test func updateMarksExactlyTheNamedMessagesAndReportsUnknownOnes() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 4) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2, 3, 4])
            let unknown = try await gw.mailIDs("INBOX", uids: [99])[0]
            let reply = try await gw.batch("update", ["ids": [ids[0], ids[2], unknown, "garbage"], "isUnread": false, "isFlagged": true])
            Self.expectCompleted(reply, newIds: false)
            #expect(Set(reply.failedItems ?? []) == [unknown, "garbage"])
            let inbox = gw.messages("INBOX")
            #expect(inbox.filter { $0.has(.seen) }.map(\.uid) == [1, 3])
            #expect(inbox.filter { $0.has(.flagged) }.map(\.uid) == [1, 3])

            let undo = try await gw.batch("update", ["ids": [ids[0]], "isUnread": true])
            Self.expectCompleted(undo, newIds: false)
            #expect(undo.failedItems == [])
            #expect(gw.messages("INBOX").filter { $0.has(.seen) }.map(\.uid) == [3])
            // isFlagged was not given: left as it was.
            #expect(gw.messages("INBOX").filter { $0.has(.flagged) }.map(\.uid) == [1, 3])
        }
    }

    /// The exact body of SPEC §3 for a synchronous batch.
    @Test func completedBatchBodyIsExactlyTheSpecShape() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 1) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1])
            let reply = try await gw.batch("update", ["ids": ids, "isFlagged": true])
            #expect(reply.status == .ok)
            #expect(reply.text == #"{"batchOperationDetails":{"failedItems":[]},"progress":100,"status":"completed"}"#)
            #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }

    @Test func moveLeavesTheSourceAndReportsNewIdsOfTheDestination() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 3) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2, 3])
            let moved = gw.messages("INBOX").filter { $0.uid != 2 }.compactMap(\.messageID)
            let archiveId = try await gw.folderId("Archive")
            let reply = try await gw.batch("move", ["ids": [ids[0], ids[2]], "destinationFolderId": archiveId])
            Self.expectCompleted(reply, newIds: true)
            #expect(reply.failedItems == [])
            #expect(gw.messages("INBOX").map(\.uid) == [2])
            #expect(Set(gw.messages("Archive").compactMap(\.messageID)) == Set(moved))

            let newIds = try #require(reply.newIds)
            #expect(Set(newIds.keys) == [ids[0], ids[2]])
            let archive = try #require(gw.server.mailbox(alice, "Archive"))
            for (old, new) in newIds {
                let newID = try #require(MailID(new))
                #expect(newID.folderId == archiveId)
                #expect(newID.uidValidity == archive.uidValidity)
                // The new ID names the same message the old one did.
                let oldIndex = ids.firstIndex(of: old)!
                #expect(archive.message(uid: newID.uid)?.messageID == moved[oldIndex == 0 ? 0 : 1])
            }
        }
    }

    @Test func copyKeepsTheSourceAndStaleIdsFail() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 2) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2])
            let stale = try await gw.harness.mailID("INBOX", uid: 1, uidValidity: 42)
            let reply = try await gw.batch("copy", ["ids": ids + [stale], "destinationFolderId": try await gw.folderId("Archive")])
            Self.expectCompleted(reply, newIds: true)
            #expect(reply.failedItems == [stale])
            #expect(reply.newIds?.count == 2)
            #expect(gw.messages("INBOX").count == 2)
            #expect(gw.messages("Archive").compactMap(\.messageID) == gw.messages("INBOX").compactMap(\.messageID))
        }
    }

    @Test func deleteMovesToTrash() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 2) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2])
            let doomed = gw.messages("INBOX")[0].messageID
            let reply = try await gw.batch("delete", ["ids": [ids[0]]])
            Self.expectCompleted(reply, newIds: false)
            #expect(gw.messages("INBOX").map(\.uid) == [2])
            #expect(gw.messages("Trash").map(\.messageID) == [doomed])
        }
    }

    @Test func deleteInTrashRemovesPermanentlyOnlyTheNamedMessages() async throws {
        try await TestGateway.run(setUp: { server in
            server.seed(alice, "Trash", count: 3)
            server.setFlags(alice, "Trash", uids: [3], add: [.deleted])  // another client's \Deleted: must survive
        }) { gw in
            let ids = try await gw.mailIDs("Trash", uids: [1, 2, 3])
            let reply = try await gw.batch("delete", ["ids": [ids[0]]])
            Self.expectCompleted(reply, newIds: false)
            #expect(reply.failedItems == [])
            #expect(gw.messages("Trash").map(\.uid) == [2, 3])
        }
    }

    /// `ids` and `ranges` act on their union: a mail named twice is copied once, and fails nowhere.
    @Test func duplicateItemsAreActedOnOnce() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 3) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2, 3])
            let reply = try await gw.batch(
                "copy",
                [
                    "ids": [ids[0], ids[0], ids[1]], "ranges": [["start": ids[0], "limit": 2]],
                    "sortInfo": ["field": "date", "direction": "ASC"], "destinationFolderId": try await gw.folderId("Archive"),
                ])
            Self.expectCompleted(reply, newIds: true)
            #expect(reply.failedItems == [])
            #expect(gw.messages("Archive").count == 2)
            #expect(Set(reply.newIds?.keys.map { $0 } ?? []) == [ids[0], ids[1]])
        }
    }

    /// `maxItems` and `maxRanges` are the most allowed, not the first refused.
    @Test func itemAndRangeLimitsAreInclusive() async throws {
        try await TestGateway.run(
            api: {
                $0.maxItems = 3
                $0.maxRanges = 2
            },
            setUp: { $0.seed(alice, "INBOX", count: 4) }
        ) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2, 3, 4])
            #expect(try await gw.batch("update", ["ids": Array(ids[0..<3]), "isFlagged": true]).status == .ok)
            #expect(try await gw.batch("update", ["ids": ids, "isFlagged": true]).status == .contentTooLarge)
            let sort = ["field": "date", "direction": "ASC"]
            let two = try await gw.batch(
                "update", ["ranges": [["start": ids[0], "limit": 3], ["start": ids[3], "limit": 1]], "sortInfo": sort, "isUnread": false])
            #expect(two.status == .ok, "\(two.text)")
            #expect(gw.messages("INBOX").allSatisfy { $0.has(.seen) })
            let three = try await gw.batch(
                "update",
                ["ranges": Array(repeating: ["start": ids[0], "limit": 1] as [String: Any], count: 3), "sortInfo": sort, "isUnread": true])
            #expect(three.status == .contentTooLarge)
            #expect(three.errorCode == "tooManyRanges")
            #expect(gw.messages("INBOX").allSatisfy { $0.has(.seen) })
        }
    }

    @Test func labelAddAndRemoveSetTheLabelsKeyword() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 3) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2, 3])
            let created = try await gw.request(.post, "/api/v1/labels", body: #"{"name": "Work"}"#)
            let labelId = try #require(created["id"] as? String)
            let add = try await gw.batch("labels/add", ["ids": [ids[0], ids[1]], "labelId": labelId])
            Self.expectCompleted(add, newIds: false)
            #expect(gw.messages("INBOX").filter { $0.has(Flag("Work")) }.map(\.uid) == [1, 2])
            let remove = try await gw.batch("labels/remove", ["ids": [ids[1]], "labelId": labelId])
            Self.expectCompleted(remove, newIds: false)
            #expect(gw.messages("INBOX").filter { $0.has(Flag("Work")) }.map(\.uid) == [1])
        }
    }

    /// A range acts on exactly the items the listing shows from its start, in the same order.
    @Test func rangeActsOnTheListingWindow() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 6) }) { gw in
            let folderId = try await gw.folderId("INBOX")
            let listing = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&sort=subject&dir=DESC")
            let listed = listing.items.compactMap { $0["id"] as? String }
            #expect(listed.count == 6)
            let reply = try await gw.batch(
                "update",
                ["ranges": [["start": listed[1], "limit": 3]], "sortInfo": ["field": "subject", "direction": "DESC"], "isFlagged": true])
            Self.expectCompleted(reply, newIds: false)
            let flagged = Set(gw.messages("INBOX").filter { $0.has(.flagged) }.map(\.uid))
            #expect(flagged == Set(listed[1...3].compactMap { MailID($0)?.uid }))
            #expect(flagged.count == 3)
        }
    }

    @Test func batchOverAsyncThresholdIs201WithJobKeyAndTheJobCompletes() async throws {
        try await TestGateway.run(
            batch: .init(asyncThreshold: 3, jobChunkSize: 2),
            setUp: { $0.seed(alice, "INBOX", count: 6) }
        ) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2, 3, 4, 5])
            let unknown = try await gw.mailIDs("INBOX", uids: [77])[0]
            let archiveId = try await gw.folderId("Archive")
            let started = try await gw.batch("move", ["ids": ids + [unknown], "destinationFolderId": archiveId])
            #expect(started.status == .created, "\(started.text)")
            #expect(started.object.keys.sorted() == ["batchOperationDetails", "jobKey", "progress", "status"])
            #expect(started["status"] as? String == "inProgress")
            #expect(started.newIds == nil)
            let key = try #require(started["jobKey"] as? String)
            #expect(key.count == 43)
            let firstProgress = try #require(number(started["progress"]))
            #expect(firstProgress >= 0 && firstProgress < 100)

            var last = started
            var progress: [Double] = [firstProgress]
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                last = try await gw.request(.get, "/api/v1/batch/jobs/\(key)")
                #expect(last.status == .ok, "\(last.text)")
                progress.append(number(last["progress"]) ?? -1)
                if last["status"] as? String == "completed" { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(last["status"] as? String == "completed")
            #expect(last.object.keys.sorted() == ["batchOperationDetails", "jobKey", "progress", "status"])
            #expect(last["jobKey"] as? String == key)
            #expect(number(last["progress"]) == 100)
            #expect(progress == progress.sorted(), "progress is monotonic: \(progress)")
            #expect(last.failedItems == [unknown])
            #expect(last.newIds == nil)
            #expect(gw.messages("INBOX").map(\.uid) == [6])
            #expect(gw.messages("Archive").count == 5)
        }
    }

    @Test(arguments: ["no-such-job", "yR3nB8qLw0ZkT5vXe2MdH7cJa9UpS4gFo1NtKiW6bQs", "%20"])
    func unknownJobKeyIs404(_ key: String) async throws {
        try await TestGateway.run { gw in
            let reply = try await gw.request(.get, "/api/v1/batch/jobs/\(key)")
            #expect(reply.status == .notFound, "\(reply.text)")
            #expect(reply.isErrorBody)
            #expect(reply.errorCode == "jobNotFound")
            #expect(reply.errorField == "jobKey")
        }
    }

    /// A batch refused by its checks creates no job (the check happens before the threshold).
    @Test func refusedBatchOverTheThresholdStartsNoJob() async throws {
        try await TestGateway.run(
            batch: .init(asyncThreshold: 1),
            setUp: { $0.seed(alice, "INBOX", count: 3) }
        ) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2, 3])
            let reply = try await gw.batch("move", ["ids": ids, "destinationFolderId": "no-such-folder"])
            #expect(reply.status == .notFound)
            #expect(reply.errorCode == "folderNotFound")
            try await Task.sleep(for: .milliseconds(50))
            #expect(gw.messages("INBOX").count == 3)
            #expect(gw.changingCommands.isEmpty)
        }
    }
}
