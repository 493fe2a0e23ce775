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

    /// SIGKILLs `gateway` once job `key` reports 10 %, expects some but not all of `originals` in
    /// `dest` then (by the bed's look), starts the gateway again with `restart` on the same
    /// database and expects the job to complete with every message moved once: the progress it
    /// was killed at and how many were moved by then.
    static func killAndResume(
        _ gateway: GatewayProcess, job key: String, via http: HTTPClient, restart: () throws -> GatewayProcess,
        _ bed: TestBed, from source: String, to dest: String, originals: [String], user: String
    ) async throws -> (killedAt: Double, movedBeforeRestart: Int) {
        let deadline = ContinuousClock.now + .seconds(120)
        let killedAt = try await kill(whenJob: key, via: http, before: deadline) { gateway.kill() }
        #expect(killedAt >= 10 && killedAt < 100, "killed mid-way (at \(killedAt)%)")
        let movedBeforeRestart = try await bed.search(dest, user: user).count
        #expect(movedBeforeRestart > 0 && movedBeforeRestart < originals.count)

        let restarted = try restart()
        defer { restarted.kill() }
        try await http.waitUntilUp()
        let final = try await http.waitForJob(key, until: deadline + .seconds(120))
        try await expectMovedOnce(final, bed, from: source, to: dest, originals: originals, user: user)
        return (killedAt, movedBeforeRestart)
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
