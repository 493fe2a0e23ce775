import Foundation
import GatewayCore
import GatewayFakes
import HTTPTypes
import IMAPCore
import Testing

/// `GET /api/v1/conversations` over the fake server: threads across folders, their IDs, paging
/// and order. (End to end against Dovecot: GatewayTests/ConversationTests.)
struct ConversationEndpointTests {
    static func seed(_ id: String, _ subject: String, date: Int64, refs: [String] = [], flags: [Flag] = []) -> MessageSeed {
        var headers: [String] = []
        if !refs.isEmpty {
            headers.append("In-Reply-To: \(refs.last!)")
            headers.append("References: " + refs.joined(separator: " "))
        }
        return MessageSeed(subject: subject, messageID: id, date: date, flags: flags, extraHeaders: headers)
    }

    /// Thread A: root in INBOX, reply in Sent, reply to that in Archive. Thread B: two replies in
    /// INBOX to a root nobody has. Thread C: a message and a later `Re:` of its subject with no
    /// references (linked by subject). D: no Message-ID. E: only in Trash, a reply of A's root.
    static func seedThreads(_ server: InMemoryMailServer) {
        _ = server.seed(alice, "INBOX", [
            seed("<a1@x>", "Plan", date: 1_000),
            seed("<b2@x>", "Re: Lost root", date: 2_000, refs: ["<b0@x>"], flags: [.seen]),
            seed("<b3@x>", "Re: Lost root", date: 2_100, refs: ["<b0@x>"]),
            seed("<c1@x>", "Lunch", date: 3_000, flags: [.seen]),
            seed("<c2@x>", "Re: Lunch", date: 3_100, flags: [.seen]),
            MessageSeed(subject: "No id", messageID: nil, date: 4_000),
        ])
        _ = server.seed(alice, "Sent", [seed("<a2@x>", "Re: Plan", date: 1_100, refs: ["<a1@x>"], flags: [.seen])])
        _ = server.seed(alice, "Archive", [seed("<a3@x>", "Re: Plan", date: 1_200, refs: ["<a1@x>", "<a2@x>"], flags: [.flagged])])
        _ = server.seed(alice, "Trash", [seed("<e1@x>", "Re: Plan", date: 1_300, refs: ["<a1@x>"])])
    }

    static func conversations(_ gw: TestGateway, _ mailbox: String, _ query: String = "") async throws -> Reply {
        try await gw.request(.get, "/api/v1/conversations?folderId=\(try await gw.folderId(mailbox))\(query)")
    }

    /// Each conversation as the set of its members' mailbox/UID, from the listing's mail IDs.
    static func groups(_ reply: Reply, _ names: [String: String]) -> [Set<String>] {
        reply.items.map { item in
            Set(((item["mails"] as? [[String: Any]]) ?? []).compactMap { mail -> String? in
                guard let id = (mail["mailId"] as? String).flatMap(MailID.init) else { return nil }
                return "\(names[id.folderId] ?? "?")/\(id.uid)"
            })
        }
    }

