import Foundation
import GatewayCore
import GatewayFakes
import GatewayStore
import HTTPTypes
import IMAPCore
import Testing

/// Listings and flag changes reuse a recent LIST of the account's folders (`listing.folderListSeconds`),
/// while the answers stay those of a fresh LIST: a folder made elsewhere is found at once, a folder
/// deleted elsewhere is 404 at once, and moves and deletes always list afresh.
@Suite struct FolderListCacheTests {
    @Test func listingsAndFlagChangesNeedNoListPerRequest() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 3) }) { gw in
            let inbox = try await gw.folderId("INBOX")
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2])
            let lists = gw.server.commands(.list).count
            for flag in [true, false, true] {
                #expect(try await gw.request(.get, "/api/v1/mails?folderId=\(inbox)").status == .ok)
                let reply = try await gw.batch("update", ["ids": ids, "isFlagged": flag])
                #expect(reply.status == .ok && reply.failedItems == [], "\(reply.text)")
            }
            #expect(gw.server.commands(.list).count == lists, "three listings and three updates within the age: no LIST")
            #expect(gw.messages("INBOX").filter { $0.flags.contains(.flagged) }.map(\.uid) == [1, 2])

            // A move lists afresh, so its destination is checked against the server as it is now.
            let archive = try await gw.folderId("Archive")
            let listsBeforeMove = gw.server.commands(.list).count
            let moved = try await gw.batch("move", ["ids": [ids[0]], "destinationFolderId": archive])
            #expect(moved.status == .ok && moved.failedItems == [], "\(moved.text)")
            #expect(gw.server.commands(.list).count == listsBeforeMove + 1)
        }
    }

    @Test func aFolderMadeElsewhereIsFoundAtOnce() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 1) }) { gw in
            let inbox = try await gw.folderId("INBOX")
            #expect(try await gw.request(.get, "/api/v1/mails?folderId=\(inbox)").status == .ok)
            // Another client makes a folder, and its ID is assigned in the store without this
            // gateway's kept list hearing of it (as another replica sharing the store would).
            gw.server.createMailbox("Projects", for: alice)
            gw.server.seed(alice, "Projects", count: 2)
            let assigned = try await gw.harness.database.ensureFolders(account: alice, mailboxes: ["Projects"])
            let id = try #require(assigned["Projects"])
            let lists = gw.server.commands(.list).count
            let listing = try await gw.request(.get, "/api/v1/mails?folderId=\(id)")
            #expect(listing.status == .ok, "\(listing.text)")
            #expect(listing.items.count == 2)
            #expect(gw.server.commands(.list).count == lists + 1, "the unknown ID sent the request to the server")
        }
    }

    @Test func aFolderDeletedElsewhereIsNotFoundAtOnce() async throws {
        try await TestGateway.run(setUp: { server in
            server.createMailbox("Old", for: alice)
            server.seed(alice, "Old", count: 2)
        }) { gw in
            let old = try await gw.folderId("Old")
            #expect(try await gw.request(.get, "/api/v1/mails?folderId=\(old)").status == .ok)
            let ids = try await gw.mailIDs("Old", uids: [1, 2])
            gw.server.deleteMailbox("Old", for: alice)
            let listing = try await gw.request(.get, "/api/v1/mails?folderId=\(old)")
            #expect(listing.status == .notFound, "\(listing.text)")
            #expect(listing.errorCode == "folderNotFound")
            let update = try await gw.batch("update", ["ids": ids, "isFlagged": true])
            #expect(update.status == .ok)
            #expect(Set(update.failedItems ?? []) == Set(ids), "the items of a deleted folder fail")
            #expect(gw.changingCommands.isEmpty)
        }
    }
}
