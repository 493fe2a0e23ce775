import Foundation
import GatewayApp
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The gateway as operators run it: the real binary, its metrics (checked by `promtool`), its
/// logs (request IDs everywhere, no secrets anywhere), SIGTERM in the middle of a job, and the
/// `check` and `jobs` commands. Each test starts its own process against the test bed, as quinn,
/// one test at a time: the SIGTERM test reads Dovecot's log for quinn's sessions, and another
/// test's gateway killed meanwhile would show there as a dropped connection (seen in CI).
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"), .serialized)
struct OperationsTests {
    /// Traffic of every kind through a real gateway, logging at `trace` in JSON: `/metrics`
    /// shows it by route, method and status with latency histograms, the IMAP commands it sent,
    /// the pool and the jobs, and `promtool check metrics` accepts the text; each request's ID is
    /// echoed (or made) and is on the engine's and the IMAP client's log lines for it; no log line
    /// holds the password, the Basic credentials, the session ID, or a message's subject or body.
    @Test func metricsAndLogsOfARealProcess() async throws {
        let bed = try TestBed.require()
        let quinn = bed.operationsAccount
        let mailbox = TestBed.uniqueMailbox("GwOps")
        let marker = UUID().uuidString.prefix(8)
        let subject = "Quarterly secret \(marker)"
        let body = "Body text nobody may log \(marker)"
        let setup = try await bed.connect(quinn)
        try await setup.create(MailboxName(mailbox))
        for index in 0..<3 {
            _ = try await setup.append(
                TestBed.message(subject: "\(subject) \(index)", messageID: "<ops-\(marker)-\(index)@example.com>", body: body + "\r\n"),
                to: MailboxName(mailbox))
        }
        await setup.logout()

        let logURL = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-ops-\(UUID().uuidString).log")
        #expect(FileManager.default.createFile(atPath: logURL.path, contents: nil))
        let log = try FileHandle(forWritingTo: logURL)
        let port = GatewayProcess.freePort()
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-ops-\(UUID().uuidString).sqlite").path
        let gateway = try GatewayProcess.start(
            bed: bed, port: port, database: database, environment: ["GATEWAY_LOG_LEVEL": "trace", "GATEWAY_LOG_FORMAT": "json"], log: log)
        defer { gateway.kill() }
        let http = RawHTTP(port: port)
        try await http.waitUntilUp()

        let basic = "Basic " + Data("\(quinn.user):\(quinn.password)".utf8).base64EncodedString()
        let login = try await http.send("POST", "/api/v1/login", headers: ["Authorization": basic])
        #expect(login.status == 200)
        let session = try #require(login.json["sessid"] as? String)
        let auth = ["X-Axigen-Session": session]

        let folders = try await http.send("GET", "/api/v1/folders", headers: auth.merging(["X-Request-ID": "ops-folders-1"]) { $1 })
        #expect(folders.status == 200)
        #expect(folders.headers["x-request-id"] == "ops-folders-1", "a sane ID is echoed")
        let items = try #require(folders.json["items"] as? [[String: Any]])
        let folderID = try #require(items.first { $0["name"] as? String == mailbox }?["id"] as? String)

        let listing = try await http.send("GET", "/api/v1/mails?folderId=\(folderID)&sort=subject&dir=ASC", headers: auth)
        #expect(listing.status == 200)
        let made = try #require(listing.headers["x-request-id"])
        #expect(made.count == 22, "an ID is made when the client sent none: \(made)")
        let ids = try #require(listing.json["items"] as? [[String: Any]]).compactMap { $0["id"] as? String }
        #expect(ids.count == 3)

        let update = try await http.send(
            "POST", "/api/v1/batch/mails/update", headers: auth.merging(["X-Request-ID": "ops-update-1"]) { $1 },
            json: ["ids": ids, "isFlagged": true])
        #expect(update.status == 200)
        let flagged = try await bed.look(mailbox, user: quinn.user)
        #expect(flagged.count == 3 && flagged.values.allSatisfy { $0.flags.contains("\\flagged") }, "the update took effect (own look)")
        let insane = try await http.send("GET", "/api/v1/folders", headers: auth.merging(["X-Request-ID": "bad id\twith tab"]) { $1 })
        #expect(insane.headers["x-request-id"].map { $0.count == 22 && !$0.contains(" ") } == true, "an unsafe ID is replaced")
        #expect(try await http.send("POST", "/api/v1/batch/mails/update", headers: auth, body: Data("{".utf8)).status == 400)
        #expect(try await http.send("GET", "/no/such/path").status == 404)
        #expect(try await http.send("GET", "/api/v1/folders", headers: ["Authorization": "Basic " + Data("quinn:wrong".utf8).base64EncodedString()]).status == 401)
        #expect(try await http.send("POST", "/api/v1/logout", headers: auth).status == 204)

        // --- /metrics ---------------------------------------------------------------------------
        let exposition = try await http.send("GET", "/metrics")
        #expect(exposition.status == 200)
        let text = String(decoding: exposition.body, as: UTF8.self)
        let samples = PrometheusSamples(text)
        #expect(samples[#"gateway_http_requests_total{route="/api/v1/folders",method="GET",status="200"}"#] ?? 0 >= 2)
        #expect(samples[#"gateway_http_requests_total{route="/api/v1/mails",method="GET",status="200"}"#] == 1)
        #expect(samples[#"gateway_http_requests_total{route="/api/v1/batch/mails/update",method="POST",status="200"}"#] == 1)
        #expect(samples[#"gateway_http_requests_total{route="/api/v1/batch/mails/update",method="POST",status="400"}"#] == 1)
        #expect(samples[#"gateway_http_requests_total{route="NotFound",method="GET",status="404"}"#] == 1)
        #expect(samples[#"gateway_http_requests_total{route="/api/v1/folders",method="GET",status="401"}"#] == 1)
        // The histogram: cumulative buckets ending in +Inf, which equals the count.
        let series = #"route="/api/v1/mails",method="GET",status="200""#
        let buckets = samples.buckets("gateway_http_request_duration_seconds", series)
        #expect(buckets.count >= 10)
        #expect(buckets.map(\.count) == buckets.map(\.count).sorted(), "cumulative")
        #expect(buckets.last?.le == "+Inf" && buckets.last?.count == 1)
        #expect(samples["gateway_http_request_duration_seconds_count{\(series)}"] == 1)
        // IMAP commands by command and result, with their latency.
        #expect(samples[#"gateway_imap_commands_total{command="LOGIN",result="ok"}"#] ?? 0 >= 1)
        #expect(samples[#"gateway_imap_commands_total{command="UID STORE",result="ok"}"#] ?? 0 >= 1)
        #expect(samples[#"gateway_imap_command_duration_seconds_count{command="UID STORE"}"#] ?? 0 >= 1)
        #expect(!samples.buckets("gateway_imap_command_duration_seconds", #"command="LIST""#).isEmpty)
        // Pool, jobs and caches.
        #expect(samples[#"gateway_imap_pool_connections{state="idle"}"#] ?? 0 >= 1)
        #expect(samples[#"gateway_imap_pool_connections{state="busy"}"#] == 0)
        #expect(samples["gateway_imap_pool_waiting_leases"] == 0)
        #expect(samples[#"gateway_jobs{state="inProgress"}"#] == 0)
        #expect(samples["gateway_sort_cache_misses_total"] ?? 0 >= 1)
        #expect(samples["gateway_batch_requests_total"] == 1)
        #expect(samples["gateway_batch_items_total"] == 3)

        let promtool = try await Self.promtool(text)
        #expect(promtool.status == 0, "promtool check metrics: \(promtool.output)")
        #expect(promtool.output.isEmpty, "no lint problems: \(promtool.output)")

        // --- Logs -------------------------------------------------------------------------------
        gateway.kill()
        try log.close()
        let logText = try String(contentsOf: logURL, encoding: .utf8)
        let lines = logText.split(separator: "\n").map(String.init)
        let objects = lines.compactMap { line in (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] }
        #expect(objects.count == lines.count, "every log line is one JSON object")
        func messages(of id: String) -> [String] {
            objects.filter { $0["requestId"] as? String == id }.compactMap { $0["message"] as? String }
        }
        #expect(messages(of: "ops-folders-1").contains("imap command"), "the IMAP client's lines carry the request's ID")
        #expect(messages(of: made).contains("imap command"), "a made ID is logged too")
        #expect(messages(of: "ops-update-1").contains("imap command"))
        #expect(!logText.contains("bad id"), "an unsafe ID is never logged")
        for secret in [quinn.password, String(basic.dropFirst(6)), session, String(subject), body, String(marker)] {
            #expect(!logText.contains(secret), "the log holds \(secret.prefix(12))…")
        }
        try? FileManager.default.removeItem(at: logURL)
    }

