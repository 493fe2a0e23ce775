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

/// `GET /api/v1/mails` and `ranges` for all ten sort fields in both directions: the listing equals
/// the order computed independently from an IMAP look, and a range from the middle moves exactly
/// those messages (checked by doveadm).
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct ListingAndRangeTests {
    struct Fixture {
        var subject: String
        var from: String
        var to: String
        var date: String
        var bodySize: Int
        var flags: [Flag]
        var priority: String?
        /// 0 low, 1 normal, 2 high (what `priority` means).
        var importance: Int
        var attachment: Bool
    }

    static let fixtures: [Fixture] = [
        Fixture(subject: "Re: alpha", from: "Zoe <zoe@example.com>", to: "b@example.com", date: "Mon, 01 Jan 2024 10:00:00 +0000", bodySize: 300, flags: [.seen], priority: "X-Priority: 1", importance: 2, attachment: false),
        Fixture(subject: "beta", from: "adam@example.com", to: "c@example.com", date: "Mon, 01 Jan 2024 10:00:00 +0000", bodySize: 100, flags: [], priority: nil, importance: 1, attachment: true),
        Fixture(subject: "[list] gamma", from: "Mia <mia@example.org>", to: "a@example.com", date: "Tue, 02 Jan 2024 09:00:00 +0000", bodySize: 900, flags: [.flagged], priority: "X-Priority: 5", importance: 0, attachment: false),
        Fixture(subject: "Fwd: delta", from: "bob@example.net", to: "d@example.com", date: "Wed, 03 Jan 2024 08:00:00 +0100", bodySize: 50, flags: [.seen, .flagged], priority: "Importance: high", importance: 2, attachment: false),
        Fixture(subject: "alpha", from: "carl@example.com", to: "e@example.com", date: "Wed, 03 Jan 2024 07:00:00 +0000", bodySize: 700, flags: [], priority: "Importance: low", importance: 0, attachment: true),
        Fixture(subject: "epsilon", from: "Zoe <zoe@example.com>", to: "b@example.com", date: "Thu, 04 Jan 2024 12:00:00 +0000", bodySize: 400, flags: [.seen], priority: nil, importance: 1, attachment: false),
        Fixture(subject: "zeta", from: "eve@example.com", to: "f@example.com", date: "Thu, 04 Jan 2024 12:00:00 +0000", bodySize: 250, flags: [.flagged], priority: "Priority: urgent", importance: 2, attachment: true),
        Fixture(subject: "Re: Re: beta", from: "adam@example.com", to: "a@example.com", date: "Fri, 05 Jan 2024 18:30:00 -0500", bodySize: 150, flags: [], priority: "X-Priority: 3", importance: 1, attachment: false),
        Fixture(subject: "eta", from: "dina@example.com", to: "g@example.com", date: "Sat, 06 Jan 2024 06:00:00 +0000", bodySize: 600, flags: [.seen], priority: nil, importance: 1, attachment: false),
        Fixture(subject: "theta", from: "Bea <bea@example.com>", to: "h@example.com", date: "Sun, 07 Jan 2024 06:00:00 +0000", bodySize: 350, flags: [], priority: "X-Priority: 2", importance: 2, attachment: false),
        Fixture(subject: "iota", from: "finn@example.com", to: "c@example.com", date: "Mon, 08 Jan 2024 06:00:00 +0000", bodySize: 120, flags: [.flagged, .seen], priority: nil, importance: 1, attachment: true),
        Fixture(subject: "kappa", from: "gus@example.com", to: "i@example.com", date: "Mon, 08 Jan 2024 06:00:00 +0000", bodySize: 800, flags: [], priority: "X-Priority: 4", importance: 0, attachment: false),
    ]

    static func message(_ f: Fixture, messageID: String) -> [UInt8] {
        var headers = [
            "From: \(f.from)", "To: \(f.to)", "Subject: \(f.subject)", "Date: \(f.date)", "Message-ID: \(messageID)", "MIME-Version: 1.0",
        ]
        if let priority = f.priority { headers.append(priority) }
        let text = String(repeating: "x", count: f.bodySize)
        let body: String
        if f.attachment {
            headers.append("Content-Type: multipart/mixed; boundary=\"b1\"")
            body = [
                "--b1", "Content-Type: text/plain", "", text, "--b1", "Content-Type: application/pdf; name=\"a.pdf\"",
                "Content-Disposition: attachment; filename=\"a.pdf\"", "Content-Transfer-Encoding: base64", "", "JVBERi0xLjQK", "--b1--", "",
            ].joined(separator: "\r\n")
        } else {
            headers.append("Content-Type: text/plain")
            body = text + "\r\n"
        }
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
    }

    static let orders: [MailSortOrder] = SortField.allCases.flatMap {
        [MailSortOrder(field: $0, direction: .ascending), MailSortOrder(field: $0, direction: .descending)]
    }

    @Test(arguments: orders)
    func listingMatchesAnIndependentOrderAndARangeMovesExactlyThat(_ order: MailSortOrder) async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let box = TestBed.uniqueMailbox("GwSort")
            let dest = TestBed.uniqueMailbox("GwSortDest")
            let setup = try await gw.bed.connect()
            defer { setup.close() }
            try await setup.create(MailboxName(box))
            try await setup.create(MailboxName(dest))
            var fixtureByUID: [UInt32: Fixture] = [:]
            var messageIDByUID: [UInt32: String] = [:]
            for (i, fixture) in Self.fixtures.enumerated() {
                let messageID = "<sort-\(i)-\(UUID().uuidString)@example.com>"
                let appended = try #require(try await setup.append(Self.message(fixture, messageID: messageID), to: MailboxName(box), flags: fixture.flags))
                fixtureByUID[appended.uid] = fixture
                messageIDByUID[appended.uid] = messageID
            }

            // The independent expectation: the server's SORT for native keys; for the others
            // (value, date, UID) over the server's SORT (DATE), values from doveadm and the fixtures.
            try await setup.select(MailboxName(box))
            let expected: [UInt32]
            if let criterion = order.field.nativeCriterion {
                expected = try await setup.uidSort([SortKey(criterion, reverse: order.direction == .descending)])
            } else {
                let dateOrder = try await setup.uidSort([SortKey(.date)])
                let look = try await gw.bed.look(box)
                let value: (UInt32) -> Int = { uid in
                    switch order.field {
                    case .isUnread: return look[uid]!.flags.contains("\\seen") ? 0 : 1
                    case .isFlagged: return look[uid]!.flags.contains("\\flagged") ? 1 : 0
                    case .importance: return fixtureByUID[uid]!.importance
                    case .hasAttachments: return fixtureByUID[uid]!.attachment ? 1 : 0
                    default: return 0
                    }
                }
                let keyed = dateOrder.enumerated().map { (value(dateOrder[$0.offset]), $0.offset, $0.element) }
                let ascending = keyed.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.2)
                expected = order.direction == .ascending ? ascending : ascending.reversed()
            }
            #expect(expected.count == Self.fixtures.count)

            let folders = try await gw.folderIDs(alice)
            let folderId = try #require(folders[box])
            let listing = try await gw.request(
                .get, "/api/v1/mails?folderId=\(folderId)&sort=\(order.field.rawValue)&dir=\(order.direction.rawValue)&limit=100",
                auth: alice)
            #expect(listing.status == .ok)
            #expect(listing["totalItems"] as? Int == Self.fixtures.count)
            let sortInfo = listing["sortInfo"] as? [String: Any]
            #expect(sortInfo?["field"] as? String == order.field.rawValue)
            #expect(sortInfo?["direction"] as? String == order.direction.rawValue)
            let items = (listing["items"] as? [[String: Any]]) ?? []
            let listedIDs = items.compactMap { $0["id"] as? String }
            let listed = listedIDs.compactMap { MailID($0)?.uid }
            #expect(listed == expected, "listing order for \(order.field.rawValue) \(order.direction.rawValue)")

            // Item fields against the fixtures.
            for item in items {
                let uid = try #require(MailID(item["id"] as? String ?? "")?.uid)
                let fixture = try #require(fixtureByUID[uid])
                #expect(item["subject"] as? String == fixture.subject)
                #expect(item["messageId"] as? String == messageIDByUID[uid])
                #expect(item["isUnread"] as? Bool == !fixture.flags.contains(.seen))
                #expect(item["isFlagged"] as? Bool == fixture.flags.contains(.flagged))
                #expect(item["hasAttachments"] as? Bool == fixture.attachment)
                #expect(item["importance"] as? String == ["low", "normal", "high"][fixture.importance])
                #expect((item["from"] as? String)?.contains(fixture.from.split(separator: "<").last!.trimmingCharacters(in: CharacterSet(charactersIn: ">"))) == true)
            }

            // A window of the listing matches the same order.
            let window = try await gw.request(
                .get, "/api/v1/mails?folderId=\(folderId)&sort=\(order.field.rawValue)&dir=\(order.direction.rawValue)&start=3&limit=4",
                auth: alice)
            #expect(((window["items"] as? [[String: Any]]) ?? []).compactMap { MailID($0["id"] as? String ?? "")?.uid } == Array(expected[3..<7]))

            // A range from the middle moves exactly those messages.
            let start = listedIDs[4]
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/move",
                json: [
                    "ranges": [["start": start, "limit": 3]], "destinationFolderId": try #require(folders[dest]),
                    "sortInfo": ["field": order.field.rawValue, "direction": order.direction.rawValue],
                ], auth: alice)
            #expect(reply.status == .ok)
            #expect(reply.failedItems.isEmpty)
            let moved = Set(expected[4..<7].map { messageIDByUID[$0]! })
            #expect(Set(try await gw.bed.look(dest).values.map(\.messageID)) == moved)
            #expect(Set(try await gw.bed.look(box).keys) == Set(expected).subtracting(expected[4..<7]))
        }
    }

    /// The metadata cache follows the folder incrementally: a flag changed and a message added by
    /// another client show up in the next flag-sorted listing without refetching the folder.
    @Test func metadataCacheFollowsChangesIncrementally() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let box = TestBed.uniqueMailbox("GwIncr")
            let (_, uids, _) = try await gw.makeMailbox(box, count: 4)
            let folderId = try #require(try await gw.folderIDs(alice)[box])
            func listed() async throws -> [UInt32] {
                let reply = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&sort=isFlagged&dir=DESC", auth: alice)
                return ((reply["items"] as? [[String: Any]]) ?? []).compactMap { MailID($0["id"] as? String ?? "")?.uid }
            }
            func counter(_ name: String) async throws -> Int {
                let text = String(buffer: try await gw.client.execute(uri: "/metrics", method: .get).body)
                let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
                return Int(line?.split(separator: " ").last ?? "") ?? -1
            }
            // All unflagged, same date: DESC is the reverse of (value, date, UID).
            #expect(try await listed() == uids.reversed())
            #expect(try await counter("gateway_metadata_full_syncs_total") == 1)

            let other = try await gw.bed.connect()
            try await other.select(MailboxName(box))
            try await other.uidStore([uids[1]], .add, flags: [.flagged])
            let appended = try #require(try await other.append(TestBed.message(subject: "late", messageID: "<late-\(UUID())@x>"), to: MailboxName(box)))
            other.close()

            let after = try await listed()
            #expect(after == [uids[1], appended.uid, uids[3], uids[2], uids[0]])
            #expect(try await counter("gateway_metadata_full_syncs_total") == 1, "no full refetch")
            #expect(try await counter("gateway_metadata_incremental_syncs_total") == 1)
        }
    }

    @Test func rangeErrors() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let box = TestBed.uniqueMailbox("GwRangeErr")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 3)
            let folders = try await gw.folderIDs(alice)
            let folderId = try #require(folders[box])
            let start = MailID(folderId: folderId, uidValidity: validity, uid: uids[0]).encoded
            let before = try await gw.bed.look(box)
            func post(_ body: [String: Any]) async throws -> GatewayHarness.Reply {
                try await gw.request(.post, "/api/v1/batch/mails/update", json: body.merging(["isFlagged": true]) { a, _ in a }, auth: alice)
            }
            let noSort = try await post(["ranges": [["start": start, "limit": 2]]])
            #expect(noSort.status == .badRequest)
            #expect(noSort.errorCode == "missingSortInfo")
            let badField = try await post(["ranges": [["start": start, "limit": 2]], "sortInfo": ["field": "color", "direction": "ASC"]])
            #expect(badField.status == .badRequest)
            #expect(badField.errorField == "sortInfo.field")
            let badDirection = try await post(["ranges": [["start": start, "limit": 2]], "sortInfo": ["field": "date", "direction": "UP"]])
            #expect(badDirection.errorField == "sortInfo.direction")
            for limit in [0, -1, 100_001] {
                let bad = try await post(["ranges": [["start": start, "limit": limit]], "sortInfo": ["field": "date", "direction": "ASC"]])
                #expect(bad.status == .badRequest)
                #expect(bad.errorField == "ranges[0].limit")
            }
            #expect(try await gw.bed.look(box) == before)

            // A start that is not in the folder: that range's items fail (its start is reported), others go on.
            let gone = MailID(folderId: folderId, uidValidity: validity, uid: uids[2] + 50).encoded
            let stale = MailID(folderId: folderId, uidValidity: validity &+ 1, uid: uids[0]).encoded
            let mixed = try await post([
                "ranges": [["start": gone, "limit": 2], ["start": stale, "limit": 2], ["start": start, "limit": 2]],
                "sortInfo": ["field": "date", "direction": "ASC"],
            ])
            #expect(mixed.status == .ok)
            #expect(mixed.failedItems == [gone, stale])
            let look = try await gw.bed.look(box)
            #expect(look[uids[0]]?.flags.contains("\\flagged") == true)
            #expect(look[uids[1]]?.flags.contains("\\flagged") == true)
            #expect(look[uids[2]]?.flags.contains("\\flagged") == false)

            // Listing errors.
            #expect(try await gw.request(.get, "/api/v1/mails", auth: alice).errorField == "folderId")
            #expect(try await gw.request(.get, "/api/v1/mails?folderId=nope", auth: alice).status == .notFound)
            #expect(try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&sort=color", auth: alice).errorField == "sort")
            #expect(try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&limit=0", auth: alice).errorField == "limit")
            #expect(try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&limit=1001", auth: alice).errorField == "limit")
            #expect(try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&start=-1", auth: alice).errorField == "start")
        }
    }
}
