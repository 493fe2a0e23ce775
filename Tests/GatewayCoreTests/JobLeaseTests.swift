import Foundation
import GatewayCore
import GatewayFakes
import GRDB
import GatewayStore
import IMAPCore
import Testing

/// Job leases between replicas (issue 19), with two engines over one store and one in-memory mail
/// server: a job held by a replica that stopped renewing is taken over once its lease runs out and
/// not before; a replica that finds its lease taken stops at its next chunk boundary, and the
/// taker finishes the job with every message moved exactly once.
@Suite struct JobLeaseTests {
    static let lease: Duration = .milliseconds(600)

    /// A second replica: another engine over the same mail server and store.
    static func replica(of h: EngineHarness, resumeAsMaster: Bool = false, lease: Duration = lease) -> MailboxEngine {
        let jobs = JobService.Configuration(retryDelay: .milliseconds(10), resumeGuard: .zero, lease: lease)
        let password = h.credentials.password
        return MailboxEngine(
            ports: .init(
                mailServer: h.server, folders: h.database, labels: h.database, listingCache: h.database, conversationCache: h.database,
                jobs: h.database, sessions: h.sessions),
            configuration: .init(
                batch: .init(asyncThreshold: 3, jobChunkSize: 1), jobs: jobs,
                resumeCredentials: { account in resumeAsMaster ? AccountCredentials(user: account, password: password) : nil }),
            logger: EngineHarness.logger)
    }

    /// Seeds `count` INBOX messages and submits their move to Archive to `replica` (a job of
    /// one-message chunks): its key and the messages' Message-IDs.
    static func startMove(_ h: EngineHarness, count: Int, on replica: MailboxEngine) async throws -> (key: String, originals: [String]) {
        let uids = h.server.seed(user, "INBOX", count: count)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let submitted = try await replica.batches.submit(
            MailBatchRequest(operation: .move(destinationFolderId: try await h.folderId("Archive")), ids: ids), credentials: h.credentials)
        guard case .started(let status) = submitted else { throw HarnessError("the batch ran synchronously") }
        return (status.jobKey, h.messageIDs("INBOX", uids: uids))
    }

    /// A move of `count` INBOX messages to Archive, written to the store as a replica that
    /// then died would have left it: claimed by `dead-replica`, whose lease ends in ``lease``.
    static func orphanedJob(_ h: EngineHarness, count: Int) async throws -> (key: String, originals: [String]) {
        let uids = h.server.seed(user, "INBOX", count: count)
        let ids = try await h.mailIDs("INBOX", uids: uids)
        let archive = try await h.folderId("Archive")
        let key = "orphaned-job-\(UUID().uuidString)"
        try await h.database.createJob(
            JobRecord(key: key, account: user, operation: .move(destinationFolderId: archive), state: .inProgress, totalItems: count, pendingItems: ids))
        #expect(try await h.database.claimJob(key: key, owner: "dead-replica", lease: lease))
        return (key, h.messageIDs("INBOX", uids: uids))
    }

