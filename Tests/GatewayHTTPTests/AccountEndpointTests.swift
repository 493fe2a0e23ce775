import Foundation
import GatewayCore
import GatewayFakes
import HTTPTypes
import IMAPCore
import Testing

/// `GET /api/v1/mails`, `GET /api/v1/folders` and the label endpoints over the fake server.
struct AccountEndpointTests {
    // MARK: - Mails

    /// Five messages `Message 0`…`Message 4`, one minute apart (ascending dates).
    static func seedFive(_ server: InMemoryMailServer) { server.seed(alice, "INBOX", count: 5) }

    static func subjects(_ reply: Reply) -> [String] { reply.items.compactMap { $0["subject"] as? String } }

    @Test func mailsDefaultToDateDescendingWithSortInfo() async throws {
        try await TestGateway.run(setUp: Self.seedFive) { gw in
            let reply = try await gw.request(.get, "/api/v1/mails?folderId=\(try await gw.folderId("INBOX"))")
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.object.keys.sorted() == ["items", "sortInfo", "totalItems"])
            #expect(reply["totalItems"] as? Int == 5)
            #expect(reply["sortInfo"] as? [String: String] == ["field": "date", "direction": "DESC"])
            #expect(Self.subjects(reply) == ["Message 4", "Message 3", "Message 2", "Message 1", "Message 0"])
        }
    }

    @Test func mailsPageByStartAndLimit() async throws {
        try await TestGateway.run(setUp: Self.seedFive) { gw in
            let folderId = try await gw.folderId("INBOX")
            let page = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&sort=date&dir=ASC&start=1&limit=2")
            #expect(page.status == .ok)
            #expect(page["totalItems"] as? Int == 5)
            #expect(page["sortInfo"] as? [String: String] == ["field": "date", "direction": "ASC"])
            #expect(Self.subjects(page) == ["Message 1", "Message 2"])

            // Pages of two cover the listing exactly once, in order.
            var paged: [String] = []
            for start in stride(from: 0, to: 6, by: 2) {
                let reply = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&sort=date&dir=ASC&start=\(start)&limit=2")
                #expect(reply["totalItems"] as? Int == 5)
                paged += reply.items.compactMap { $0["id"] as? String }
            }
            let whole = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&sort=date&dir=ASC&limit=1000")
            #expect(paged == whole.items.compactMap { $0["id"] as? String })
            #expect(Set(paged).count == 5)

            for start in [5, Int(Int32.max)] {
                let beyond = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&start=\(start)")
                #expect(beyond.status == .ok)
                #expect(beyond["totalItems"] as? Int == 5)
                #expect(beyond.items.isEmpty)
            }
        }
    }

    @Test func mailsSortByTheNamedFieldAndDirection() async throws {
        try await TestGateway.run(setUp: { server in
            server.seed(alice, "INBOX", [
                MessageSeed(subject: "banana", date: 1_700_000_300),
                MessageSeed(subject: "Apple", date: 1_700_000_100, flags: [.flagged]),
                MessageSeed(subject: "cherry", date: 1_700_000_200),
            ])
        }) { gw in
            let folderId = try await gw.folderId("INBOX")
            let bySubject = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&sort=subject&dir=asc")
            #expect(bySubject["sortInfo"] as? [String: String] == ["field": "subject", "direction": "ASC"])
            #expect(Self.subjects(bySubject) == ["Apple", "banana", "cherry"])
            let flaggedFirst = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&sort=isFlagged&dir=DESC")
            #expect(flaggedFirst["sortInfo"] as? [String: String] == ["field": "isFlagged", "direction": "DESC"])
            #expect(Self.subjects(flaggedFirst) == ["Apple", "banana", "cherry"])
            let byDate = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&sort=date&dir=ASC")
            #expect(Self.subjects(byDate) == ["Apple", "cherry", "banana"])
        }
    }

    @Test func mailItemsCarryEveryFieldOfTheSpec() async throws {
        try await TestGateway.run(setUp: { server in
            server.seed(alice, "INBOX", [
                MessageSeed(
                    subject: "Quarterly report", messageID: "<q1@example.com>", from: "Bob Smith <bob@example.com>",
                    to: "alice@example.com", date: 1_700_000_000, flags: [.seen, .flagged, Flag("Work")], xPriority: "1 (Highest)",
                    hasAttachment: true)
            ])
        }) { gw in
            let folderId = try await gw.folderId("INBOX")
            let reply = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)")
            let item = try #require(reply.items.first)
            #expect(item.keys.sorted() == [
                "date", "folderId", "from", "hasAttachments", "id", "importance", "isFlagged", "isUnread", "labelIds", "messageId",
                "size", "subject", "to",
            ])
            #expect(MailID(try #require(item["id"] as? String))?.uid == 1)
            #expect(item["folderId"] as? String == folderId)
            #expect(item["subject"] as? String == "Quarterly report")
            #expect(item["from"] as? String == "Bob Smith <bob@example.com>")
            #expect(item["to"] as? String == "alice@example.com")
            #expect((item["date"] as? String)?.hasPrefix("2023-11-14T22:13:20") == true)
            #expect(item["size"] as? Int == Int(gw.messages("INBOX")[0].size))
            #expect(item["isUnread"] as? Bool == false)
            #expect(item["isFlagged"] as? Bool == true)
            #expect(item["importance"] as? String == "high")
            #expect(item["hasAttachments"] as? Bool == true)
            #expect(item["messageId"] as? String == "<q1@example.com>")
            let labels = try await gw.request(.get, "/api/v1/labels")
            let work = try #require(labels.items.first { $0["name"] as? String == "Work" })
            #expect(item["labelIds"] as? [String] == [try #require(work["id"] as? String)])
        }
    }

    // MARK: - Folders

    @Test func foldersShowRolesParentsAndCounts() async throws {
        try await TestGateway.run(setUp: { server in
            server.createMailbox("Projects", for: alice)
            server.createMailbox("Projects/2024", for: alice)
            server.createMailbox("Hidden", for: alice, selectable: false)
            server.seed(alice, "INBOX", count: 3)
            server.setFlags(alice, "INBOX", uids: [1], add: [.seen])
        }) { gw in
            let reply = try await gw.request(.get, "/api/v1/folders")
            #expect(reply.status == .ok, "\(reply.text)")
            let byName = Dictionary(reply.items.map { ($0["name"] as? String ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
            let roles = byName.mapValues { $0["role"] as? String }
            #expect(roles == [
                "INBOX": "inbox", "Archive": "archive", "Drafts": "drafts", "Sent": "sent", "Trash": "trash", "Junk": "junk",
                "Projects": "", "2024": "",
            ])
            for item in reply.items {
                #expect(item.keys.sorted() == ["folderSize", "id", "name", "parentId", "role", "totalItems", "unreadItems"])
            }
            let inbox = try #require(byName["INBOX"])
            #expect(inbox["totalItems"] as? Int == 3)
            #expect(inbox["unreadItems"] as? Int == 2)
            #expect(inbox["parentId"] is NSNull)
            #expect(byName["2024"]?["parentId"] as? String == byName["Projects"]?["id"] as? String)
            let projectsId = try await gw.folderId("Projects")
            #expect(byName["Projects"]?["id"] as? String == projectsId)
            // IDs are stable from one request to the next.
            let again = try await gw.request(.get, "/api/v1/folders")
            #expect(again.items.compactMap { $0["id"] as? String } == reply.items.compactMap { $0["id"] as? String })
        }
    }

    /// A `\Noselect` level above a real folder (Dovecot makes one when a child of a not yet
    /// materialised Trash is created) is listed with 0 items, so the child's `parentId` resolves;
    /// a `\Noselect` mailbox with no listed child is not. Listing it, or naming it as a
    /// destination, is a 422 that changes nothing.
    @Test func aNoselectLevelAboveAFolderIsListedAndRefusedAsAFolderOfMail() async throws {
        try await TestGateway.run(setUp: { server in
            server.createMailbox("Level", for: alice, selectable: false)
            server.createMailbox("Level/Leaf", for: alice)
            server.createMailbox("Hidden", for: alice, selectable: false)
            server.seed(alice, "INBOX", count: 2)
        }) { gw in
            let reply = try await gw.request(.get, "/api/v1/folders")
            #expect(reply.status == .ok, "\(reply.text)")
            let byName = Dictionary(reply.items.map { ($0["name"] as? String ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
            #expect(byName["Hidden"] == nil)
            let level = try #require(byName["Level"])
            let levelId = try #require(level["id"] as? String)
            #expect(level["totalItems"] as? Int == 0)
            #expect(byName["Leaf"]?["parentId"] as? String == levelId)
            let ids = Set(reply.items.compactMap { $0["id"] as? String })
            for item in reply.items {
                if let parent = item["parentId"] as? String { #expect(ids.contains(parent), "\(item)") }
            }

            let listing = try await gw.request(.get, "/api/v1/mails?folderId=\(levelId)")
            #expect(listing.status == .unprocessableContent, "\(listing.text)")
            #expect(listing.errorCode == "folderNotSelectable")
            #expect(listing.errorField == "folderId")
            let id = try await gw.harness.mailID("INBOX", uid: 1)
            for path in ["/api/v1/batch/mails/copy", "/api/v1/batch/mails/move"] {
                let batch = try await gw.request(.post, path, body: json(["ids": [id], "destinationFolderId": levelId]))
                #expect(batch.status == .unprocessableContent, "\(path): \(batch.text)")
                #expect(batch.errorCode == "folderNotSelectable")
                #expect(batch.errorField == "destinationFolderId")
            }
            #expect(gw.harness.server.mailbox(alice, "INBOX")?.messages.count == 2)
            #expect(gw.harness.server.mailbox(alice, "Level/Leaf")?.messages.isEmpty == true)
        }
    }

    // MARK: - Labels

    @Test func labelsCreateRenameDeleteWith409OnDuplicates() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 2) }) { gw in
            let created = try await gw.request(.post, "/api/v1/labels", body: #"{"name": "Work"}"#)
            #expect(created.status == .created, "\(created.text)")
            #expect(created.object.keys.sorted() == ["id", "name"])
            #expect(created["name"] as? String == "Work")
            let workId = try #require(created["id"] as? String)

            for name in ["Work", "work", "WORK"] {
                let duplicate = try await gw.request(.post, "/api/v1/labels", body: json(["name": name]))
                #expect(duplicate.status == .conflict, "\(name): \(duplicate.text)")
                #expect(duplicate.isErrorBody)
                #expect(duplicate.errorCode == "labelExists")
                #expect(duplicate.errorField == "name")
            }

            let other = try await gw.request(.post, "/api/v1/labels", body: #"{"name": "Family & Friends"}"#)
            #expect(other.status == .created)
            let otherId = try #require(other["id"] as? String)

            let renamed = try await gw.request(.patch, "/api/v1/labels/\(workId)", body: #"{"name": "Office"}"#)
            #expect(renamed.status == .ok, "\(renamed.text)")
            #expect(renamed["id"] as? String == workId)
            #expect(renamed["name"] as? String == "Office")

            let clash = try await gw.request(.patch, "/api/v1/labels/\(otherId)", body: #"{"name": "office"}"#)
            #expect(clash.status == .conflict)
            #expect(clash.errorCode == "labelExists")

            let list = try await gw.request(.get, "/api/v1/labels")
            #expect(list.status == .ok)
            #expect(Set(list.items.compactMap { $0["name"] as? String }) == ["Office", "Family & Friends"])

            // Deleting a label takes its keyword off the messages.
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2])
            #expect(try await gw.batch("labels/add", ["ids": ids, "labelId": workId]).status == .ok)
            #expect(gw.messages("INBOX").allSatisfy { $0.has(Flag("Work")) })
            let deleted = try await gw.request(.delete, "/api/v1/labels/\(workId)")
            #expect(deleted.status == .noContent)
            #expect(deleted.body.isEmpty)
            #expect(gw.messages("INBOX").allSatisfy { !$0.has(Flag("Work")) })
            let again = try await gw.request(.delete, "/api/v1/labels/\(workId)")
            #expect(again.status == .notFound)
            #expect(again.errorCode == "labelNotFound")

            // The name is free again.
            #expect(try await gw.request(.post, "/api/v1/labels", body: #"{"name": "Office"}"#).status == .created)
        }
    }

    /// A deleted label stays deleted: the next `GET /api/v1/labels` does not bring it back from
    /// the keyword the mailbox's FLAGS still lists (IMAP servers, Dovecot included, keep a keyword
    /// in FLAGS after the last message lost it; the fake does the same).
    @Test func deletedLabelStaysOutOfTheListing() async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 1) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1])
            var labelIds: [String] = []
            for name in ["Work", "Family & Friends"] {  // its own keyword, and a generated one
                let created = try await gw.request(.post, "/api/v1/labels", body: json(["name": name]))
                let id = try #require(created["id"] as? String)
                labelIds.append(id)
                #expect(try await gw.batch("labels/add", ["ids": ids, "labelId": id]).status == .ok)
            }
            #expect(try await gw.request(.get, "/api/v1/labels").items.count == 2)
            for id in labelIds {
                #expect(try await gw.request(.delete, "/api/v1/labels/\(id)").status == .noContent)
            }
            #expect(gw.messages("INBOX")[0].flags.allSatisfy { $0.isSystemFlag })
            let after = try await gw.request(.get, "/api/v1/labels")
            #expect(after.status == .ok)
            #expect(after.items.compactMap { $0["name"] as? String } == [])
        }
    }

    @Test(arguments: [HTTPRequest.Method.patch, .delete])
    func unknownLabelIs404(_ method: HTTPRequest.Method) async throws {
        try await TestGateway.run { gw in
            let reply = try await gw.request(method, "/api/v1/labels/no-such-label", body: method == .patch ? #"{"name": "X"}"# : nil)
            #expect(reply.status == .notFound, "\(reply.text)")
            #expect(reply.isErrorBody)
            #expect(reply.errorCode == "labelNotFound")
            #expect(reply.errorField == "labelId")
            #expect(gw.changingCommands.isEmpty)
        }
    }

    /// Keywords already on the server show up as labels named after themselves; bookkeeping
    /// keywords do not.
    @Test func serverKeywordsShowUpAsLabels() async throws {
        try await TestGateway.run(setUp: { server in
            server.seed(alice, "INBOX", [MessageSeed(flags: [Flag("Travel"), Flag("$Forwarded"), Flag("$HasAttachment")])])
        }) { gw in
            let reply = try await gw.request(.get, "/api/v1/labels")
            #expect(reply.status == .ok)
            #expect(reply.items.compactMap { $0["name"] as? String } == ["Travel"])
            let duplicate = try await gw.request(.post, "/api/v1/labels", body: #"{"name": "travel"}"#)
            #expect(duplicate.status == .conflict)
        }
    }
}