    /// SIGTERM while a job runs: the gateway stops accepting, lets the job finish the chunk it is
    /// carrying out, logs out of the IMAP server and exits 0 well within the grace time. The
    /// job's chunks are all recorded (none left `started`), so the next start resumes at once
    /// without waiting out an interrupted command (the command timeout here is 60 s, the bound
    /// for finishing after the restart 45 s), and every message is moved exactly once.
    @Test func sigtermMidJobCheckpointsAndTheJobCompletesAfterRestart() async throws {
        let bed = try TestBed.require()
        let quinn = bed.operationsAccount
        let count = 4000
        let (source, dest, originals) = try await Self.moveFixture(bed, "GwTerm", count: count)

        let settings = [
            "GATEWAY_JOBS_CHUNK_SIZE": "200", "GATEWAY_IMAP_COMMAND_TIMEOUT_SECONDS": "60", "GATEWAY_SHUTDOWN_GRACE_SECONDS": "20",
        ]
        var (gateway, http, database) = try Self.startGateway(bed, "term", settings)
        defer { gateway.kill() }
        let (key, _) = try await Self.submitMove(http, from: source, to: dest, count: count)

        var progress = 0.0
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline, progress < 10 {
            progress = (try await http.json("GET", "/api/v1/batch/jobs/\(key)").body["progress"] as? Double) ?? 0
            if progress < 10 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(progress >= 10 && progress < 90, "terminated mid-job (at \(progress)%)")
        let logOffset = Self.dovecotLogSize()
        let (status, after) = await gateway.terminate(timeout: .seconds(30))
        #expect(status == 0, "exit status \(String(describing: status))")
        #expect(after < .seconds(20), "exited after \(after)")

        let shown = try await GatewayProcess.run(["jobs", "show", key, "--json", "--database-path", database])
        #expect(shown.status == 0, "\(shown.error)")
        let parsed = try? JSONSerialization.jsonObject(with: Data(shown.output.utf8)) as? [String: Any]
        let detail = try #require(parsed, "jobs show --json printed: \(shown.output.debugDescription) (stderr: \(shown.error.debugDescription))")
        let chunks = try #require(detail["chunks"] as? [String: Int])
        #expect((detail["job"] as? [String: Any])?["status"] as? String == "inProgress")
        #expect(chunks["started"] == nil, "no chunk was left half done: \(chunks)")
        #expect((chunks["done"] ?? 0) >= 1 && (chunks["planned"] ?? 0) >= 1, "stopped at a chunk boundary: \(chunks)")
        let movedAtStop = try await bed.search(dest, user: quinn.user).count
        #expect(movedAtStop == 200 * (chunks["done"] ?? 0), "the done chunks, and nothing else, were moved")
        if !TestBed.isCyrus, let lines = Self.dovecotLogLines(since: logOffset, user: quinn.user) {
            #expect(lines.contains { $0.contains("Logged out") }, "the gateway logged out: \(lines)")
            #expect(!lines.contains { $0.contains("Disconnected") && !$0.contains("Logged out") }, "no connection was dropped: \(lines)")
        }

        let restarted = ContinuousClock.now
        gateway = try GatewayProcess.start(bed: bed, port: http.port, database: database, environment: Self.jobSettings.merging(settings) { $1 })
        try await http.waitUntilUp()
        let final = try await Self.finalStatus(http, key: key, within: .seconds(45))
        #expect(final["status"] as? String == "completed", "completed within 45 s of the restart: \(final)")
        #expect((final["batchOperationDetails"] as? [String: Any])?["failedItems"] as? [String] == [])
        let left = try await bed.look(source, user: quinn.user)
        let moved = try await bed.look(dest, user: quinn.user)
        #expect(left.isEmpty)
        #expect(moved.count == count)
        #expect(Set(moved.values.map(\.messageID)) == Set(originals), "none lost, none twice")
        print("SIGTERM TEST: terminated at \(progress)% (\(movedAtStop) moved), exit \(after); completed \(ContinuousClock.now - restarted) after the restart")
    }

    /// SIGTERM while a request waits on the IMAP server (a scripted server whose UID STORE takes
    /// 3 s): the gateway stops accepting at once (a new connection is refused), answers the
    /// request in flight in full, and exits 0.
    @Test func sigtermFinishesTheRequestInFlightAndAcceptsNoMore() async throws {
        let bed = try TestBed.require()
        try await HostileIMAPServer.run("slow-store", inboxSize: 5) { server in
            let database = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-inflight-\(UUID().uuidString).sqlite").path
            let port = GatewayProcess.freePort()
            let gateway = try GatewayProcess.start(
                bed: bed, port: port, database: database, environment: ["GATEWAY_IMAP_HOST": "127.0.0.1", "GATEWAY_IMAP_PORT": "\(server.port)"])
            defer { gateway.kill() }
            let http = RawHTTP(port: port)
            try await http.waitUntilUp()
            let credentials = HostileIMAPServer.credentials
            let auth = ["Authorization": "Basic " + Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString()]
            let folders = try #require(try await http.send("GET", "/api/v1/folders", headers: auth).json["items"] as? [[String: Any]])
            let inbox = try #require(folders.first { $0["name"] as? String == "INBOX" }?["id"] as? String)
            let listed = try #require(try await http.send("GET", "/api/v1/mails?folderId=\(inbox)", headers: auth).json["items"] as? [[String: Any]])
            let ids = listed.compactMap { $0["id"] as? String }
            #expect(ids.count == 5)

            let inFlight = Task { try await http.send("POST", "/api/v1/batch/mails/update", headers: auth, json: ["ids": ids, "isFlagged": true]) }
            let sent = ContinuousClock.now
            while !server.commandLog.contains(where: { $0.contains("UID STORE") }), ContinuousClock.now - sent < .seconds(10) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(server.commandLog.contains { $0.contains("UID STORE") }, "the request reached the server")
            async let exit = gateway.terminate(timeout: .seconds(20))
            try await Task.sleep(for: .milliseconds(500))
            await #expect(throws: RawHTTP.Failure.self, "a new connection is refused once SIGTERM arrived") {
                _ = try await http.send("GET", "/healthz")
            }
            let reply = try await inFlight.value
            #expect(reply.status == 200, "the request in flight was answered in full")
            #expect((reply.json["batchOperationDetails"] as? [String: Any])?["failedItems"] as? [String] == [])
            let (status, after) = await exit
            #expect(status == 0, "exit status \(String(describing: status))")
            #expect(after >= .seconds(1) && after < .seconds(15), "exited after the answer: \(after)")
        }
    }