    @Test func anAccountsRequestOnAnotherReplicaTakesOverAJobOnceItsLeaseRunsOut() async throws {
        let h = try EngineHarness.make()
        let (key, originals) = try await Self.orphanedJob(h, count: 6)
        let b = Self.replica(of: h)
        let started = ContinuousClock.now
        var takenAfter: Duration?
        // Requests of the account reach replica B every 50 ms (each proves its password).
        while ContinuousClock.now - started < .seconds(5) {
            await b.jobs.noteCredentials(h.credentials)
            let status = try #require(try await b.jobs.status(key: key, account: user))
            if ContinuousClock.now - started < .milliseconds(400) {
                #expect(status.state == .inProgress)
                #expect(h.messageIDs("Archive").isEmpty, "nothing moved while the dead replica's lease was live")
            }
            if status.state == .completed {
                takenAfter = ContinuousClock.now - started
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let after = try #require(takenAfter, "replica B completed the job")
        #expect(after >= Self.lease - .milliseconds(50), "not before the lease ran out (\(after))")
        #expect(Set(h.messageIDs("Archive")) == Set(originals))
        #expect(h.messageIDs("Archive").count == originals.count)
        #expect(h.messageIDs("INBOX").isEmpty)
    }

    @Test func aReplicaWithMasterCredentialsTakesOverWithoutAnyRequest() async throws {
        let h = try EngineHarness.make()
        let (key, originals) = try await Self.orphanedJob(h, count: 5)
        let b = Self.replica(of: h, resumeAsMaster: true)
        let runner = Task { await b.jobs.run() }
        defer { runner.cancel() }
        var state = JobState.inProgress
        let deadline = ContinuousClock.now + .seconds(5)
        while state != .completed, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            state = try await b.jobs.status(key: key, account: user)?.state ?? .inProgress
        }
        #expect(state == .completed)
        #expect(Set(h.messageIDs("Archive")) == Set(originals))
        #expect(h.messageIDs("Archive").count == originals.count)
    }

    /// Replica A runs a job of 300 one-message chunks; mid-way another owner takes its lease. A
    /// stops at its next chunk boundary and does not release what is no longer its own; when the
    /// taker is gone in turn (its lease ends), replica B completes the job: each message moved once.
    @Test func aReplicaWhoseLeaseWasTakenStopsAndTheJobIsFinishedOnce() async throws {
        let h = try EngineHarness.make()
        let count = 300
        let a = Self.replica(of: h)
        let (key, originals) = try await Self.startMove(h, count: count, on: a)

        // Wait until some chunks are done, then take the lease as another owner.
        var doneAtTheft = 0
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            doneAtTheft = try await h.database.jobChunks(key: key).filter { $0.state == .done }.count
            if doneAtTheft >= 5 { break }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await h.database.writer.write { db in
            try db.execute(sql: "UPDATE job SET leaseOwner = 'thief', leaseUntil = ? WHERE key = ?", arguments: [
                Date().timeIntervalSince1970 + Self.seconds(Self.lease), key,
            ])
        }
        try #require(doneAtTheft >= 5 && doneAtTheft < count, "the theft landed mid-way (\(doneAtTheft) chunks done)")

        // A stops within one chunk: the done count settles below the total, the thief keeps the lease.
        try await Task.sleep(for: .milliseconds(300))
        let doneAfterStop = try await h.database.jobChunks(key: key).filter { $0.state == .done }.count
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await h.database.jobChunks(key: key).filter { $0.state == .done }.count == doneAfterStop, "A stopped")
        #expect(doneAfterStop <= doneAtTheft + 1, "A stopped at its next chunk boundary (\(doneAtTheft) → \(doneAfterStop))")
        #expect(try await a.jobs.status(key: key, account: user)?.state == .inProgress)
        #expect(h.messageIDs("Archive").count == doneAfterStop)
        let owner = try await h.database.writer.read { db in try String.fetchOne(db, sql: "SELECT leaseOwner FROM job WHERE key = ?", arguments: [key]) }
        #expect(owner == "thief", "A did not release a lease that was no longer its own")

        // The thief never runs it; once its lease ends, replica B takes over on the account's next request.
        let b = Self.replica(of: h)
        var final = JobState.inProgress
        while final != .completed, ContinuousClock.now < deadline + .seconds(10) {
            await b.jobs.noteCredentials(h.credentials)
            final = try await b.jobs.status(key: key, account: user)?.state ?? .inProgress
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(final == .completed)
        #expect(h.messageIDs("INBOX").isEmpty)
        #expect(h.messageIDs("Archive").count == count, "each message moved once")
        #expect(Set(h.messageIDs("Archive")) == Set(originals))
    }

    /// SIGTERM on replica A mid-job: A stops at a chunk boundary and releases the lease, so
    /// replica B (master credentials) takes the job over at its next look, long before the lease
    /// would have run out, and finishes it: each message moved once.
    @Test func aCheckpointedReplicaHandsItsJobOverAtOnce() async throws {
        let h = try EngineHarness.make()
        let count = 300
        // A's lease is long: only a release can let B in within this test's time.
        let a = Self.replica(of: h, lease: .seconds(600))
        let (key, originals) = try await Self.startMove(h, count: count, on: a)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, try await h.database.jobChunks(key: key).filter({ $0.state == .done }).count < 5 {
            try await Task.sleep(for: .milliseconds(1))
        }
        #expect(await a.jobs.checkpoint(within: .seconds(5)) == 0, "A stopped at a chunk boundary")
        let stopped = try #require(try await h.database.jobAnyAccount(key: key))
        #expect(stopped.state == .inProgress, "A stopped mid-job")
        #expect(stopped.leaseOwner == nil, "A released the lease")

        let b = Self.replica(of: h, resumeAsMaster: true)
        let runner = Task { await b.jobs.run() }
        defer { runner.cancel() }
        let handedOver = ContinuousClock.now
        var state = JobState.inProgress
        while state != .completed, ContinuousClock.now < handedOver + .seconds(10) {
            try await Task.sleep(for: .milliseconds(20))
            state = try await b.jobs.status(key: key, account: user)?.state ?? .inProgress
        }
        #expect(state == .completed, "B finished the job within \(ContinuousClock.now - handedOver), the lease being 600 s")
        #expect(h.messageIDs("INBOX").isEmpty)
        #expect(h.messageIDs("Archive").count == count, "each message moved once")
        #expect(Set(h.messageIDs("Archive")) == Set(originals))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
