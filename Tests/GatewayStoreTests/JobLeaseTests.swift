import Foundation
import GatewayCore
import Testing

/// The job store's leases (SPEC §5 `jobs.leaseSeconds`): which replica runs a job, until when.
@Suite("Job leases")
struct JobLeaseTests {
    private func job(_ key: String, createdAt: Date = Date()) -> JobRecord {
        JobRecord(
            key: key, account: "alice", operation: .move(destinationFolderId: "D"), state: .inProgress, totalItems: 2,
            pendingItems: ["a", "b"], createdAt: createdAt)
    }

    @Test("a live lease keeps other owners out until it runs out; then the loser cannot renew", arguments: StoreKind.all)
    func leaseExpiry(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            try await db.createJob(job("k"))
            #expect(try await db.claimableJobs().map(\.key) == ["k"])

            #expect(try await db.claimJob(key: "k", owner: "A", lease: .seconds(60)))
            #expect(try await db.claimableJobs().isEmpty, "a live lease is not claimable")
            #expect(try await !db.claimJob(key: "k", owner: "B", lease: .seconds(60)), "B cannot take A's live lease")
            #expect(try await !db.renewJobLease(key: "k", owner: "B", lease: .seconds(60)), "B has no lease to renew")
            // A claims again, for a short lease this time (its own claim holds, and sets the term).
            #expect(try await db.claimJob(key: "k", owner: "A", lease: .milliseconds(300)))

            try await Task.sleep(for: .milliseconds(600))
            #expect(try await db.claimableJobs().map(\.key) == ["k"], "an expired lease is claimable")
            #expect(try await db.claimJob(key: "k", owner: "B", lease: .seconds(60)))
            #expect(try await !db.renewJobLease(key: "k", owner: "A", lease: .seconds(60)), "A lost the job: it must stop")
            #expect(try await !db.claimJob(key: "k", owner: "A", lease: .seconds(60)))
            #expect(try await db.renewJobLease(key: "k", owner: "B", lease: .seconds(60)))
        }
    }

    @Test("renewing keeps a lease alive past its first term", arguments: StoreKind.all)
    func renewal(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            try await db.createJob(job("k"))
            #expect(try await db.claimJob(key: "k", owner: "A", lease: .milliseconds(400)))
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await db.renewJobLease(key: "k", owner: "A", lease: .seconds(60)))
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await !db.claimJob(key: "k", owner: "B", lease: .seconds(60)), "the renewed lease is still A's")
            #expect(try await db.claimableJobs().isEmpty)
        }
    }

    @Test("releasing a lease lets another owner claim at once; only the owner can release", arguments: StoreKind.all)
    func release(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            try await db.createJob(job("k"))
            #expect(try await db.claimJob(key: "k", owner: "A", lease: .seconds(60)))
            // Who holds it, and until when, for operators (`jobs show`), in full and summary reads.
            let held = try #require(try await db.jobAnyAccount(key: "k"))
            #expect(held.leaseOwner == "A")
            #expect(held.leaseUntil.map { $0 > Date().addingTimeInterval(50) && $0 < Date().addingTimeInterval(70) } == true)
            #expect(try await db.listJobs(account: nil, state: nil, limit: 10).first?.leaseOwner == "A")
            try await db.releaseJobLease(key: "k", owner: "B")
            #expect(try await !db.claimJob(key: "k", owner: "B", lease: .seconds(60)), "B's release of A's lease does nothing")

            try await db.releaseJobLease(key: "k", owner: "A")
            #expect(try await db.jobSummary(key: "k", account: "alice")?.leaseOwner == nil)
            #expect(try await db.claimableJobs().map(\.key) == ["k"])
            #expect(try await db.claimJob(key: "k", owner: "B", lease: .seconds(60)))
            #expect(try await !db.renewJobLease(key: "k", owner: "A", lease: .seconds(60)))
        }
    }

    @Test("claimable jobs: unfinished, without a live lease, oldest first, without pending IDs", arguments: StoreKind.all)
    func claimable(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let now = Date()
            try await db.createJob(job("newer", createdAt: now.addingTimeInterval(-10)))
            try await db.createJob(job("older", createdAt: now.addingTimeInterval(-20)))
            try await db.createJob(job("leased", createdAt: now.addingTimeInterval(-30)))
            try await db.createJob(job("done", createdAt: now.addingTimeInterval(-40)))
            try await db.completeJob(key: "done", failed: [])
            #expect(try await db.claimJob(key: "leased", owner: "A", lease: .seconds(60)))

            let claimable = try await db.claimableJobs()
            #expect(claimable.map(\.key) == ["older", "newer"])
            #expect(claimable.allSatisfy { $0.pendingItems.isEmpty }, "a summary: no pending IDs")
            #expect(try await db.job(key: "older", account: "alice")?.pendingItems == ["a", "b"])

            #expect(try await !db.claimJob(key: "done", owner: "A", lease: .seconds(60)), "a completed job is not claimed")
            #expect(try await !db.claimJob(key: "missing", owner: "A", lease: .seconds(60)))
            try await db.completeJob(key: "leased", failed: [])
            #expect(try await !db.renewJobLease(key: "leased", owner: "A", lease: .seconds(60)), "a finished job's lease ends")
        }
    }

    @Test("concurrent claims of one job: exactly one owner wins", arguments: StoreKind.all)
    func concurrentClaims(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            // 20 rounds of two replicas claiming the same job at once.
            for round in 0..<20 {
                let key = "pair\(round)"
                try await db.createJob(job(key))
                let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for owner in ["A\(round)", "B\(round)"] {
                        group.addTask { try await db.claimJob(key: key, owner: owner, lease: .seconds(60)) }
                    }
                    return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                #expect(wins == 1, "round \(round): \(wins) owners won")
            }
            // And 20 replicas at once on one job.
            try await db.createJob(job("crowd"))
            let winners = try await withThrowingTaskGroup(of: String?.self) { group in
                for owner in (0..<20).map({ "R\($0)" }) {
                    group.addTask { try await db.claimJob(key: "crowd", owner: owner, lease: .seconds(60)) ? owner : nil }
                }
                return try await group.compactMap { $0 }.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(winners.count == 1)
            let winner = try #require(winners.first)
            #expect(try await db.renewJobLease(key: "crowd", owner: winner, lease: .seconds(60)))
        }
    }

    @Test("concurrent chunk outcomes all count", arguments: StoreKind.all)
    func concurrentChunkOutcomes(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            try await db.createJob(
                JobRecord(
                    key: "k", account: "alice", operation: .move(destinationFolderId: "D"), state: .inProgress, totalItems: 40,
                    pendingItems: []))
            let chunk = BatchChunk(
                folderId: "F", mailbox: Array("INBOX".utf8), uidValidity: 7, uids: [1, 2], action: .store(add: ["\\Seen"], remove: []))
            try await db.planJob(key: "k", chunks: Array(repeating: chunk, count: 20), failed: [])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for seq in 0..<20 {
                    group.addTask { try await db.finishJobChunk(key: "k", seq: seq, itemCount: 2, failed: ["f\(seq)"]) }
                }
                try await group.waitForAll()
            }
            let stored = try #require(try await db.job(key: "k", account: "alice"))
            #expect(stored.doneItems == 40, "no chunk's done items lost")
            #expect(Set(stored.failedItems) == Set((0..<20).map { "f\($0)" }), "no chunk's failed items lost")
            #expect(stored.failedItems.count == 20)
            #expect(try await db.jobChunks(key: "k").allSatisfy { $0.state == .done })
        }
    }

    @Test("a job is planned exactly once", arguments: StoreKind.all)
    func planOnce(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            try await db.createJob(job("k"))
            let chunk = BatchChunk(
                folderId: "F", mailbox: Array("INBOX".utf8), uidValidity: 7, uids: [1], action: .store(add: ["\\Seen"], remove: []))
            try await db.planJob(key: "k", chunks: [chunk], failed: ["b"])
            await #expect(throws: (any Error).self) {
                try await db.planJob(key: "k", chunks: [chunk], failed: ["b"])
            }
            let stored = try #require(try await db.job(key: "k", account: "alice"))
            #expect(stored.failedItems == ["b"], "the second planning changed nothing")
            #expect(stored.doneItems == 1)
            #expect(try await db.jobChunks(key: "k").count == 1)
        }
    }

    @Test("cancel requests, counts and listings", arguments: StoreKind.all)
    func operatorViews(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let now = Date()
            try await db.createJob(job("a1", createdAt: now.addingTimeInterval(-3)))
            try await db.createJob(job("a2", createdAt: now.addingTimeInterval(-2)))
            var bobs = job("b1", createdAt: now.addingTimeInterval(-1))
            bobs.account = "bob"
            try await db.createJob(bobs)
            try await db.completeJob(key: "a1", failed: [])

            #expect(try await db.jobCounts() == [.inProgress: 2, .completed: 1])
            #expect(try await db.listJobs(account: nil, state: nil, limit: 10).map(\.key) == ["b1", "a2", "a1"], "newest first")
            #expect(try await db.listJobs(account: "alice", state: nil, limit: 10).map(\.key) == ["a2", "a1"])
            #expect(try await db.listJobs(account: nil, state: .inProgress, limit: 10).map(\.key) == ["b1", "a2"])
            #expect(try await db.listJobs(account: nil, state: nil, limit: 1).map(\.key) == ["b1"])
            #expect(try await db.listJobs(account: "alice", state: nil, limit: 10).allSatisfy { $0.pendingItems.isEmpty })

            #expect(try await db.requestJobCancel(key: "a2"))
            #expect(try await db.job(key: "a2", account: "alice")?.cancelRequested == true)
            #expect(try await db.job(key: "b1", account: "bob")?.cancelRequested == false)
            #expect(try await !db.requestJobCancel(key: "a1"), "a completed job cannot be cancelled")
            #expect(try await !db.requestJobCancel(key: "missing"))
            #expect(try await db.jobAnyAccount(key: "b1")?.account == "bob")
        }
    }
}