    /// `jobs cancel` on a running job: the gateway stops it at its next chunk boundary and
    /// completes it with the items not done as failed; the done ones stay moved, once each.
    /// `jobs list` shows it, `jobs show` of an unknown key fails.
    @Test func jobsCommandsListShowAndCancel() async throws {
        let bed = try TestBed.require()
        let quinn = bed.operationsAccount
        let count = 3000
        let (source, dest, _) = try await Self.moveFixture(bed, "GwCancel", count: count)

        let (gateway, http, database) = try Self.startGateway(bed, "cancel", ["GATEWAY_JOBS_CHUNK_SIZE": "100"])
        defer { gateway.kill() }
        let (key, ids) = try await Self.submitMove(http, from: source, to: dest, count: count)

        let listed = try await GatewayProcess.run(["jobs", "list", "--database-path", database])
        #expect(listed.status == 0)
        #expect(listed.output.contains(key) && listed.output.contains(quinn.user) && listed.output.contains("move"), "\(listed.output)")
        let cancelled = try await GatewayProcess.run(["jobs", "cancel", key, "--database-path", database])
        #expect(cancelled.status == 0, "\(cancelled.output) \(cancelled.error)")

        let final = try await Self.finalStatus(http, key: key, within: .seconds(60))
        #expect(final["status"] as? String == "completed")
        let failed = Set((final["batchOperationDetails"] as? [String: Any])?["failedItems"] as? [String] ?? [])
        #expect(!failed.isEmpty && failed.isSubset(of: Set(ids)), "the items not done are reported failed")
        let left = try await bed.look(source, user: quinn.user)
        let moved = try await bed.look(dest, user: quinn.user)
        #expect(moved.count == count - failed.count, "every item not reported failed was moved")
        #expect(left.count == failed.count, "every failed item is still in the source")
        #expect(Set(moved.values.map(\.messageID)).count == moved.count, "nothing moved twice")
        #expect(try await GatewayProcess.run(["jobs", "cancel", key, "--database-path", database]).status == 1, "a finished job cannot be cancelled")
        let unknown = try await GatewayProcess.run(["jobs", "show", "no-such-job", "--database-path", database])
        #expect(unknown.status == 1 && unknown.error.contains("no job"))
        // A key that starts with "-" (made before job keys avoided it) is an argument after `--`.
        let dashed = try await GatewayProcess.run(["jobs", "show", "--database-path", database, "--", "-no-such-job"])
        #expect(dashed.status == 1 && dashed.error.contains("no job"), "\(dashed.error)")
        print("CANCEL TEST: \(moved.count) moved before the cancel took effect, \(failed.count) reported failed")
    }

