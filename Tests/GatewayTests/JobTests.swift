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

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Asynchronous jobs: 201 + jobKey above the threshold, monotonic progress, completion checked by
/// doveadm, small requests served while a job runs, and a SIGKILL halfway that loses nothing.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct JobTests {
    static let count = 20_000

    @Test func largeMoveRunsAsAJobWhileSmallRequestsStayPrompt() async throws {
        try await GatewayHarness.run { gw in
            // An account of its own for very large folders (see TestBed.dave).
            let alice = gw.bed.eve
            let source = TestBed.uniqueMailbox("GwJob")
            let dest = TestBed.uniqueMailbox("GwJobDest")
            let small = TestBed.uniqueMailbox("GwJobSmall")
            try await gw.bed.fill(source, count: Self.count, user: alice.user)
            let originals = Set(try await gw.bed.look(source, user: alice.user).values.map(\.messageID))
            _ = try await gw.makeMailbox(dest, count: 0, as: alice)
            let (smallValidity, smallUIDs, _) = try await gw.makeMailbox(small, count: 2, as: alice)
            let folders = try await gw.folderIDs(alice)
            let first = try await gw.request(.get, "/api/v1/mails?folderId=\(folders[source]!)&sort=date&dir=ASC&limit=1", auth: alice)
            let start = try #require(((first["items"] as? [[String: Any]])?.first?["id"]) as? String)

            let clock = ContinuousClock()
            var created = GatewayHarness.Reply(status: .ok, json: nil)
            let answerTime = try await clock.measure {
                created = try await gw.request(
                    .post, "/api/v1/batch/mails/move",
                    json: [
                        "ranges": [["start": start, "limit": Self.count]], "sortInfo": ["field": "date", "direction": "ASC"],
                        "destinationFolderId": folders[dest]!,
                    ], auth: alice)
            }
            #expect(created.status == .created)
            #expect(created["status"] as? String == "inProgress")
            let key = try #require(created["jobKey"] as? String)
            #expect(key.count >= 43, "at least 256 bits")

            // Another account never sees the job; an unknown key is 404.
            #expect(try await gw.request(.get, "/api/v1/batch/jobs/\(key)", auth: gw.bed.bob).status == .notFound)
            #expect(try await gw.request(.get, "/api/v1/batch/jobs/nope", auth: alice).errorCode == "jobNotFound")

            // Poll to the end; meanwhile small synchronous updates on the same account.
            var progress: [Double] = []
            var latencies: [Duration] = []
            var status = ""
            let deadline = ContinuousClock.now + .seconds(300)
            while status != "completed" && ContinuousClock.now < deadline {
                let reply = try await gw.request(.get, "/api/v1/batch/jobs/\(key)", auth: alice)
                #expect(reply.status == .ok)
                status = reply["status"] as? String ?? ""
                progress.append((reply["progress"] as? Double) ?? Double(reply["progress"] as? Int ?? -1))
                if status != "completed" {
                    let flag = latencies.count % 2 == 0
                    let id = MailID(folderId: folders[small]!, uidValidity: smallValidity, uid: smallUIDs[0]).encoded
                    latencies.append(
                        try await clock.measure {
                            let update = try await gw.request(.post, "/api/v1/batch/mails/update", json: ["ids": [id], "isFlagged": flag], auth: alice)
                            #expect(update.status == .ok)
                            #expect(update.failedItems.isEmpty)
                        })
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == "completed")
            #expect(progress.last == 100)
            #expect(progress == progress.sorted(), "progress never goes back")
            #expect(progress.contains { $0 > 0 && $0 < 100 }, "progress was seen rising")
            let final = try await gw.request(.get, "/api/v1/batch/jobs/\(key)", auth: alice)
            #expect((final["batchOperationDetails"] as? [String: Any])?["failedItems"] as? [String] == [])

            #expect(try await gw.bed.search(source, user: alice.user).isEmpty)
            let moved = try await gw.bed.look(dest, user: alice.user)
            #expect(moved.count == Self.count)
            #expect(Set(moved.values.map(\.messageID)) == originals)
            let sortedLatencies = latencies.sorted()
            print(
                "JOB TIMINGS: 201 answer for \(Self.count) items in \(answerTime); \(latencies.count) small updates during the job, "
                    + "median \(sortedLatencies.isEmpty ? .zero : sortedLatencies[sortedLatencies.count / 2]), max \(sortedLatencies.last ?? .zero)")
        }
    }

    /// The gateway is SIGKILLed halfway through a 20,000-message move and started again: the job
    /// resumes and completes; every message is in exactly one place, none twice, none lost. Chunks
    /// of 7,000 (three): the kill lands during the second `UID MOVE`, which the server finishes after
    /// the gateway is gone, and the third is never sent, so the job is always unfinished at the kill: the resume must wait it out (here the 10 s command timeout) before it looks, or both
    /// MOVEs copy the same messages (7,000 duplicates, seen before the wait existed).
    @Test func jobSurvivesSIGKILL() async throws {
        let bed = try TestBed.require()
        let dave = bed.frank  // an account of its own for very large folders (see TestBed.dave)
        let (source, dest, originals) = try await KillTest.folders(bed, "GwKill", count: Self.count, account: dave)

        let database = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-kill-\(UUID().uuidString).sqlite").path
        let port = GatewayProcess.freePort()
        let settings = ["GATEWAY_JOBS_CHUNK_SIZE": "7000", "GATEWAY_IMAP_COMMAND_TIMEOUT_SECONDS": "10"]
        let gateway = try GatewayProcess.start(bed: bed, port: port, database: database, environment: settings)
        let http = HTTPClient(port: port, user: dave.user, password: dave.password)
        try await http.waitUntilUp()
        let folders = try await http.folderIDs()
        let created = try await http.moveRange(from: folders[source]!, count: Self.count, to: folders[dest]!)
        #expect(created.status == 201)
        let key = try #require(created.body["jobKey"] as? String)

        let (killedAt, movedBeforeRestart) = try await KillTest.killAndResume(
            gateway, job: key, via: http, restart: { try GatewayProcess.start(bed: bed, port: port, database: database, environment: settings) },
            bed, from: source, to: dest, originals: originals, user: dave.user)
        print("KILL TEST: killed at \(killedAt)% with \(movedBeforeRestart) moved; resumed and completed")
    }
}