    @Test func threadsSpanFoldersAndListTheirMembers() async throws {
        try await TestGateway.run(setUp: Self.seedThreads) { gw in
            let names = Dictionary(try await gw.harness.folders().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
            let inbox = try await Self.conversations(gw, "INBOX", "&sort=date&dir=ASC")
            #expect(inbox.status == .ok, "\(inbox.text)")
            #expect(inbox.object.keys.sorted() == ["items", "sortInfo", "totalItems"])
            #expect(inbox["totalItems"] as? Int == 4)
            #expect(Set(Self.groups(inbox, names)) == [
                ["INBOX/1", "Sent/1", "Archive/1"], ["INBOX/2", "INBOX/3"], ["INBOX/4", "INBOX/5"], ["INBOX/6"],
            ])
            let first = try #require(inbox.items.first)
            #expect(first.keys.sorted() == [
                "date", "hasAttachments", "id", "importance", "isFlagged", "isUnread", "labelIds", "mailCount", "mails", "subject",
            ])
            #expect(first["subject"] as? String == "Plan")
            #expect(first["mailCount"] as? Int == 3)
            #expect(first["isUnread"] as? Bool == true)
            #expect(first["isFlagged"] as? Bool == true)
            #expect(first["date"] as? String == HeaderText.iso8601(1_200))
            // Root first, then the replies in thread order.
            let order = ((first["mails"] as? [[String: Any]]) ?? []).compactMap { ($0["mailId"] as? String).flatMap(MailID.init) }
            #expect(order.map { "\(names[$0.folderId] ?? "?")/\($0.uid)" } == ["INBOX/1", "Sent/1", "Archive/1"])

            // Sent lists the same conversation, with the same ID; Trash has its own threads.
            let sent = try await Self.conversations(gw, "Sent")
            #expect(sent.items.compactMap { $0["id"] as? String } == [first["id"] as? String])
            let trash = try await Self.conversations(gw, "Trash")
            #expect(Self.groups(trash, names) == [["Trash/1"]])
            #expect(trash.items.first?["id"] as? String != first["id"] as? String)
        }
    }

    @Test func idsStayAsRepliesArriveAndMembersMove() async throws {
        try await TestGateway.run(setUp: Self.seedThreads) { gw in
            let before = try await Self.conversations(gw, "INBOX", "&sort=date&dir=ASC")
            let ids = before.items.compactMap { $0["id"] as? String }
            #expect(ids.count == 4)
            _ = gw.server.seed(alice, "INBOX", [Self.seed("<a4@x>", "Re: Plan", date: 1_500, refs: ["<a1@x>", "<a2@x>", "<a3@x>"])])
            _ = gw.server.seed(alice, "INBOX", [Self.seed("<b4@x>", "Re: Lost root", date: 2_200, refs: ["<b0@x>", "<b3@x>"])])
            let grown = try await Self.conversations(gw, "INBOX", "&sort=date&dir=ASC")
            #expect(grown.items.compactMap { $0["id"] as? String } == ids)
            #expect(grown.items.compactMap { $0["mailCount"] as? Int } == [4, 3, 2, 1])

            // The Archive member moves to INBOX: still the same conversation.
            let archived = try await gw.mailIDs("Archive", uids: [1])
            let moved = try await gw.batch("move", ["ids": archived, "destinationFolderId": try await gw.folderId("INBOX")])
            #expect(moved.status == .ok, "\(moved.text)")
            let after = try await Self.conversations(gw, "INBOX", "&sort=date&dir=ASC")
            #expect(after.items.compactMap { $0["id"] as? String } == ids)
            #expect(after.items.first?["mailCount"] as? Int == 4)
        }
    }

    /// A flag set on the server by another client shows in the next listing: by HIGHESTMODSEQ with
    /// CONDSTORE (the index reuses only folders whose STATUS is unchanged), by a flags fetch without.
    @Test(arguments: [true, false])
    func aFlagSetElsewhereShowsInTheNextListing(condStore: Bool) async throws {
        var capabilities = InMemoryMailServer.defaultCapabilities
        if !condStore { capabilities.remove(.condStore) }
        try await TestGateway.run(capabilities: capabilities, setUp: Self.seedThreads) { gw in
            let before = try await Self.conversations(gw, "Sent")
            #expect(before.items.first?["isFlagged"] as? Bool == true, "A's Archive member is flagged")
            gw.server.setFlags(alice, "Archive", uids: [1], remove: [.flagged])
            let after = try await Self.conversations(gw, "Sent")
            #expect(after.items.first?["isFlagged"] as? Bool == false)
            _ = gw.server.seed(alice, "Sent", [Self.seed("<a9@x>", "Re: Plan", date: 1_900, refs: ["<a1@x>"])])
            let grown = try await Self.conversations(gw, "Sent")
            #expect(grown.items.first?["mailCount"] as? Int == 4)
            #expect(grown.items.first?["id"] as? String == before.items.first?["id"] as? String)
        }
    }

    @Test func pagesOfOddSizesCoverEveryConversationOnce() async throws {
        try await TestGateway.run(setUp: { server in
            var seeds: [MessageSeed] = []
            for thread in 0..<17 {
                for reply in 0..<(thread % 3 + 1) {
                    let refs = (0..<reply).map { "<t\(thread)-\($0)@x>" }
                    seeds.append(Self.seed("<t\(thread)-\(reply)@x>", reply == 0 ? "Topic \(thread)" : "Re: Topic \(thread)",
                        date: Int64(10_000 + thread * 7 % 17 * 100 + reply), refs: refs, flags: thread % 4 == 0 ? [.seen] : []))
                }
            }
            _ = server.seed(alice, "INBOX", seeds)
        }) { gw in
            for field in SortField.allCases {
                for dir in ["ASC", "DESC"] {
                    let whole = try await Self.conversations(gw, "INBOX", "&sort=\(field.rawValue)&dir=\(dir)&limit=100")
                    #expect(whole["totalItems"] as? Int == 17)
                    let all = whole.items.compactMap { $0["id"] as? String }
                    for size in [1, 3, 5] {
                        var paged: [String] = []
                        for start in stride(from: 0, to: 17, by: size) {
                            let page = try await Self.conversations(gw, "INBOX", "&sort=\(field.rawValue)&dir=\(dir)&start=\(start)&limit=\(size)")
                            paged += page.items.compactMap { $0["id"] as? String }
                        }
                        #expect(paged == all, "\(field) \(dir) by \(size)")
                    }
                    #expect(Set(all).count == 17)
                }
            }
            // date DESC is newest first; isUnread DESC puts every unread conversation first.
            let byDate = try await Self.conversations(gw, "INBOX", "&limit=100")
            let dates = byDate.items.compactMap { $0["date"] as? String }
            #expect(dates == dates.sorted(by: >))
            let unread = try await Self.conversations(gw, "INBOX", "&sort=isUnread&dir=DESC&limit=100")
            let flags = unread.items.compactMap { $0["isUnread"] as? Bool }
            #expect(flags == flags.sorted { $0 && !$1 })
            #expect(flags.filter { !$0 }.count == 5)
        }
    }

    @Test func aMissingOrUnknownFolderIsAClearError() async throws {
        try await TestGateway.run { gw in
            let missing = try await gw.request(.get, "/api/v1/conversations")
            #expect(missing.status == .badRequest)
            #expect(missing.errorField == "folderId")
            let unknown = try await gw.request(.get, "/api/v1/conversations?folderId=nope")
            #expect(unknown.status == .notFound)
            #expect(unknown.errorCode == "folderNotFound")
            let badSort = try await gw.request(.get, "/api/v1/conversations?folderId=\(try await gw.folderId("INBOX"))&sort=color")
            #expect(badSort.status == .badRequest)
            #expect(badSort.errorField == "sort")
        }
    }

    // MARK: - Batches

    /// Conversation IDs of INBOX's listing by date ascending: A (Plan), B (Lost root), C (Lunch), D (no id).
    static func inboxIDs(_ gw: TestGateway) async throws -> [String] {
        try await conversations(gw, "INBOX", "&sort=date&dir=ASC").items.compactMap { $0["id"] as? String }
    }

    static func conversationBatch(_ gw: TestGateway, _ endpoint: String, _ object: [String: Any]) async throws -> Reply {
        try await gw.request(.post, "/api/v1/batch/conversations/\(endpoint)", body: json(object))
    }

    /// Message-IDs of a fake mailbox, and those with a flag.
    static func ids(_ gw: TestGateway, _ mailbox: String, with flag: Flag? = nil) -> Set<String> {
        Set(gw.messages(mailbox).filter { flag.map($0.has) ?? true }.compactMap(\.messageID))
    }

    @Test func moveSkipsSentAndDraftsAndTheDestination() async throws {
        try await TestGateway.run(setUp: Self.seedThreads) { gw in
            let ids = try await Self.inboxIDs(gw)
            let reply = try await Self.conversationBatch(gw, "move", ["ids": [ids[0], ids[1]], "destinationFolderId": try await gw.folderId("Archive")])
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.failedItems == [])
            #expect(reply.newIds == nil)
            #expect(Self.ids(gw, "Archive") == ["<a1@x>", "<a3@x>", "<b2@x>", "<b3@x>"])
            #expect(Self.ids(gw, "Sent") == ["<a2@x>"])
            #expect(Self.ids(gw, "INBOX") == ["<c1@x>", "<c2@x>"])
            #expect(gw.messages("INBOX").count == 3, "and the message without a Message-ID")
            #expect(Self.ids(gw, "Trash") == ["<e1@x>"])
            // Still the same conversations, now listed from Archive.
            let archive = try await Self.conversations(gw, "Archive", "&sort=date&dir=ASC")
            #expect(archive.items.compactMap { $0["id"] as? String } == [ids[0], ids[1]])
        }
    }

    @Test func updateLeavesUnreadAloneInSentButFlagsEveryMember() async throws {
        try await TestGateway.run(setUp: { server in
            Self.seedThreads(server)
            server.setFlags(alice, "Sent", uids: [1], remove: [.seen])
        }) { gw in
            let ids = try await Self.inboxIDs(gw)
            let reply = try await Self.conversationBatch(gw, "update", ["ids": [ids[0]], "isUnread": false, "isFlagged": true])
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.failedItems == [])
            #expect(Self.ids(gw, "INBOX", with: .seen) == ["<a1@x>", "<b2@x>", "<c1@x>", "<c2@x>"])
            #expect(Self.ids(gw, "Archive", with: .seen) == ["<a3@x>"])
            #expect(Self.ids(gw, "Sent", with: .seen).isEmpty, "isUnread is left alone in Sent")
            #expect(Self.ids(gw, "INBOX", with: .flagged) == ["<a1@x>"])
            #expect(Self.ids(gw, "Sent", with: .flagged) == ["<a2@x>"])
            #expect(Self.ids(gw, "Archive", with: .flagged) == ["<a3@x>"])

            // isUnread alone: Sent is not touched at all.
            let unread = try await Self.conversationBatch(gw, "update", ["ids": [ids[0]], "isUnread": true])
            #expect(unread.status == .ok)
            #expect(Self.ids(gw, "INBOX", with: .seen) == ["<b2@x>", "<c1@x>", "<c2@x>"])
            #expect(Self.ids(gw, "Archive", with: .seen).isEmpty)
            #expect(gw.messages("Sent").first?.flags == [.flagged])
        }
    }

    @Test func labelsApplyToEveryMember() async throws {
        try await TestGateway.run(setUp: Self.seedThreads) { gw in
            let created = try await gw.request(.post, "/api/v1/labels", body: #"{"name": "Project"}"#)
            let labelId = try #require(created["id"] as? String)
            let ids = try await Self.inboxIDs(gw)
            let added = try await Self.conversationBatch(gw, "labels/add", ["ids": [ids[0]], "labelId": labelId])
            #expect(added.status == .ok, "\(added.text)")
            let labelled = ["INBOX", "Sent", "Archive", "Trash"].flatMap { box in
                gw.messages(box).filter { !$0.flags.filter { !$0.rawValue.hasPrefix("\\") }.isEmpty }.compactMap(\.messageID)
            }
            #expect(Set(labelled) == ["<a1@x>", "<a2@x>", "<a3@x>"])
            let listed = try await Self.conversations(gw, "Sent")
            #expect(listed.items.first?["labelIds"] as? [String] == [labelId])
            let removed = try await Self.conversationBatch(gw, "labels/remove", ["ids": [ids[0]], "labelId": labelId])
            #expect(removed.status == .ok)
            #expect(["INBOX", "Sent", "Archive"].allSatisfy { box in gw.messages(box).allSatisfy { $0.flags.allSatisfy { $0.rawValue.hasPrefix("\\") } } })
        }
    }

    @Test func deleteSendsEveryMemberToTrashAndRemovesTrashMembersForGood() async throws {
        try await TestGateway.run(setUp: Self.seedThreads) { gw in
            let ids = try await Self.inboxIDs(gw)
            let reply = try await Self.conversationBatch(gw, "delete", ["ids": [ids[0]]])
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.failedItems == [])
            #expect(Self.ids(gw, "Trash") == ["<a1@x>", "<a2@x>", "<a3@x>", "<e1@x>"])
            #expect(Self.ids(gw, "Sent").isEmpty)
            #expect(Self.ids(gw, "Archive").isEmpty)
            // In Trash they are conversations of Trash's own scope: deleting them removes them.
            let trash = try await Self.conversations(gw, "Trash")
            let trashIDs = trash.items.compactMap { $0["id"] as? String }
            #expect(!trashIDs.contains(ids[0]))
            let gone = try await Self.conversationBatch(gw, "delete", ["ids": trashIDs])
            #expect(gone.status == .ok, "\(gone.text)")
            #expect(gw.messages("Trash").isEmpty)
            #expect(Self.ids(gw, "INBOX").count == 4)
        }
    }

    @Test func unknownIDsFailAndBadRequestsChangeNothing() async throws {
        try await TestGateway.run(setUp: Self.seedThreads) { gw in
            let before = ["INBOX", "Sent", "Archive", "Trash"].map { gw.messages($0) }
            let unknown = "c" + String(repeating: "A", count: 22)
            let reply = try await Self.conversationBatch(gw, "move", ["ids": [unknown], "destinationFolderId": try await gw.folderId("Archive")])
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.failedItems == [unknown])
            let noDestination = try await Self.conversationBatch(gw, "move", ["ids": try await Self.inboxIDs(gw)])
            #expect(noDestination.status == .badRequest)
            #expect(noDestination.errorField == "destinationFolderId")
            let noSource = try await Self.conversationBatch(
                gw, "delete", ["ranges": [["start": unknown, "limit": 2]], "sortInfo": ["field": "date", "direction": "ASC"]])
            #expect(noSource.status == .badRequest)
            #expect(noSource.errorField == "ranges[0].sourceFolderId")
            let copy = try await Self.conversationBatch(gw, "copy", ["ids": [unknown], "destinationFolderId": try await gw.folderId("Archive")])
            #expect(copy.status == .notFound)
            #expect(["INBOX", "Sent", "Archive", "Trash"].map { gw.messages($0) } == before)
        }
    }

    @Test func aRangeActsOnExactlyTheConversationsItNames() async throws {
        try await TestGateway.run(setUp: Self.seedThreads) { gw in
            let inbox = try await gw.folderId("INBOX")
            let listing = try await Self.conversations(gw, "INBOX", "&sort=subject&dir=DESC")
            let ordered = listing.items.compactMap { $0["id"] as? String }
            #expect(ordered.count == 4)
            let reply = try await Self.conversationBatch(gw, "update", [
                "ranges": [["start": ordered[1], "limit": 2, "sourceFolderId": inbox]],
                "sortInfo": ["field": "subject", "direction": "DESC"], "isFlagged": true,
            ])
            #expect(reply.status == .ok, "\(reply.text)")
            let flagged = try await Self.conversations(gw, "INBOX", "&sort=subject&dir=DESC")
            let flags = flagged.items.map { ($0["id"] as? String ?? "", $0["isFlagged"] as? Bool ?? false) }
            for (index, (id, isFlagged)) in flags.enumerated() {
                #expect(id == ordered[index])
                // A (Plan) was flagged already (its Archive member).
                let subject = listing.items[index]["subject"] as? String
                #expect(isFlagged == (index == 1 || index == 2 || subject == "Plan"), "\(subject ?? "")")
            }
            let start = try #require(ordered.last)
            let bad = try await Self.conversationBatch(gw, "update", [
                "ranges": [["start": start, "limit": 1, "sourceFolderId": try await gw.folderId("Sent")]],
                "sortInfo": ["field": "date", "direction": "ASC"], "isFlagged": false,
            ])
            #expect(bad.failedItems == [start], "a start not in its folder's listing fails")
        }
    }

    @Test func aLargeConversationBatchIsAJobThatReportsConversationIDs() async throws {
        try await TestGateway.run(batch: .init(asyncThreshold: 2, jobChunkSize: 1), setUp: Self.seedThreads) { gw in
            let ids = try await Self.inboxIDs(gw)
            let unknown = "c" + String(repeating: "B", count: 22)
            let started = try await Self.conversationBatch(gw, "update", ["ids": [ids[0], ids[1], unknown], "isFlagged": true])
            #expect(started.status == .created, "\(started.text)")
            let key = try #require(started["jobKey"] as? String)
            var last = started
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline, last["status"] as? String != "completed" {
                try await Task.sleep(for: .milliseconds(5))
                last = try await gw.request(.get, "/api/v1/batch/jobs/\(key)")
            }
            #expect(last["status"] as? String == "completed")
            #expect(last.failedItems == [unknown])
            #expect(Self.ids(gw, "INBOX", with: .flagged) == ["<a1@x>", "<b2@x>", "<b3@x>"])
            #expect(Self.ids(gw, "Sent", with: .flagged) == ["<a2@x>"])
        }
    }
}