    /// `check` against the live server (exit 0, the capabilities after login and a line for each
    /// one the gateway uses), with a wrong password and against a port nobody listens on (exit 1).
    @Test func checkReportsCapabilitiesAndFailsWhenTheServerDoesNotAnswer() async throws {
        let bed = try TestBed.require()
        let quinn = bed.operationsAccount
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-check-\(UUID().uuidString).sqlite").path
        let target = ["--imap-host", bed.host, "--imap-port", String(bed.port), "--database-path", database]
        let good = try await GatewayProcess.run(["check"] + target + ["--user", quinn.user, "--password-stdin"], input: quinn.password + "\n")
        #expect(good.status == 0, "\(good.output)\(good.error)")
        #expect(good.output.contains("capabilities after login"))
        #expect(good.output.contains("IMAP4REV1") || good.output.contains("IMAP4rev1"))
        for use in ServerCheck.uses {
            #expect(good.output.contains("yes  \(use.capability):") || good.output.contains("no   \(use.capability):"), "\(use.capability)")
        }
        #expect(good.output.hasSuffix("check: ok\n"))
        #expect(!good.output.contains(quinn.password))

        let refused = try await GatewayProcess.run(["check"] + target + ["--user", quinn.user, "--password-stdin"], input: "wrong\n")
        #expect(refused.status == 1)
        #expect(refused.output.contains("login as \(quinn.user) failed"))

        let dead = ["--imap-host", "127.0.0.1", "--imap-port", String(GatewayProcess.freePort()), "--database-path", database]
        let down = try await GatewayProcess.run(["check"] + dead)
        #expect(down.status == 1)
        #expect(down.output.contains("failed") && down.output.contains("check: FAILED"))
    }

