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

/// A folder of 100,000 messages: a range of 1,000 from position 50,000 resolves to exactly the
/// server's order there, and repeating it costs no SORT (the `/metrics` counter stays at 1).
/// Prints the times it saw (not asserted: this is a check of behaviour, not a benchmark).
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct LargeFolderTests {
    static let count = 100_000

    @Test func rangeInTheMiddleOfAHundredThousandMessages() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let box = TestBed.uniqueMailbox("Gw100k")
            let clock = ContinuousClock()
            let fillTime = try clock.measure { try gw.bed.fill(box, count: Self.count) }
            let folderId = try #require(try await gw.folderIDs(alice)[box])

            // Cold: the first listing sorts the folder (DATE DESC, the listing default).
            var startID = ""
            let cold = try await clock.measure {
                let page = try await gw.request(.get, "/api/v1/mails?folderId=\(folderId)&start=50000&limit=1", auth: alice)
                #expect(page["totalItems"] as? Int == Self.count)
                startID = ((page["items"] as? [[String: Any]])?.first?["id"] as? String) ?? ""
            }
            #expect(!startID.isEmpty)
            let range: [String: Any] = [
                "ranges": [["start": startID, "limit": 1000]], "sortInfo": ["field": "date", "direction": "DESC"],
            ]
            var first = GatewayHarness.Reply(status: .ok, json: nil)
            let warm1 = try await clock.measure {
                first = try await gw.request(
                    .post, "/api/v1/batch/mails/update", json: range.merging(["isFlagged": true]) { a, _ in a }, auth: alice)
            }
            #expect(first.status == .ok)
            #expect(first.failedItems.isEmpty)

            // The independent look: the server's own SORT on another connection, and doveadm's flags.
            let look = try await gw.bed.connect()
            try await look.select(MailboxName(box))
            let serverOrder = try await look.uidSort([SortKey(.date, reverse: true)])
            look.close()
            let expected = UIDSet(serverOrder[50_000..<51_000])
            #expect(try gw.bed.search(box, ["FLAGGED"]) == expected)

            var second = GatewayHarness.Reply(status: .ok, json: nil)
            let warm2 = try await clock.measure {
                second = try await gw.request(
                    .post, "/api/v1/batch/mails/update", json: range.merging(["isFlagged": false]) { a, _ in a }, auth: alice)
            }
            #expect(second.failedItems.isEmpty)
            #expect(try gw.bed.search(box, ["FLAGGED"]).isEmpty)

            let metrics = try await gw.client.execute(uri: "/metrics", method: .get)
            let text = String(buffer: metrics.body)
            #expect(text.contains("gateway_imap_sort_commands_total 1\n"), "one SORT for the listing and both ranges")
            #expect(text.contains("gateway_sort_cache_hits_total 2\n"))
            #expect(text.contains("gateway_batch_requests_total 2\n"))
            #expect(text.contains("gateway_batch_items_total 2000\n"))
            #expect(text.contains("gateway_batch_failed_items_total 0\n"))

            // A change to the folder invalidates the order: the next range sorts again.
            let append = try await gw.bed.connect()
            try await append.append(TestBed.message(subject: "new", messageID: "<new-\(UUID())@x>"), to: MailboxName(box))
            append.close()
            let resort = try await clock.measure {
                let third = try await gw.request(
                    .post, "/api/v1/batch/mails/update", json: range.merging(["isUnread": false]) { a, _ in a }, auth: alice)
                #expect(third.status == .ok)
            }
            let after = String(buffer: try await gw.client.execute(uri: "/metrics", method: .get).body)
            #expect(after.contains("gateway_imap_sort_commands_total 2\n"))
            print(
                "LARGE FOLDER TIMINGS (\(Self.count) messages): fill \(fillTime), cold listing with SORT \(cold), "
                    + "warm range #1 \(warm1), warm range #2 \(warm2), range after a change (re-SORT) \(resort)")
        }
    }
}
