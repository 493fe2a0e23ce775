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
        // The real binary over a real socket: the in-process test client's 20 s read timeout is too
        // short for a cold SORT of 100,000 messages while the rest of the suite loads both cores.
        let bed = try TestBed.require()
        let box = TestBed.uniqueMailbox("Gw100k")
        let clock = ContinuousClock()
        let dave = bed.dave
        let fillStart = clock.now
        try await bed.fill(box, count: Self.count, user: dave.user)
        let fillTime = clock.now - fillStart
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-100k-\(UUID().uuidString).sqlite").path
        let port = GatewayProcess.freePort()
        let gateway = try GatewayProcess.start(bed: bed, port: port, database: database)
        defer { gateway.kill() }
        let http = HTTPClient(port: port, user: dave.user, password: dave.password)
        try await http.waitUntilUp()
        let folderId = try #require(try await http.folderIDs()[box])

        // Cold: the first listing sorts the folder (DATE DESC, the listing default).
        var startID = ""
        let cold = try await clock.measure {
            let page = try await http.json("GET", "/api/v1/mails?folderId=\(folderId)&start=50000&limit=1")
            #expect(page.body["totalItems"] as? Int == Self.count)
            startID = ((page.body["items"] as? [[String: Any]])?.first?["id"] as? String) ?? ""
        }
        #expect(!startID.isEmpty)
        let range: [String: Any] = [
            "ranges": [["start": startID, "limit": 1000]], "sortInfo": ["field": "date", "direction": "DESC"],
        ]
        var first = HTTPClient.Reply(status: 0, body: [:])
        let warm1 = try await clock.measure {
            first = try await http.json("POST", "/api/v1/batch/mails/update", body: range.merging(["isFlagged": true]) { a, _ in a })
        }
        #expect(first.status == 200)
        #expect((first.body["batchOperationDetails"] as? [String: Any])?["failedItems"] as? [String] == [])

        // The independent look: the server's own SORT on another connection, and doveadm's flags.
        let look = try await bed.connect(dave)
        try await look.select(MailboxName(box))
        let serverOrder = try await look.uidSort([SortKey(.date, reverse: true)])
        look.close()
        let expected = UIDSet(serverOrder[50_000..<51_000])
        #expect(try await bed.search(box, ["FLAGGED"], user: dave.user) == expected)

        var second = HTTPClient.Reply(status: 0, body: [:])
        let warm2 = try await clock.measure {
            second = try await http.json("POST", "/api/v1/batch/mails/update", body: range.merging(["isFlagged": false]) { a, _ in a })
        }
        #expect((second.body["batchOperationDetails"] as? [String: Any])?["failedItems"] as? [String] == [])
        #expect(try await bed.search(box, ["FLAGGED"], user: dave.user).isEmpty)

        let text = try await http.text("/metrics")
        #expect(text.contains("gateway_imap_sort_commands_total 1\n"), "one SORT for the listing and both ranges")
        #expect(text.contains("gateway_sort_cache_hits_total 2\n"))
        #expect(text.contains("gateway_batch_requests_total 2\n"))
        #expect(text.contains("gateway_batch_items_total 2000\n"))
        #expect(text.contains("gateway_batch_failed_items_total 0\n"))

        // A change to the folder invalidates the order: the next range sorts again.
        let append = try await bed.connect(dave)
        try await append.append(TestBed.message(subject: "new", messageID: "<new-\(UUID())@x>"), to: MailboxName(box))
        append.close()
        let resort = try await clock.measure {
            let third = try await http.json("POST", "/api/v1/batch/mails/update", body: range.merging(["isUnread": false]) { a, _ in a })
            #expect(third.status == 200)
        }
        #expect(try await http.text("/metrics").contains("gateway_imap_sort_commands_total 2\n"))
        print(
            "LARGE FOLDER TIMINGS (\(Self.count) messages): fill \(fillTime), cold listing with SORT \(cold), "
                + "warm range #1 \(warm1), warm range #2 \(warm2), range after a change (re-SORT) \(resort)")
    }
}