    /// The docs page and a job's page in Debian's headless Chromium, against a real gateway:
    /// Swagger UI renders every path of the OpenAPI document from the gateway's own files; the job
    /// page (session ID in the URL fragment, which never reaches the server) ends at completed,
    /// 100 %, with the one unknown ID as its failed item. `integration/browser-check.py` fails the
    /// test if the browser asked anything of another origin, resolved another host, sent a UDP
    /// datagram, or hit a Content-Security-Policy violation.
    @Test func docsAndJobPagesInAHeadlessBrowser() async throws {
        let bed = try TestBed.require()
        let quinn = bed.operationsAccount
        let count = 300
        let (source, dest, _) = try await Self.moveFixture(bed, "GwPage", count: count)
        let (gateway, http, _) = try Self.startGateway(bed, "page", ["GATEWAY_JOBS_CHUNK_SIZE": "100"])
        defer { gateway.kill() }
        let port = http.port
        let (key, _) = try await Self.submitMove(http, from: source, to: dest, count: count, plus: ["no-such-mail"])
        let session = try #require(try await http.json("POST", "/api/v1/login").body["sessid"] as? String)

        let base = "http://127.0.0.1:\(port)"
        let docs = try await Self.browserCheck(
            url: "\(base)/docs",
            ["--expect-selector", ".swagger-ui", "--expect-text", "/api/v1/batch/mails/move", "--expect-text", "/api/v1/conversations"])
        #expect(docs.status == 0, "\(docs.output)")
        let page = try await Self.browserCheck(
            url: "\(base)/jobs/\(key)#session=\(session)",
            [
                "--expect-text", key, "--expect-selector", "#status[data-status=completed]",
                "--expect-selector", "progress#progress[value=\"100\"]", "--expect-count", "#failed-items li", "1",
                "--expect-text", "no-such-mail", "--wait-ms", "15000",
            ])
        #expect(page.status == 0, "\(page.output)")
        let moved = try await bed.look(dest, user: quinn.user)
        #expect(moved.count == count, "the job the page showed as completed did move everything")
    }

