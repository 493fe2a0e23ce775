import Foundation
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// What the tests that SIGKILL a gateway mid-job share (JobTests, ConversationJobTests,
/// ScaleOutTests): the folders, the kill once the job is under way, and the final look.
enum KillTest {
    /// Fills a new folder of `account` with `count` messages and creates an empty destination
    /// beside it: their names and the Message-IDs filled (checked distinct).
    static func folders(_ bed: TestBed, _ prefix: String, count: Int, account: IMAPCredentials) async throws
        -> (source: String, dest: String, originals: [String])
    {
        let source = TestBed.uniqueMailbox(prefix)
        let dest = TestBed.uniqueMailbox(prefix + "Dest")
        try await bed.fill(source, count: count, user: account.user)
        let setup = try await bed.connect(account)
        try await setup.create(MailboxName(dest))
        setup.close()
        let originals = try await bed.look(source, user: account.user).values.map(\.messageID)
        #expect(Set(originals).count == count)
        return (source, dest, originals)
    }

    /// Polls job `key` through `http` every 20 ms and calls `kill` once it reports at least 10 %
    /// done: the progress it was killed at, or -1 when that did not happen before `deadline`.
    static func kill(whenJob key: String, via http: HTTPClient, before deadline: ContinuousClock.Instant, _ kill: () -> Void) async throws
        -> Double
    {
        while ContinuousClock.now < deadline {
            let status = try await http.json("GET", "/api/v1/batch/jobs/\(key)")
            #expect(status.status == 200)
            let progress = (status.body["progress"] as? Double) ?? 0
            if progress >= 10 {
                kill()
                return progress
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return -1
    }

    /// The job's last status says completed with no failed item, and the bed's own look finds
    /// `source` empty and `dest` holding exactly `originals`, each once.
    static func expectMovedOnce(
        _ final: [String: Any], _ bed: TestBed, from source: String, to dest: String, originals: [String], user: String
    ) async throws {
        #expect(final["status"] as? String == "completed")
        #expect(final["progress"] as? Double == 100)
        #expect((final["batchOperationDetails"] as? [String: Any])?["failedItems"] as? [String] == [])
        let left = try await bed.look(source, user: user)
        let moved = try await bed.look(dest, user: user).values.map(\.messageID)
        #expect(left.isEmpty, "none left")
        #expect(moved.count == originals.count, "none twice")
        #expect(Set(moved) == Set(originals), "none lost")
    }
}
