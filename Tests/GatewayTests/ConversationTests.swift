import Foundation
import GatewayCore
import HTTPTypes
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// Conversations end to end (issue 16): threads seeded across INBOX, Archive, Sent and Drafts (a
/// thread whose root nobody has, one linked only by subject, a message without a Message-ID, a
/// reply sitting in Trash), listed by the gateway and compared with an independent threading
/// written here; then each conversation endpoint, every effect checked with the bed's own look
/// (doveadm, or cyrus-admin.py on Cyrus). One account (pia), one test at a time: the index spans
/// every folder of the account, so each test empties and re-seeds it first.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"), .serialized)
struct ConversationTests {
    static let folders = ["INBOX", "Archive", "Sent", "Drafts", "Trash"]

    struct Seed {
        var folder: String
        var id: String?
        var subject: String
        var refs: [String] = []
        var date: String
        var seen = false
    }

    /// T1 "Budget": root in INBOX, replies in Sent, Archive, INBOX, a draft reply in Drafts, and a
    /// reply in Trash (Trash is threaded apart). T2: replies in INBOX and Archive to a root nobody
    /// has. T3 "Offsite": linked by subject only. Singles: "Invoice", and one without a Message-ID.
    static let seeds: [Seed] = [
        Seed(folder: "INBOX", id: "<t1-1@conv.test>", subject: "Budget", date: "Mon, 01 Jan 2024 09:00:00 +0000"),
        Seed(folder: "Sent", id: "<t1-2@conv.test>", subject: "Re: Budget", refs: ["<t1-1@conv.test>"],
             date: "Mon, 01 Jan 2024 10:00:00 +0000", seen: true),
        Seed(folder: "Archive", id: "<t1-3@conv.test>", subject: "Re: Budget", refs: ["<t1-1@conv.test>", "<t1-2@conv.test>"],
             date: "Mon, 01 Jan 2024 11:00:00 +0000"),
        Seed(folder: "INBOX", id: "<t1-4@conv.test>", subject: "Re: Budget",
             refs: ["<t1-1@conv.test>", "<t1-2@conv.test>", "<t1-3@conv.test>"], date: "Mon, 01 Jan 2024 12:00:00 +0000"),
        Seed(folder: "Drafts", id: "<t1-5@conv.test>", subject: "Re: Budget", refs: ["<t1-1@conv.test>", "<t1-4@conv.test>"],
             date: "Mon, 01 Jan 2024 13:00:00 +0000"),
        Seed(folder: "Trash", id: "<t1-6@conv.test>", subject: "Re: Budget", refs: ["<t1-1@conv.test>"],
             date: "Mon, 01 Jan 2024 14:00:00 +0000"),
        Seed(folder: "INBOX", id: "<t2-1@conv.test>", subject: "Re: Lost", refs: ["<t2-0@conv.test>"],
             date: "Tue, 02 Jan 2024 09:00:00 +0000", seen: true),
        Seed(folder: "Archive", id: "<t2-2@conv.test>", subject: "Re: Lost", refs: ["<t2-0@conv.test>"],
             date: "Tue, 02 Jan 2024 10:00:00 +0000"),
        Seed(folder: "INBOX", id: "<t3-1@conv.test>", subject: "Offsite", date: "Wed, 03 Jan 2024 09:00:00 +0000"),
        Seed(folder: "Archive", id: "<t3-2@conv.test>", subject: "Re: Offsite", date: "Wed, 03 Jan 2024 10:00:00 +0000"),
        Seed(folder: "INBOX", id: "<t4-1@conv.test>", subject: "Invoice", date: "Thu, 04 Jan 2024 09:00:00 +0000", seen: true),
        Seed(folder: "Archive", id: nil, subject: "No id", date: "Fri, 05 Jan 2024 09:00:00 +0000"),
    ]