    /// Runs integration/browser-check.py on `url`; its exit status and report.
    static func browserCheck(url: String, _ checks: [String]) async throws -> (status: Int32, output: String) {
        let root = GatewayProcess.executable.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("integration/browser-check.py")
        guard ["/usr/lib/chromium/chromium", "/usr/bin/chromium"].contains(where: FileManager.default.isExecutableFile(atPath:)) else {
            Issue.record("chromium is missing: apt-get install chromium (.ci/run installs it)")
            return (-1, "")
        }
        let run = try await GatewayProcess.run(
            [script.path, "--url", url] + checks, executable: URL(fileURLWithPath: "/usr/bin/python3"))
        return (run.status, run.output + run.error)
    }

    /// A server's refusal text reaches the operator's terminal without its control characters:
    /// `check` against a server whose LOGIN refusal carries a "clear screen" escape and a bell.
    @Test func checkPrintsNoControlCharactersOfTheServer() async throws {
        try await HostileIMAPServer.run("escape-text") { server in
            let database = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-escape-\(UUID().uuidString).sqlite").path
            let run = try await GatewayProcess.run(
                ["check", "--imap-port", "\(server.port)", "--database-path", database, "--user", "mallory", "--password-stdin"],
                input: "secret\n")
            #expect(run.status == 1)
            #expect(run.output.contains("PWNED"), "the refusal is reported: \(run.output)")
            #expect(!run.output.unicodeScalars.contains { $0.properties.generalCategory == .control && $0 != "\n" }, "\(run.output)")
            #expect(run.output.contains("\\u{1b}[2J"))
        }
    }

