import Foundation
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// A conversation batch over more members than `batch.asyncThreshold` runs as a job with the mail
/// jobs' crash safety (issue 16): the gateway process is SIGKILLed mid-way through moving 2,000
/// conversations (8,000 members), started again on the same database, and the job completes with
/// every member in the destination exactly once and none left behind, by the bed's own look.
/// Account sam, of its own: the conversation index spans every folder of an account.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct ConversationJobTests {
    /// Messages in threads of four (integration/maildir-fill.py): 2,000 conversations.
    static let count = 8_000

    /// Empties every folder of the account and deletes the folders earlier runs left. The fill's
    /// subjects repeat across folders ("… #0" in each), so leftovers would join the new threads by
    /// subject and be moved with them.
    static func empty(_ bed: TestBed, _ account: IMAPCredentials) async throws {
        let connection = try await bed.connect(account)
        defer { connection.close() }
        for listing in try await connection.list() {
            let name = listing.entry.name
            if name.name.hasPrefix("ConvKill") {
                try await connection.delete(name)
                continue
            }
            guard !listing.entry.attributes.contains(where: { $0.lowercased() == "\\noselect" }) else { continue }
            _ = try await connection.select(name)
            let all = try await connection.uidSearch(.all)
            if !all.isEmpty {
                _ = try await connection.uidStore(all, .add, flags: [.deleted])
                _ = try await connection.uidExpunge(all)
            }
            try await connection.unselect()
        }
    }

    /// Four chunks of 2,000 members; the kill comes once the first is reported (25 %), during or
    /// before the second `UID MOVE`, so the job is unfinished at the kill and the resume must wait
    /// out a command the server may still finish (the 10 s command timeout) before it looks.
    @Test func conversationJobSurvivesSIGKILL() async throws {
        let bed = try TestBed.require()
        let sam = bed.conversationJobAccount
        try await Self.empty(bed, sam)
        let (source, dest, originals) = try await KillTest.folders(bed, "ConvKill", count: Self.count, account: sam)

        let database = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-conv-kill-\(UUID().uuidString).sqlite").path
        defer { try? FileManager.default.removeItem(atPath: database) }
        let port = GatewayProcess.freePort()
        let settings = ["GATEWAY_JOBS_CHUNK_SIZE": "2000", "GATEWAY_IMAP_COMMAND_TIMEOUT_SECONDS": "10"]
        let gateway = try GatewayProcess.start(bed: bed, port: port, database: database, environment: settings)
        let http = HTTPClient(port: port, user: sam.user, password: sam.password)
        try await http.waitUntilUp()
        let folders = try await http.folderIDs()
        let sourceID = try #require(folders[source])
        let first = try await http.json("GET", "/api/v1/conversations?folderId=\(sourceID)&sort=date&dir=ASC&limit=1")
        #expect(first.status == 200)
        #expect(first.body["totalItems"] as? Int == Self.count / 4, "threads of four")
        let start = try #require(((first.body["items"] as? [[String: Any]])?.first?["id"]) as? String)
        let created = try await http.json(
            "POST", "/api/v1/batch/conversations/move",
            body: [
                "ranges": [["start": start, "limit": Self.count / 4, "sourceFolderId": sourceID]],
                "sortInfo": ["field": "date", "direction": "ASC"], "destinationFolderId": try #require(folders[dest]),
            ])
        #expect(created.status == 201)
        let key = try #require(created.body["jobKey"] as? String)

        let (killedAt, movedBeforeRestart) = try await KillTest.killAndResume(
            gateway, job: key, via: http, restart: { try GatewayProcess.start(bed: bed, port: port, database: database, environment: settings) },
            bed, from: source, to: dest, originals: originals, user: sam.user)
        print("CONVERSATION KILL TEST: killed at \(killedAt)% with \(movedBeforeRestart) moved; resumed and completed")
    }
}