    /// Empties pia's folders and appends the seeds, over a direct connection.
    static func reseed(_ bed: TestBed) async throws {
        let connection = try await bed.connect(bed.conversationAccount)
        defer { connection.close() }
        for folder in folders {
            _ = try await connection.select(MailboxName(folder))
            let all = try await connection.uidSearch(.all)
            if !all.isEmpty {
                _ = try await connection.uidStore(all, .add, flags: [.deleted])
                _ = try await connection.uidExpunge(all)
            }
        }
        try await connection.unselect()
        for seed in seeds {
            var headers = [
                "From: Pia <pia@conv.test>", "To: Team <team@conv.test>", "Subject: \(seed.subject)", "Date: \(seed.date)",
            ]
            if let id = seed.id { headers.append("Message-ID: \(id)") }
            if let last = seed.refs.last {
                headers.append("In-Reply-To: \(last)")
                headers.append("References: " + seed.refs.joined(separator: " "))
            }
            let message = Array((headers.joined(separator: "\r\n") + "\r\n\r\nHello.\r\n").utf8)
            _ = try await connection.append(message, to: MailboxName(seed.folder), flags: seed.seen ? [.seen] : [])
        }
    }

    /// The independent threading: messages linked by Message-ID and References (union-find), and
    /// by base subject (leading `Re:` removed, case ignored) — enough for these seeds, whose threads
    /// have distinct subjects; a message without a Message-ID stays alone; Trash apart.
    static func expectedGroups() -> Set<Set<String>> {
        var parent: [String: String] = [:]
        func find(_ x: String) -> String {
            var x = x
            while let p = parent[x], p != x { x = p }
            return x
        }
        func union(_ a: String, _ b: String) {
            parent[a] = parent[a] ?? a
            parent[b] = parent[b] ?? b
            parent[find(a)] = find(b)
        }
        let threaded = seeds.filter { $0.id != nil && $0.folder != "Trash" }
        for seed in threaded {
            let id = seed.id!
            union(id, id)
            for ref in seed.refs { union(id, ref) }
            let base = seed.subject.lowercased().replacingOccurrences(of: "re: ", with: "")
            union(id, "subject:" + base)
        }
        var groups: [String: Set<String>] = [:]
        for seed in threaded { groups[find(seed.id!), default: []].insert(seed.id!) }
        return Set(groups.values).union([["(no id)"]])
    }

    /// Every folder's messages by the bed's own look.
    static func looks(_ bed: TestBed) async throws -> [String: [UInt32: TestBed.Seen]] {
        var out: [String: [UInt32: TestBed.Seen]] = [:]
        for folder in folders { out[folder] = try await bed.look(folder, user: bed.conversationAccount.user) }
        return out
    }

    /// Message-ID → the folder it is in now (by the look); the message without one as "(no id)".
    static func locations(_ looks: [String: [UInt32: TestBed.Seen]]) -> [String: String] {
        var out: [String: String] = [:]
        for (folder, messages) in looks {
            for message in messages.values { out[message.messageID.isEmpty ? "(no id)" : message.messageID] = folder }
        }
        return out
    }

