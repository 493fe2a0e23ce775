import Foundation
import GatewayCore
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// Two gateway processes (replicas) on one PostgreSQL database and one Dovecot (issue 19): the
/// same folder IDs from both, a session made on one used on the other, a range listed on one and
/// sent to the other, and a 20,000-message move whose replica is SIGKILLed mid-way, finished by
/// the other — every effect checked with doveadm.
@Suite(
    .enabled(if: TestBed.isEnabled && PostgresTestBed.isEnabled, "needs the Dovecot and PostgreSQL test beds (integration/run-tests.sh)"),
    .serialized)
struct ScaleOutTests {
    static let count = 20_000

    /// Starts two replicas on a fresh database; `body` gets them and their Basic clients.
    static func withReplicas(
        _ bed: TestBed, environment: [String: String] = [:], _ body: (Replica, Replica) async throws -> Void
    ) async throws {
        let database = try await PostgresTestBed.require().freshDatabase()
        var settings = ["GATEWAY_DATABASE_URL": database, "GATEWAY_JOBS_LEASE_SECONDS": "3"]
        settings.merge(environment) { _, new in new }
        let account = bed.scaleOutAccount
        var replicas: [Replica] = []
        defer { for replica in replicas { replica.process.kill() } }
        for _ in 0..<2 {
            let port = GatewayProcess.freePort()
            // database.path is not used with database.url; a path that cannot be created proves it.
            let process = try GatewayProcess.start(bed: bed, port: port, database: "/nonexistent/unused.sqlite", environment: settings)
            replicas.append(
                Replica(process: process, http: HTTPClient(port: port, user: account.user, password: account.password), raw: RawHTTP(port: port)))
        }
        for replica in replicas { try await replica.http.waitUntilUp() }
        try await body(replicas[0], replicas[1])
    }

    struct Replica {
        var process: GatewayProcess
        var http: HTTPClient
        var raw: RawHTTP
    }