    /// A setting out of range stops `serve` at once with its key and variable named; so does a flag.
    @Test func serveRefusesBadSettingsNamingTheKey() async throws {
        let fromEnvironment = try await GatewayProcess.run(["serve", "--config", "/nonexistent.yaml"], environment: ["GATEWAY_JOBS_CHUNK_SIZE": "0"])
        #expect(fromEnvironment.status != 0)
        #expect(fromEnvironment.error.contains("jobs.chunkSize") && fromEnvironment.error.contains("GATEWAY_JOBS_CHUNK_SIZE"), "\(fromEnvironment.error)")
        let fromFlag = try await GatewayProcess.run(["serve", "--config", "/nonexistent.yaml", "--http-port", "70000"])
        #expect(fromFlag.status != 0)
        #expect(fromFlag.error.contains("http.port") && fromFlag.error.contains("70000"), "\(fromFlag.error)")
        let badFormat = try await GatewayProcess.run(["check", "--config", "/nonexistent.yaml", "--log-format", "xml"])
        #expect(badFormat.status != 0 && badFormat.error.contains("log.format"), "\(badFormat.error)")
    }

    // MARK: Helpers

    /// Jobs for any batch over 100 items.
    static let jobSettings = ["GATEWAY_BATCH_ASYNC_THRESHOLD": "100"]

    /// A gateway process on a free port with a database of its own, and a client for quinn.
    static func startGateway(_ bed: TestBed, _ name: String, _ settings: [String: String]) throws -> (
        process: GatewayProcess, http: HTTPClient, database: String
    ) {
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-\(name)-\(UUID().uuidString).sqlite").path
        let port = GatewayProcess.freePort()
        let process = try GatewayProcess.start(bed: bed, port: port, database: database, environment: jobSettings.merging(settings) { $1 })
        let quinn = bed.operationsAccount
        return (process, HTTPClient(port: port, user: quinn.user, password: quinn.password), database)
    }

    /// A source folder of `count` messages and an empty destination, as quinn; the source's Message-IDs.
    static func moveFixture(_ bed: TestBed, _ name: String, count: Int) async throws -> (source: String, dest: String, originals: [String]) {
        let quinn = bed.operationsAccount
        let source = TestBed.uniqueMailbox(name)
        let dest = TestBed.uniqueMailbox(name + "Dest")
        try await bed.fill(source, count: count, user: quinn.user)
        let setup = try await bed.connect(quinn)
        try await setup.create(MailboxName(dest))
        await setup.logout()
        let originals = try await bed.look(source, user: quinn.user).values.map(\.messageID)
        #expect(Set(originals).count == count)
        return (source, dest, originals)
    }

    /// Waits for the gateway, then asks it to move every message of `source` by ID (and the IDs
    /// in `plus`): the job's key and the IDs listed.
    static func submitMove(
        _ http: HTTPClient, from source: String, to dest: String, count: Int, plus extra: [String] = []
    ) async throws -> (key: String, ids: [String]) {
        try await http.waitUntilUp()
        let folders = try await http.folderIDs()
        let ids = try await allIDs(http, folderID: folders[source]!, count: count)
        let created = try await http.json(
            "POST", "/api/v1/batch/mails/move", body: ["ids": ids + extra, "destinationFolderId": folders[dest]!])
        #expect(created.status == 201)
        return (try #require(created.body["jobKey"] as? String), ids)
    }

    /// The job's status once it completed, or the last one seen when `within` ran out.
    static func finalStatus(_ http: HTTPClient, key: String, within limit: Duration) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + limit
        var status: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            status = try await http.json("GET", "/api/v1/batch/jobs/\(key)").body
            if status["status"] as? String == "completed" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return status
    }

    /// Every mail ID of a folder, by listing pages of 1,000.
    static func allIDs(_ http: HTTPClient, folderID: String, count: Int) async throws -> [String] {
        var ids: [String] = []
        while ids.count < count {
            let page = try await http.json("GET", "/api/v1/mails?folderId=\(folderID)&sort=date&dir=ASC&start=\(ids.count)&limit=1000")
            let items = (page.body["items"] as? [[String: Any]]) ?? []
            if items.isEmpty { break }
            ids += items.compactMap { $0["id"] as? String }
        }
        return ids
    }