    /// The listing's conversations as sets of Message-IDs, resolved through the looks.
    static func listedGroups(_ items: [[String: Any]], _ gw: GatewayHarness, _ looks: [String: [UInt32: TestBed.Seen]]) async throws
        -> [Set<String>]
    {
        let names = Dictionary(try await gw.folderIDs(gw.bed.conversationAccount).map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        return items.map { item in
            Set(((item["mails"] as? [[String: Any]]) ?? []).compactMap { mail -> String? in
                guard let id = (mail["mailId"] as? String).flatMap(MailID.init), let folder = names[id.folderId],
                    let seen = looks[folder]?[id.uid]
                else { return nil }
                return seen.messageID.isEmpty ? "(no id)" : seen.messageID
            })
        }
    }

    func list(_ gw: GatewayHarness, _ folder: String, _ query: String = "") async throws -> GatewayHarness.Reply {
        let id = try #require(try await gw.folderIDs(gw.bed.conversationAccount)[folder])
        return try await gw.request(.get, "/api/v1/conversations?folderId=\(id)\(query)", auth: gw.bed.conversationAccount)
    }

    /// The conversation listing Message-IDs belong to: Message-ID of one member → conversation ID.
    func conversationID(of messageID: String, _ gw: GatewayHarness) async throws -> String {
        let looks = try await Self.looks(gw.bed)
        for folder in ["INBOX", "Archive", "Sent", "Drafts"] {
            let reply = try await list(gw, folder, "&limit=100")
            let groups = try await Self.listedGroups(reply.items, gw, looks)
            if let index = groups.firstIndex(where: { $0.contains(messageID) }) { return reply.items[index]["id"] as? String ?? "" }
        }
        throw GatewayTestFailure("no conversation holds \(messageID)")
    }

    struct GatewayTestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    @Test func listingGroupsAsAnIndependentThreadingAndPagesCoverEachOnce() async throws {
        let bed = try TestBed.require()
        try await Self.reseed(bed)
        try await GatewayHarness.run { gw in
            let looks = try await Self.looks(gw.bed)
            var listed = Set<Set<String>>()
            for folder in ["INBOX", "Archive", "Sent", "Drafts"] {
                let reply = try await list(gw, folder, "&limit=100")
                #expect(reply.status == .ok)
                listed.formUnion(try await Self.listedGroups(reply.items, gw, looks))
            }
            #expect(listed == Self.expectedGroups())
            let trash = try await list(gw, "Trash", "&limit=100")
            #expect(try await Self.listedGroups(trash.items, gw, looks) == [["<t1-6@conv.test>"]])

            // Four orders here (all twenty in ConversationEndpointTests, over the fake server).
            for (field, dir) in [(SortField.date, "DESC"), (.subject, "ASC"), (.isUnread, "DESC"), (.size, "ASC")] {
                do {
                    let whole = try await list(gw, "Archive", "&sort=\(field.rawValue)&dir=\(dir)&limit=100")
                    let all = whole.items.compactMap { $0["id"] as? String }
                    #expect(all.count == 4, "Archive holds members of T1, T2, T3 and the message without an ID")
                    for size in [1, 3] {
                        var paged: [String] = []
                        for start in stride(from: 0, to: all.count, by: size) {
                            let page = try await list(gw, "Archive", "&sort=\(field.rawValue)&dir=\(dir)&start=\(start)&limit=\(size)")
                            #expect(page["totalItems"] as? Int == all.count)
                            paged += page.items.compactMap { $0["id"] as? String }
                        }
                        #expect(paged == all, "\(field) \(dir) by \(size)")
                    }
                }
            }
        }
    }

    /// Every conversation listed in the threaded folders: conversation ID → its members' Message-IDs.
    func conversations(_ gw: GatewayHarness) async throws -> [String: Set<String>] {
        let looks = try await Self.looks(gw.bed)
        var out: [String: Set<String>] = [:]
        for folder in ["INBOX", "Archive", "Sent", "Drafts"] {
            let reply = try await list(gw, folder, "&limit=100")
            let groups = try await Self.listedGroups(reply.items, gw, looks)
            for (item, group) in zip(reply.items, groups) {
                let id = item["id"] as? String ?? ""
                #expect(out[id] == nil || out[id] == group, "\(id) lists the same members from every folder")
                out[id] = group
            }
        }
        return out
    }

    /// A reply APPENDed after the listing joins its conversation under the same ID, also under a root
    /// nobody has; the root moved to Archive by another client stays in its conversation, listed at
    /// its new place (its `mailId` resolves to the message in Archive, by the bed's own look).
    @Test func aLaterReplyJoinsAndAMovedMemberStaysUnderTheSameID() async throws {
        let bed = try TestBed.require()
        try await Self.reseed(bed)
        try await GatewayHarness.run { gw in
            let pia = gw.bed.conversationAccount
            let before = try await conversations(gw)
            let t1 = try await conversationID(of: "<t1-1@conv.test>", gw)
            let t2 = try await conversationID(of: "<t2-1@conv.test>", gw)
            #expect(before[t1] == ["<t1-1@conv.test>", "<t1-2@conv.test>", "<t1-3@conv.test>", "<t1-4@conv.test>", "<t1-5@conv.test>"])
            #expect(before[t2] == ["<t2-1@conv.test>", "<t2-2@conv.test>"])

            // Another client: two replies arrive in INBOX, and the root of T1 goes to Archive.
            let connection = try await gw.bed.connect(pia)
            defer { connection.close() }
            _ = try await connection.append(
                TestBed.message(
                    subject: "Re: Budget", messageID: "<t1-7@conv.test>", date: "Sat, 06 Jan 2024 09:00:00 +0000",
                    inReplyTo: "<t1-4@conv.test>", references: ["<t1-1@conv.test>", "<t1-4@conv.test>"]),
                to: MailboxName("INBOX"))
            _ = try await connection.append(
                TestBed.message(
                    subject: "Re: Lost", messageID: "<t2-3@conv.test>", date: "Sat, 06 Jan 2024 10:00:00 +0000",
                    inReplyTo: "<t2-0@conv.test>", references: ["<t2-0@conv.test>"]),
                to: MailboxName("INBOX"))
            let root = try #require(try await gw.bed.look("INBOX", user: pia.user).values.first { $0.messageID == "<t1-1@conv.test>" })
            _ = try await connection.select(MailboxName("INBOX"))
            _ = try await connection.uidMove(UIDSet([root.uid]), to: MailboxName("Archive"))
            try await connection.unselect()
            #expect(Self.locations(try await Self.looks(gw.bed))["<t1-1@conv.test>"] == "Archive")

            let after = try await conversations(gw)
            #expect(after[t1] == before[t1]!.union(["<t1-7@conv.test>"]), "T1 keeps its ID, gains the reply, keeps its moved root")
            #expect(after[t2] == before[t2]!.union(["<t2-3@conv.test>"]), "T2 (root nobody has) keeps its ID and gains the reply")
            #expect(try await conversationID(of: "<t1-1@conv.test>", gw) == t1)
            var unchanged = before
            unchanged[t1] = nil
            unchanged[t2] = nil
            var others = after
            others[t1] = nil
            others[t2] = nil
            #expect(others == unchanged, "no other conversation changed")
            let archive = try await list(gw, "Archive", "&limit=100")
            #expect(archive.items.compactMap { $0["id"] as? String }.contains(t1))
        }
    }

    @Test func moveSkipsSentAndDraftsAndTouchesNothingElse() async throws {
        let bed = try TestBed.require()
        try await Self.reseed(bed)
        try await GatewayHarness.run { gw in
            let pia = gw.bed.conversationAccount
            let t1 = try await conversationID(of: "<t1-1@conv.test>", gw)
            let t2 = try await conversationID(of: "<t2-1@conv.test>", gw)
            let before = Self.locations(try await Self.looks(gw.bed))
            let archive = try #require(try await gw.folderIDs(pia)["Archive"])
            let reply = try await gw.request(
                .post, "/api/v1/batch/conversations/move", json: ["ids": [t1, t2], "destinationFolderId": archive], auth: pia)
            #expect(reply.status == .ok)
            #expect(reply.failedItems.isEmpty)
            var expected = before
            for id in ["<t1-1@conv.test>", "<t1-4@conv.test>", "<t2-1@conv.test>"] { expected[id] = "Archive" }
            #expect(Self.locations(try await Self.looks(gw.bed)) == expected)
        }
    }

    @Test func updateLeavesUnreadInSentAndDraftsAndFlagsEveryMember() async throws {
        let bed = try TestBed.require()
        try await Self.reseed(bed)
        try await GatewayHarness.run { gw in
            let pia = gw.bed.conversationAccount
            let t1 = try await conversationID(of: "<t1-1@conv.test>", gw)
            let reply = try await gw.request(
                .post, "/api/v1/batch/conversations/update", json: ["ids": [t1], "isUnread": false, "isFlagged": true], auth: pia)
            #expect(reply.status == .ok)
            #expect(reply.failedItems.isEmpty)
            let looks = try await Self.looks(gw.bed)
            var seen: Set<String> = []
            var flagged: Set<String> = []
            for messages in looks.values {
                for message in messages.values {
                    if message.flags.contains("\\seen") { seen.insert(message.messageID) }
                    if message.flags.contains("\\flagged") { flagged.insert(message.messageID) }
                }
            }
            #expect(seen == ["<t1-1@conv.test>", "<t1-2@conv.test>", "<t1-3@conv.test>", "<t1-4@conv.test>", "<t2-1@conv.test>", "<t4-1@conv.test>"])
            #expect(flagged == ["<t1-1@conv.test>", "<t1-2@conv.test>", "<t1-3@conv.test>", "<t1-4@conv.test>", "<t1-5@conv.test>"])
        }
    }

    @Test func deleteSendsEveryMemberToTrashThenRemovesThemFromTrash() async throws {
        let bed = try TestBed.require()
        try await Self.reseed(bed)
        try await GatewayHarness.run { gw in
            let pia = gw.bed.conversationAccount
            let t1 = try await conversationID(of: "<t1-1@conv.test>", gw)
            let before = Self.locations(try await Self.looks(gw.bed))
            let reply = try await gw.request(.post, "/api/v1/batch/conversations/delete", json: ["ids": [t1]], auth: pia)
            #expect(reply.status == .ok)
            var expected = before
            for n in 1...5 { expected["<t1-\(n)@conv.test>"] = "Trash" }
            #expect(Self.locations(try await Self.looks(gw.bed)) == expected)

            // In Trash all six are one conversation of Trash's own; deleting it removes them for good.
            let trash = try await list(gw, "Trash", "&limit=100")
            let trashIDs = trash.items.compactMap { $0["id"] as? String }
            #expect(trashIDs.count == 1)
            #expect(trashIDs != [t1])
            let gone = try await gw.request(.post, "/api/v1/batch/conversations/delete", json: ["ids": trashIDs], auth: pia)
            #expect(gone.status == .ok)
            #expect(gone.failedItems.isEmpty)
            expected = expected.filter { $0.value != "Trash" }
            #expect(Self.locations(try await Self.looks(gw.bed)) == expected)
        }
    }

    @Test func labelsRangesUnknownIDsAndBadRequests() async throws {
        let bed = try TestBed.require()
        try await Self.reseed(bed)
        try await GatewayHarness.run { gw in
            let pia = gw.bed.conversationAccount
            let label = try await gw.request(.post, "/api/v1/labels", json: ["name": "Conv \(UUID().uuidString.prefix(6))"], auth: pia)
            let labelId = try #require(label["id"] as? String)
            let t3 = try await conversationID(of: "<t3-1@conv.test>", gw)
            let added = try await gw.request(.post, "/api/v1/batch/conversations/labels/add", json: ["ids": [t3], "labelId": labelId], auth: pia)
            #expect(added.status == .ok)
            var looks = try await Self.looks(gw.bed)
            let keyworded = looks.values.flatMap(\.values).filter { $0.flags.contains { !$0.hasPrefix("\\") && !$0.hasPrefix("$has") } }
                .map(\.messageID)
            #expect(Set(keyworded) == ["<t3-1@conv.test>", "<t3-2@conv.test>"])

            // A range of INBOX's listing by subject ASC: Budget, Invoice, Lost, Offsite; from the 2nd, 2 of them.
            let inbox = try #require(try await gw.folderIDs(pia)["INBOX"])
            let ordered = try await list(gw, "INBOX", "&sort=subject&dir=ASC&limit=100")
            let ids = ordered.items.compactMap { $0["id"] as? String }
            let groups = try await Self.listedGroups(ordered.items, gw, looks)
            #expect(groups.map { $0.sorted().first ?? "" } == ["<t1-1@conv.test>", "<t4-1@conv.test>", "<t2-1@conv.test>", "<t3-1@conv.test>"])
            let ranged = try await gw.request(
                .post, "/api/v1/batch/conversations/update",
                json: ["ranges": [["start": ids[1], "limit": 2, "sourceFolderId": inbox]], "sortInfo": ["field": "subject", "direction": "ASC"],
                       "isFlagged": true], auth: pia)
            #expect(ranged.status == .ok)
            looks = try await Self.looks(gw.bed)
            let flagged = looks.values.flatMap(\.values).filter { $0.flags.contains("\\flagged") }.map(\.messageID)
            #expect(Set(flagged) == ["<t4-1@conv.test>", "<t2-1@conv.test>", "<t2-2@conv.test>"])

            // Unknown IDs fail and change nothing; a move without a destination is a 400.
            let snapshot = try await Self.looks(gw.bed)
            let unknown = "c" + String(repeating: "Q", count: 22)
            let archive = try #require(try await gw.folderIDs(pia)["Archive"])
            let failed = try await gw.request(
                .post, "/api/v1/batch/conversations/move", json: ["ids": [unknown], "destinationFolderId": archive], auth: pia)
            #expect(failed.status == .ok)
            #expect(failed.failedItems == [unknown])
            let noDestination = try await gw.request(.post, "/api/v1/batch/conversations/move", json: ["ids": ids], auth: pia)
            #expect(noDestination.status == .badRequest)
            #expect(noDestination.errorField == "destinationFolderId")
            #expect(try await Self.looks(gw.bed) == snapshot)
        }
    }
}
