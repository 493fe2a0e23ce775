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
}
