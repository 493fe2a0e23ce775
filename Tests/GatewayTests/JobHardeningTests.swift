import Foundation
import GatewayApp
@testable import GatewayCore
import GatewayStore
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// Jobs never run twice and never give up on an account whose password failed (issue 13, findings
/// 11 and 13). Drives ``JobService`` directly against the Dovecot test bed; effects are checked by doveadm.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct JobHardeningTests {
    struct Setup {
        let database: GatewayDatabase
        let pool: IMAPConnectionPool
        let jobs: JobService
        let ids: [String]
        let destinationId: String
        let source: String
        let destination: String
    }

    /// A source mailbox with `count` messages and an empty destination, both known to a fresh database.
    static func setUp(
        _ bed: TestBed, account: IMAPCredentials, count: Int, jobs configuration: JobService.Configuration
    ) async throws -> Setup {
        let source = TestBed.uniqueMailbox("GwJobRaceSrc")
        let destination = TestBed.uniqueMailbox("GwJobRaceDst")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("jobs-\(UUID().uuidString).sqlite").path
        let database = try GatewayDatabase(path: path)
        let pool = IMAPConnectionPool(
            server: try bed.server(), configuration: .init(maxConnectionsPerAccount: 4, leaseTimeout: .seconds(60)), logger: TestBed.logger)
        let connection = try await bed.connect(account)
        try await connection.create(MailboxName(destination))
        await connection.logout()
        try await bed.fill(source, count: count, user: account.user)
        let mailServer = IMAPMailServer(pool: pool)
        let (ids, destinationId): ([String], String) = try await mailServer.withSession(AccountCredentials(account)) { session in
            let directory = try await MailboxDirectory.load(session: session, store: database, account: account.user)
            let sourceFolder = try #require(directory.folders.first { $0.name == source })
            let destinationFolder = try #require(directory.folders.first { $0.name == destination })
            let selected = try await session.select(sourceFolder.mailbox)
            let uids = try await session.uidSearch(.all)
            return (
                uids.values.map { MailID(folderId: sourceFolder.id, uidValidity: selected.uidValidity, uid: $0).encoded },
                destinationFolder.id
            )
        }
        let jobs = JobService(
            mailServer: mailServer, store: database, folders: database, labels: database,
            executorConfiguration: .init(jobChunkSize: 5), configuration: configuration, logger: TestBed.logger)
        return Setup(
            database: database, pool: pool, jobs: jobs, ids: ids, destinationId: destinationId, source: source, destination: destination)
    }

    static func waitUntilCompleted(_ jobs: JobService, key: String, account: String, within limit: Duration) async throws -> JobStatus? {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if let status = try await jobs.status(key: key, account: account), status.state == .completed { return status }
            try await Task.sleep(for: .milliseconds(50))
        }
        return try await jobs.status(key: key, account: account)
    }

    /// A resume that runs while `submit` is writing the job must not queue it a second time: two
    /// runners of one copy job would copy its messages twice.
    @Test func aJobSubmittedDuringAResumeRunsOnce() async throws {
        let bed = try TestBed.require()
        let account = bed.jobHardeningAccount
        let setup = try await Self.setUp(
            bed, account: account, count: 40, jobs: .init(maxConcurrentJobs: 4, maxJobsPerAccount: 4))
        let jobs = setup.jobs
        // Another request of the account authenticates, and a resume runs, while the job is being written.
        await jobs.setAfterCreatingJob {
            await jobs.noteCredentials(AccountCredentials(account))
            await jobs.resumeAtStart()
        }
        let key = try await jobs.submit(
            operation: .copy(destinationFolderId: setup.destinationId), ids: setup.ids, failed: [], credentials: AccountCredentials(account)
        ).jobKey
        let status = try await Self.waitUntilCompleted(setup.jobs, key: key, account: account.user, within: .seconds(120))
        #expect(await jobs.runnersStarted[key] == 1, "one runner for the job")
        #expect(status?.state == .completed)
        #expect(status?.failedItems == [])
        let copies = try await bed.look(setup.destination, user: account.user).values.map(\.messageID)
        #expect(copies.count == 40, "each message copied exactly once")
        #expect(Set(copies).count == copies.count)
        await setup.pool.shutdown()
    }

    /// A job whose account's password is refused waits, failing nothing, and runs to the end once
    /// the account proves a valid password again (as the README promises).
    @Test func aJobWaitsForValidCredentialsInsteadOfFailingItsItems() async throws {
        let bed = try TestBed.require()
        let account = bed.jobHardeningAccount
        let setup = try await Self.setUp(
            bed, account: account, count: 12, jobs: .init(retryDelay: .milliseconds(50), maxAttempts: 3))
        let refused = AccountCredentials(user: account.user, password: "no-longer-valid")
        let key = try await setup.jobs.submit(
            operation: .copy(destinationFolderId: setup.destinationId), ids: setup.ids, failed: [], credentials: refused
        ).jobKey
        try await Task.sleep(for: .seconds(2))
        let waiting = try #require(try await setup.jobs.status(key: key, account: account.user))
        #expect(waiting.state == .inProgress)
        #expect(waiting.failedItems.isEmpty)
        #expect(try await bed.look(setup.destination, user: account.user).isEmpty)

        await setup.jobs.noteCredentials(AccountCredentials(account))
        let done = try await Self.waitUntilCompleted(setup.jobs, key: key, account: account.user, within: .seconds(60))
        #expect(done?.state == .completed)
        #expect(done?.failedItems == [])
        #expect(try await bed.look(setup.destination, user: account.user).count == 12)
        await setup.pool.shutdown()
    }
}