/// The real `mailbox-gateway` binary, started on loopback against the test bed.
struct GatewayProcess {
    let process: Process

    /// The debug binary built with the tests.
    static var executable: URL {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/mailbox-gateway")
    }

    /// Starts the debug binary; `environment` adds or overrides `GATEWAY_*` settings; its log
    /// (standard error) goes to `log` when given.
    static func start(
        bed: TestBed, port: Int, database: String, environment extra: [String: String] = [:], log: FileHandle? = nil
    ) throws -> GatewayProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = ["serve", "--config", "/nonexistent/gateway.yaml"]
        if let log { process.standardError = log }
        var environment = ProcessInfo.processInfo.environment
        environment["GATEWAY_HTTP_PORT"] = String(port)
        environment["GATEWAY_IMAP_HOST"] = bed.host
        environment["GATEWAY_IMAP_PORT"] = String(bed.port)
        environment["GATEWAY_DATABASE_PATH"] = database
        environment["GATEWAY_LOG_LEVEL"] = "warning"
        environment.merge(extra) { _, new in new }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return GatewayProcess(process: process)
    }

    /// A loopback port nobody listens on now (the kernel picks it).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : Int.random(in: 20_000..<40_000)
    }

    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit: its status (nil when it did not exit
    /// in time, or died of a signal) and how long it took.
    func terminate(timeout: Duration) async -> (status: Int32?, after: Duration) {
        let started = ContinuousClock.now
        Foundation.kill(process.processIdentifier, SIGTERM)
        while process.isRunning, ContinuousClock.now - started < timeout {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let after = ContinuousClock.now - started
        guard !process.isRunning else {
            kill()
            return (nil, after)
        }
        return (process.terminationReason == .exit ? process.terminationStatus : nil, after)
    }

    /// Runs the binary (or another `executable`) with `arguments` to its end: exit status,
    /// standard output and standard error. `input` is written to its standard input.
    static func run(
        _ arguments: [String], executable: URL = GatewayProcess.executable, environment extra: [String: String] = [:], input: String = ""
    ) async throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GATEWAY_") }
        environment.merge(extra) { _, new in new }
        process.environment = environment
        let (stdin, stdout, stderr) = (Pipe(), Pipe(), Pipe())
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        async let output = Task.detached { stdout.fileHandleForReading.readDataToEndOfFile() }.value
        async let error = Task.detached { stderr.fileHandleForReading.readDataToEndOfFile() }.value
        let (out, err) = await (output, error)
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

/// A minimal JSON client for a gateway running in another process.
struct HTTPClient {
    let port: Int
    let user: String
    let password: String

    struct Reply {
        var status: Int
        var body: [String: Any]
    }

    func json(_ method: String, _ path: String, body: [String: Any]? = nil) async throws -> Reply {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        request.setValue("Basic " + Data("\(user):\(password)".utf8).base64EncodedString(), forHTTPHeaderField: "Authorization")
        if let body {
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        // Generous: a cold SORT of a large folder on a loaded 2-core machine can take a while.
        request.timeoutInterval = 300
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        return Reply(status: status, body: (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    /// A text answer (e.g. `/metrics`).
    func text(_ path: String) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return String(decoding: data, as: UTF8.self)
    }

    /// `POST /api/v1/batch/mails/move` of the range of `count` messages from the first of the
    /// folder's date order (ascending) to `destination`.
    func moveRange(from folderId: String, count: Int, to destination: String) async throws -> Reply {
        let first = try await json("GET", "/api/v1/mails?folderId=\(folderId)&sort=date&dir=ASC&limit=1")
        let start = try #require(((first.body["items"] as? [[String: Any]])?.first?["id"]) as? String)
        return try await json(
            "POST", "/api/v1/batch/mails/move",
            body: [
                "ranges": [["start": start, "limit": count]], "sortInfo": ["field": "date", "direction": "ASC"],
                "destinationFolderId": destination,
            ])
    }

    /// Polls a job every 200 ms until it completes or `deadline` passes; its last status.
    func waitForJob(_ key: String, until deadline: ContinuousClock.Instant) async throws -> [String: Any] {
        var status: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            status = try await json("GET", "/api/v1/batch/jobs/\(key)").body
            if status["status"] as? String == "completed" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        return status
    }

    func waitUntilUp() async throws {
        for _ in 0..<100 {
            if let reply = try? await json("GET", "/healthz"), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw URLError(.cannotConnectToHost)
    }

    func folderIDs() async throws -> [String: String] {
        let items = (try await json("GET", "/api/v1/folders").body["items"] as? [[String: Any]]) ?? []
        return Dictionary(items.compactMap { item in (item["name"] as? String).flatMap { name in (item["id"] as? String).map { (name, $0) } } }) { a, _ in a }
    }
}