    /// `promtool check metrics` on `text`: its exit status and what it printed.
    static func promtool(_ text: String) async throws -> (status: Int32, output: String) {
        let path = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("promtool is missing: apt-get install prometheus (.ci/run installs it)")
            return (-1, "")
        }
        let run = try await GatewayProcess.run(["check", "metrics"], executable: URL(fileURLWithPath: path), input: text)
        return (run.status, run.output + run.error)
    }

    static var dovecotLog: String? { ProcessInfo.processInfo.environment["IMAP_TEST_LOG_FILE"] }

    static func dovecotLogSize() -> UInt64 {
        guard let path = dovecotLog, let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return 0 }
        return (attributes[.size] as? UInt64) ?? 0
    }

    /// Dovecot's log lines about `user`'s IMAP sessions written after `offset`; nil without a log.
    static func dovecotLogLines(since offset: UInt64, user: String) -> [String]? {
        guard let path = dovecotLog, let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "\n").map(String.init).filter { $0.contains("imap(\(user))") }
    }
}

/// A plain HTTP/1.1 client for a gateway process, on a socket of its own (`Connection: close`):
/// any method, headers in and out, the raw body. Not URLSession: on Linux it waits forever on a
/// 401 that carries `WWW-Authenticate: Basic` when no delegate answers the challenge.
struct RawHTTP {
    let port: Int

    struct Reply {
        var status: Int
        /// Header names lower-cased.
        var headers: [String: String]
        var body: Data
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func send(_ method: String, _ path: String, headers: [String: String] = [:], json: [String: Any]? = nil, body: Data? = nil) async throws
        -> Reply
    {
        let payload = try json.map { try JSONSerialization.data(withJSONObject: $0) } ?? body ?? Data()
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nContent-Length: \(payload.count)\r\n"
        if json != nil || body != nil { head += "Content-Type: application/json\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let request = Data((head + "\r\n").utf8) + payload
        let port = self.port
        let response = try await Task.detached { try Self.exchange(request, port: port) }.value
        guard let end = response.range(of: Data("\r\n\r\n".utf8)) else { throw Failure(description: "no header end") }
        let lines = String(decoding: response[..<end.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "bad status line \(lines[0])") }
        var out: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            out[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Reply(status: status, headers: out, body: Data(response[end.upperBound...]))
    }

    /// Writes `request` and reads until the server closes (blocking; run detached).
    private static func exchange(_ request: Data, port: Int) throws -> Data {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { throw Failure(description: "connect to \(port) refused") }
        try request.withUnsafeBytes { buffer in
            var sent = 0
            while sent < buffer.count {
                let n = Glibc.send(fd, buffer.baseAddress! + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
                guard n > 0 else { throw Failure(description: "send") }
                sent += n
            }
        }
        var response = Data()
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n < 0 { throw Failure(description: "recv: errno \(errno)") }
            if n == 0 { break }
            response.append(contentsOf: chunk[0..<n])
        }
        return response
    }

    func waitUntilUp() async throws {
        for _ in 0..<100 {
            if let reply = try? await send("GET", "/healthz"), reply.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "the gateway did not come up on port \(port)")
    }
}

/// The samples of a Prometheus text exposition, by series (`name{labels}` as written).
struct PrometheusSamples {
    private var values: [String: Double] = [:]
    private var order: [String] = []

    init(_ text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = String(line[..<space])
            values[series] = value
            order.append(series)
        }
    }

    subscript(series: String) -> Double? { values[series] }

    /// A histogram's buckets for one label set, in the order written: (le, cumulative count).
    func buckets(_ name: String, _ labels: String) -> [(le: String, count: Double)] {
        let prefix = "\(name)_bucket{\(labels),le=\""
        return order.filter { $0.hasPrefix(prefix) }.map { series in
            (String(series.dropFirst(prefix.count).dropLast(2)), values[series] ?? -1)
        }
    }
}