    /// Folder IDs assigned under concurrent first use by both replicas are the same; a session
    /// made on A works on B and logging out on B ends it on A; a range listed on A and sent to B
    /// moves exactly the messages it named.
    @Test func replicasShareFolderIDsSessionsAndRanges() async throws {
        let bed = try TestBed.require()
        let account = bed.scaleOutAccount
        let source = TestBed.uniqueMailbox("GwScaleRange")
        let dest = TestBed.uniqueMailbox("GwScaleRangeDest")
        try await bed.fill(source, count: 12, user: account.user)
        let setup = try await bed.connect(account)
        try await setup.create(MailboxName(dest))
        setup.close()

        try await Self.withReplicas(bed) { a, b in
            // Both replicas see the account's mailboxes for the first time at once.
            async let fromA = a.http.folderIDs()
            async let fromB = b.http.folderIDs()
            let (foldersA, foldersB) = try await (fromA, fromB)
            #expect(foldersA[source] != nil && foldersA[dest] != nil)
            #expect(foldersA == foldersB, "both replicas give the same folder IDs")

            // A session from A is accepted by B; logged out on B, A refuses it too.
            let basic = "Basic " + Data("\(account.user):\(account.password)".utf8).base64EncodedString()
            let login = try await a.raw.send("POST", "/api/v1/login", headers: ["Authorization": basic])
            #expect(login.status == 200)
            let session = try #require(login.json["sessid"] as? String)
            let onB = try await b.raw.send("GET", "/api/v1/folders", headers: ["X-Axigen-Session": session])
            #expect(onB.status == 200)
            #expect(((onB.json["items"] as? [[String: Any]]) ?? []).count == foldersA.count)
            #expect(try await b.raw.send("POST", "/api/v1/logout", headers: ["X-Axigen-Session": session]).status == 204)
            #expect(try await a.raw.send("GET", "/api/v1/folders", headers: ["X-Axigen-Session": session]).status == 401)

            // A range listed on A (items 3–7 by date), sent to B.
            let listing = try await a.http.json("GET", "/api/v1/mails?folderId=\(foldersA[source]!)&sort=date&dir=ASC&limit=12")
            let ids = ((listing.body["items"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }
            #expect(ids.count == 12)
            let named = ids[3..<8].compactMap { MailID($0)?.uid }
            let before = try await bed.look(source, user: account.user)
            let move = try await b.http.json(
                "POST", "/api/v1/batch/mails/move",
                body: [
                    "ranges": [["start": ids[3], "limit": 5]], "sortInfo": ["field": "date", "direction": "ASC"],
                    "destinationFolderId": foldersA[dest]!,
                ])
            #expect(move.status == 200)
            #expect(move.body["status"] as? String == "completed")
            #expect((move.body["batchOperationDetails"] as? [String: Any])?["failedItems"] as? [String] == [])
            let left = try await bed.look(source, user: account.user)
            let moved = try await bed.look(dest, user: account.user)
            #expect(Set(left.keys) == Set(before.keys).subtracting(named), "exactly the named messages left the source")
            #expect(Set(moved.values.map(\.messageID)) == Set(named.compactMap { before[$0]?.messageID }))
            #expect(moved.count == 5)
        }
    }

    /// A 20,000-message move submitted to replica A; A is SIGKILLed mid-way; replica B, polled by
    /// the account (whose requests give B the credentials to resume with), takes the job over once
    /// A's lease runs out and completes it: every message moved once, none left (doveadm).
    @Test func aJobOfAKilledReplicaIsCompletedByTheOther() async throws {
        let bed = try TestBed.require()
        let account = bed.scaleOutAccount
        let (source, dest, originals) = try await KillTest.folders(bed, "GwScaleKill", count: Self.count, account: account)

        // Chunks of 2,000 (ten): the kill lands between or during chunks; the 10 s command timeout
        // is how long B waits before re-deriving an interrupted chunk from the mailboxes.
        let settings = ["GATEWAY_JOBS_CHUNK_SIZE": "2000", "GATEWAY_IMAP_COMMAND_TIMEOUT_SECONDS": "10"]
        try await Self.withReplicas(bed, environment: settings) { a, b in
            let folders = try await a.http.folderIDs()
            let created = try await a.http.moveRange(from: folders[source]!, count: Self.count, to: folders[dest]!)
            #expect(created.status == 201)
            let key = try #require(created.body["jobKey"] as? String)

            // B reads the job's status while A runs it.
            let killedAt = try await KillTest.kill(whenJob: key, via: b.http, before: ContinuousClock.now + .seconds(120)) { a.process.kill() }
            #expect(killedAt >= 10 && killedAt < 100, "killed mid-way (at \(killedAt)%)")
            let movedAtKill = try await bed.search(dest, user: account.user).count
            #expect(movedAtKill > 0 && movedAtKill < Self.count)

            let killed = ContinuousClock.now
            let final = try await b.http.waitForJob(key, until: killed + .seconds(180))
            try await KillTest.expectMovedOnce(final, bed, from: source, to: dest, originals: originals, user: account.user)
            print(
                "SCALE-OUT KILL: replica A killed at \(killedAt)% with \(movedAtKill) moved; "
                    + "replica B completed the job \(ContinuousClock.now - killed) after the kill")
        }
    }
}

/// The throwaway PostgreSQL cluster of `integration/postgres-start.sh` (`POSTGRES_TEST_URL`).
struct PostgresTestBed {
    let url: String

    /// `POSTGRES_TEST_URL` is set, or `POSTGRES_TEST_REQUIRED=1` (then a missing URL fails the tests).
    static let isEnabled =
        ProcessInfo.processInfo.environment["POSTGRES_TEST_URL"] != nil || ProcessInfo.processInfo.environment["POSTGRES_TEST_REQUIRED"] == "1"

    struct Missing: Error, CustomStringConvertible {
        var description: String { "POSTGRES_TEST_URL is not set: run integration/postgres-start.sh and source its env file" }
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    static func require() throws -> PostgresTestBed {
        guard let url = ProcessInfo.processInfo.environment["POSTGRES_TEST_URL"] else { throw Missing() }
        return PostgresTestBed(url: url)
    }

    /// A new, empty database on the cluster (psql `CREATE DATABASE`); its URL.
    func freshDatabase() async throws -> String {
        let name = "gw_e2e_" + UUID().uuidString.prefix(8).lowercased()
        let result = try await GatewayProcess.run(
            ["-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", "CREATE DATABASE \(name)"], executable: URL(fileURLWithPath: "/usr/bin/psql"))
        guard result.status == 0 else { throw Failed(description: "psql: \(result.error)") }
        guard let slash = url.lastIndex(of: "/") else { throw Failed(description: "no database in \(url)") }
        return url[..<slash] + "/" + name
    }
}
