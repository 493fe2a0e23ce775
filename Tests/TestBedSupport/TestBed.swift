import Foundation
import IMAPClient
import IMAPCore
import Logging
import NIOSSL

/// The local IMAP server of the test bed, read from its env file, plus an independent look at
/// mailboxes (never through the client under test): the Dovecot of `integration/dovecot-start.sh`
/// looked at with `doveadm`, or — with `IMAP_TEST_SERVER=cyrus` — the Cyrus IMAP 3.6 of
/// `integration/cyrus-start.sh` looked at with `integration/cyrus-admin.py` (integration/CYRUS.md).
public struct TestBed: Sendable {
    /// Which server the bed runs.
    public enum ServerKind: String, Sendable {
        case dovecot, cyrus
    }

    public let kind: ServerKind
    public let host: String
    public let port: Int
    public let tlsPort: Int
    public let caFile: String
    public let dovecotConfig: String
    public let mailRoot: String
    public let users: [(name: String, password: String)]
    public let masterUser: String
    public let masterPassword: String
    /// The Cyrus bed's env file (empty for Dovecot): what `cyrus-admin.py` is given.
    public let cyrusEnvFile: String
    /// The Cyrus bed's state directory (empty for Dovecot): its sasldb is `lib/sasldb2` there.
    public let cyrusStateDir: String

    /// The test bed, when its env file or environment variables are present.
    public static let current: TestBed? = load()

    /// Integration tests run when the test bed is up, and must run (fail, not skip) when
    /// `IMAP_TEST_REQUIRED=1`, as `integration/run-tests.sh` sets.
    public static let isEnabled = current != nil || ProcessInfo.processInfo.environment["IMAP_TEST_REQUIRED"] == "1"

    public static func require() throws -> TestBed {
        guard let current else { throw TestBedMissing() }
        return current
    }

    public struct TestBedMissing: Error, CustomStringConvertible {
        public var description: String {
            ProcessInfo.processInfo.environment["IMAP_TEST_SERVER"] == "cyrus"
                ? "Cyrus test bed not found: run integration/cyrus-start.sh (or integration/run-tests.sh)"
                : "Dovecot test bed not found: run integration/dovecot-start.sh (or integration/run-tests.sh)"
        }
    }

    /// The test bed is a Cyrus one: for suites that need Dovecot's store (Maildir writers, doveadm).
    public static var isCyrus: Bool { current?.kind == .cyrus }

    /// Reads `export KEY=value` lines of an env file the start scripts write into `env`.
    private static func read(envFile path: String, into env: inout [String: String]) -> Bool {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return false }
        for line in text.split(separator: "\n") where line.hasPrefix("export ") {
            let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
            if pair.count == 2 { env[String(pair[0])] = String(pair[1]) }
        }
        return true
    }

    private static func load() -> TestBed? {
        var env = ProcessInfo.processInfo.environment
        if env["IMAP_TEST_SERVER"] == "cyrus" { return loadCyrus(env) }
        if env["IMAP_TEST_PORT"] == nil {
            guard read(envFile: env["IMAP_TEST_ENV_FILE"] ?? "/tmp/mailbox-gateway-dovecot/env", into: &env) else { return nil }
        }
        guard let port = env["IMAP_TEST_PORT"].flatMap(Int.init), let tlsPort = env["IMAP_TEST_TLS_PORT"].flatMap(Int.init),
            let conf = env["IMAP_TEST_DOVECOT_CONF"], FileManager.default.fileExists(atPath: conf)
        else { return nil }
        var users: [(String, String)] = []
        for i in 1... {
            guard let u = env["IMAP_TEST_USER\(i)"], let p = env["IMAP_TEST_PASS\(i)"] else { break }
            users.append((u, p))
        }
        // IMAP_TEST_REFUSE=MOVE …: `port`, and so `server()` (what the gateway is given), is a proxy
        // that truly lacks those capabilities (RefusingProxy.swift); doveadm and `connect()` still
        // reach Dovecot directly.
        guard let servedPort = servedPort(port) else { return nil }
        return TestBed(
            kind: .dovecot, host: env["IMAP_TEST_HOST"] ?? "127.0.0.1", port: servedPort, tlsPort: tlsPort,
            caFile: env["IMAP_TEST_CA_FILE"] ?? "", dovecotConfig: conf, mailRoot: env["IMAP_TEST_MAIL_ROOT"] ?? "", users: users,
            masterUser: env["IMAP_TEST_MASTER_USER"] ?? "", masterPassword: env["IMAP_TEST_MASTER_PASS"] ?? "",
            cyrusEnvFile: "", cyrusStateDir: "")
    }

    /// The Cyrus bed: `CYRUS_TEST_ENV_FILE`, else `$CYRUS_TEST_DIR/env`, else /tmp/mailbox-gateway-cyrus/env.
    private static func loadCyrus(_ environment: [String: String]) -> TestBed? {
        var env = environment
        let file = env["CYRUS_TEST_ENV_FILE"] ?? ((env["CYRUS_TEST_DIR"] ?? "/tmp/mailbox-gateway-cyrus") + "/env")
        guard read(envFile: file, into: &env), let port = env["CYRUS_TEST_PORT"].flatMap(Int.init),
            let tlsPort = env["CYRUS_TEST_TLS_PORT"].flatMap(Int.init), let state = env["CYRUS_TEST_STATE_DIR"]
        else { return nil }
        var users: [(String, String)] = []
        for i in 1... {
            guard let u = env["CYRUS_TEST_USER\(i)"], let p = env["CYRUS_TEST_PASS\(i)"] else { break }
            users.append((u, p))
        }
        guard let servedPort = servedPort(port) else { return nil }
        return TestBed(
            kind: .cyrus, host: env["CYRUS_TEST_HOST"] ?? "127.0.0.1", port: servedPort, tlsPort: tlsPort,
            caFile: env["CYRUS_TEST_CA_FILE"] ?? "", dovecotConfig: "", mailRoot: "", users: users,
            masterUser: env["CYRUS_TEST_MASTER_USER"] ?? "", masterPassword: env["CYRUS_TEST_MASTER_PASS"] ?? "",
            cyrusEnvFile: file, cyrusStateDir: state)
    }

    /// `port`, or with `IMAP_TEST_REFUSE=MOVE …` the port of a proxy in front of it that truly lacks
    /// those capabilities (RefusingProxy.swift); nil when that proxy does not start.
    private static func servedPort(_ port: Int) -> Int? {
        guard !RefusingProxy.environmentRefusals.isEmpty else { return port }
        do {
            return try RefusingProxy.shared(targetPort: port).port
        } catch {
            FileHandle.standardError.write(Data("IMAP_TEST_REFUSE: the refusing proxy did not start: \(error)\n".utf8))
            return nil
        }
    }

    public var alice: IMAPCredentials { IMAPCredentials(user: users[0].name, password: users[0].password) }
    public var bob: IMAPCredentials { IMAPCredentials(user: users[1].name, password: users[1].password) }
    public var carol: IMAPCredentials { IMAPCredentials(user: users[2].name, password: users[2].password) }
    /// Accounts for the tests with very large folders, one per test: their cost never slows the
    /// others' listings, and no user has many parallel sessions on huge folders (which once made
    /// Dovecot's fcntl locking fail with EDEADLK and panic a session).
    public var dave: IMAPCredentials { IMAPCredentials(user: users[3].name, password: users[3].password) }
    public var eve: IMAPCredentials { IMAPCredentials(user: users[4].name, password: users[4].password) }
    public var frank: IMAPCredentials { IMAPCredentials(user: users[5].name, password: users[5].password) }
    public var gina: IMAPCredentials { IMAPCredentials(user: users[6].name, password: users[6].password) }
    /// The account whose mailbox holds the hostile-mail suite's messages.
    public var hostileMailAccount: IMAPCredentials { IMAPCredentials(user: users[7].name, password: users[7].password) }
    /// The account whose password the password-change test rewrites (no other test may use it).
    public var passwordChangeAccount: IMAPCredentials { IMAPCredentials(user: users[8].name, password: users[8].password) }
    /// The real account that keeps working while the login-flood test fails thousands of logins.
    public var floodVictimAccount: IMAPCredentials { IMAPCredentials(user: users[9].name, password: users[9].password) }
    /// The account of the job-hardening tests (races and refused passwords).
    public var jobHardeningAccount: IMAPCredentials { IMAPCredentials(user: users[11].name, password: users[11].password) }
    /// The account of the metadata-sync test's 12,000-message folder (a heavy folder: an account of its own).
    public var metadataSyncAccount: IMAPCredentials { IMAPCredentials(user: users[12].name, password: users[12].password) }
    /// The account of the threading agreement tests (corpora of 8,000 messages): omar.
    public var threadAgreementAccount: IMAPCredentials {
        let omar = users.first { $0.name == "omar" } ?? (name: "omar", password: "omar-secret")
        return IMAPCredentials(user: omar.name, password: omar.password)
    }
    /// The account of the sort agreement tests (corpora of 6,000 messages): nina.
    public var sortAgreementAccount: IMAPCredentials {
        let nina = users.first { $0.name == "nina" } ?? (name: "nina", password: "nina-secret")
        return IMAPCredentials(user: nina.name, password: nina.password)
    }

    /// The account of the conversation tests (the index spans every folder of an account): pia.
    public var conversationAccount: IMAPCredentials {
        let pia = users.first { $0.name == "pia" } ?? (name: "pia", password: "pia-secret")
        return IMAPCredentials(user: pia.name, password: pia.password)
    }

    /// The account of the operations tests (a gateway process's metrics, logs, SIGTERM mid-job): quinn.
    public var operationsAccount: IMAPCredentials {
        let quinn = users.first { $0.name == "quinn" } ?? (name: "quinn", password: "quinn-secret")
        return IMAPCredentials(user: quinn.name, password: quinn.password)
    }

    /// The account of the scale-out tests (two gateway replicas on one PostgreSQL, a 20,000-message job): rosa.
    public var scaleOutAccount: IMAPCredentials {
        let rosa = users.first { $0.name == "rosa" } ?? (name: "rosa", password: "rosa-secret")
        return IMAPCredentials(user: rosa.name, password: rosa.password)
    }

    /// The account of the conversation job killed mid-way (8,000 messages in threads of four): sam.
    public var conversationJobAccount: IMAPCredentials {
        let sam = users.first { $0.name == "sam" } ?? (name: "sam", password: "sam-secret")
        return IMAPCredentials(user: sam.name, password: sam.password)
    }

    /// Where the client under test (the gateway) connects. In an `IMAP_TEST_REFUSE` run the plain
    /// port is the refusing proxy's (plaintext only: `.tls` still reaches Dovecot, `.startTLS` fails there).
    public func server(
        tls: IMAPServerConfiguration.TLSMode = .none, trustTestCA: Bool = true, maxCommandLineLength: Int = 8192
    ) throws -> IMAPServerConfiguration {
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if trustTestCA { tlsConfiguration.trustRoots = .file(caFile) }
        return IMAPServerConfiguration(
            host: host, port: tls == .tls ? tlsPort : port, tlsMode: tls, tlsConfiguration: tlsConfiguration,
            commandTimeout: .seconds(60), maxCommandLineLength: maxCommandLineLength)
    }

    /// A logged-in connection as alice (or `credentials`), straight to Dovecot (see ``dovecotPort``).
    public func connect(
        _ credentials: IMAPCredentials? = nil, tls: IMAPServerConfiguration.TLSMode = .none, maxCommandLineLength: Int = 8192
    ) async throws -> IMAPConnection {
        var configuration = try server(tls: tls, maxCommandLineLength: maxCommandLineLength)
        // The test's own hands (setup, looks) reach Dovecot directly, never through a refusing proxy.
        if tls != .tls { configuration.port = dovecotPort }
        let connection = try await IMAPConnection.connect(to: configuration, logger: Self.logger)
        try await connection.login(credentials ?? alice)
        return connection
    }

    public static let logger: Logger = {
        var logger = Logger(label: "imap-test")
        logger.logLevel = .info
        return logger
    }()

    /// A mailbox name no other test uses.
    public static func uniqueMailbox(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8))"
    }

    // MARK: Independent look

    /// Runs doveadm against the test bed's config; returns stdout. It blocks the calling thread:
    /// for quick commands (and `defer`); the looks below run it off Swift's cooperative threads.
    public func doveadm(_ arguments: [String]) throws -> String {
        guard kind == .dovecot else { throw DoveadmError(arguments: arguments, message: "not a Dovecot test bed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/doveadm")
        process.arguments = ["-c", dovecotConfig] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw DoveadmError(arguments: arguments, message: String(decoding: errorData, as: UTF8.self))
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `integration/cyrus-admin.py` against the Cyrus bed off the cooperative threads; returns stdout.
    public func cyrusAdmin(_ arguments: [String]) async throws -> String {
        let script = Self.integrationDirectory.appendingPathComponent("cyrus-admin.py").path
        return try await run(["/usr/bin/env", "python3", script, "--env", cyrusEnvFile] + arguments)
    }

    /// Runs a program off the cooperative threads; returns its stdout, or throws with its stderr.
    private func run(_ command: [String], input: String? = nil) async throws -> String {
        let (status, output, errors) = try await TestBed.offCooperativeThreads {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: command[0])
            process.arguments = Array(command.dropFirst())
            let output = Pipe()
            let errors = Pipe()
            process.standardOutput = output
            process.standardError = errors
            let stdin = Pipe()
            if input != nil { process.standardInput = stdin }
            try process.run()
            if let input {
                stdin.fileHandleForWriting.write(Data(input.utf8))
                try stdin.fileHandleForWriting.close()
            }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let errorData = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
        }
        guard status == 0 else { throw DoveadmError(arguments: command, message: errors) }
        return output
    }

    static let integrationDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("integration")

    /// Changes a user's password and waits until the server accepts it on a direct IMAP login.
    /// Dovecot: its passwd-file, re-read when the mtime changes, in whole seconds, so the mtime is
    /// moved forward past any second already seen. Cyrus: the user's key in the bed's sasldb.
    public func setPassword(user: String, to password: String) async throws {
        if kind == .cyrus {
            _ = try await run(
                ["/usr/bin/db_load", "-T", "-t", "hash", cyrusStateDir + "/lib/sasldb2"],
                input: "\(user)\\00localhost\\00userPassword\n\(password)\n")
            return try await waitForLogin(user: user, password: password)
        }
        let path = URL(fileURLWithPath: dovecotConfig).deletingLastPathComponent().appendingPathComponent("auth/users").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let index = lines.firstIndex(where: { $0.hasPrefix("\(user):") }) else { throw DoveadmError(arguments: [path], message: "no user \(user)") }
        lines[index] = "\(user):{PLAIN}\(password)"
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        let previous = (attributes[.modificationDate] as? Date) ?? Date()
        try lines.joined(separator: "\n").write(toFile: path, atomically: false, encoding: .utf8)
        let next = max(previous, Date()).addingTimeInterval(2)
        try FileManager.default.setAttributes([.modificationDate: next], ofItemAtPath: path)
        try await waitForLogin(user: user, password: password)
    }

    private func waitForLogin(user: String, password: String) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while true {
            do {
                let connection = try await connect(IMAPCredentials(user: user, password: password))
                await connection.logout()
                return
            } catch {
                guard ContinuousClock.now < deadline else { throw error }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    public struct DoveadmError: Error, CustomStringConvertible {
        public var arguments: [String]
        public var message: String
        public var description: String { "doveadm \(arguments.joined(separator: " ")): \(message)" }
    }

    /// One message as doveadm sees it.
    public struct Seen: Hashable {
        public var uid: UInt32
        public var flags: Set<String>
        public var messageID: String
    }

    /// Every message of `mailbox` for `user`, by UID, as doveadm reads it from the mail store (on
    /// Cyrus: `cyrus-admin.py fetch`, the same rows by an admin session authorised as the user).
    public func look(_ mailbox: String, user: String? = nil) async throws -> [UInt32: Seen] {
        let user = user ?? users[0].name
        let text = kind == .cyrus
            ? try await cyrusAdmin(["fetch", user, mailbox])
            : try await TestBed.offCooperativeThreads { try doveadm(["-f", "tab", "fetch", "-u", user, "uid flags hdr.message-id", "mailbox", mailbox, "ALL"]) }
        var out: [UInt32: Seen] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 3, let uid = UInt32(fields[0]) else { continue }
            let flags = Set(fields[1].split(separator: " ").map { String($0).lowercased() })
            out[uid] = Seen(uid: uid, flags: flags, messageID: fields[2].trimmingCharacters(in: .whitespaces))
        }
        return out
    }

    /// UIDs in `mailbox` matching a doveadm search query (e.g. `["FLAGGED"]`; on Cyrus an IMAP SEARCH).
    public func search(_ mailbox: String, _ query: [String] = ["ALL"], user: String? = nil) async throws -> UIDSet {
        let user = user ?? users[0].name
        let text = kind == .cyrus
            ? try await cyrusAdmin(["search", user, mailbox] + query)
            : try await TestBed.offCooperativeThreads { try doveadm(["search", "-u", user, "mailbox", mailbox] + query) }
        return UIDSet(text.split(separator: "\n").compactMap { $0.split(separator: " ").last.flatMap { UInt32($0) } })
    }

    /// `doveadm mailbox status` fields for a mailbox (on Cyrus: the same STATUS items, as the user).
    public func status(_ mailbox: String, _ fields: String, user: String? = nil) async throws -> [String: String] {
        let user = user ?? users[0].name
        let text = kind == .cyrus
            ? try await cyrusAdmin(["status", user, mailbox] + fields.split(separator: " ").map(String.init))
            : try await TestBed.offCooperativeThreads { try doveadm(["-f", "tab", "mailbox", "status", "-u", user, fields, mailbox]) }
        let lines = text.split(separator: "\n")
        guard lines.count >= 2 else { return [:] }
        let keys = lines[0].split(separator: "\t").map(String.init)
        let values = lines[1].split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        return Dictionary(uniqueKeysWithValues: zip(keys, values))
    }

    /// Writes `count` messages straight into a Maildir folder (integration/maildir-fill.py); on Cyrus
    /// the same messages by MULTIAPPEND (`cyrus-admin.py fill`).
    public func fill(_ mailbox: String, count: Int, user: String? = nil) async throws {
        if kind == .cyrus {
            _ = try await cyrusAdmin(["fill", user ?? users[0].name, mailbox, "--count", String(count)])
            return
        }
        _ = try await writeMaildir("maildir-fill.py", mailbox, user: user, ["--count", String(count)])
        try await waitUntilCounted(mailbox, count, user: user)
    }

    /// Runs a Maildir writer of `integration/` (`maildir-fill.py`, a corpus script) for `mailbox`
    /// of `user` off the cooperative threads; returns what it printed.
    public func writeMaildir(_ script: String, _ mailbox: String, user: String? = nil, _ arguments: [String]) async throws -> String {
        guard kind == .dovecot else { throw DoveadmError(arguments: [script], message: "not a Dovecot test bed (no Maildir)") }
        let path = Self.integrationDirectory.appendingPathComponent(script).path
        let user = user ?? users[0].name
        let (status, output) = try await TestBed.offCooperativeThreads {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", path, "--mail-root", mailRoot, "--user", user, "--folder", mailbox, "--conf", dovecotConfig,
            ] + arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
        guard status == 0 else { throw DoveadmError(arguments: [script] + arguments, message: "failed") }
        return output
    }

    /// Waits until Dovecot counts `count` messages in `mailbox`. Dovecot may not see files renamed
    /// into cur/ within the same second as a scan it made meanwhile (another test listing folders):
    /// it trusts the directory's unchanged mtime, so the mtime is bumped past that second.
    public func waitUntilCounted(_ mailbox: String, _ count: Int, user: String? = nil) async throws {
        let cur = URL(fileURLWithPath: mailRoot).appendingPathComponent(user ?? users[0].name)
            .appendingPathComponent("Maildir").appendingPathComponent(mailbox).appendingPathComponent("cur").path
        for _ in 0..<20 {
            if try await status(mailbox, "messages", user: user)["messages"] == String(count) { return }
            try await Task.sleep(for: .milliseconds(1100))
            try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: cur)
        }
        throw DoveadmError(arguments: ["maildir"], message: "Dovecot does not count \(count) messages in \(mailbox)")
    }

    // MARK: Messages

    /// A small RFC 5322 message with CRLF line ends.
    public static func message(
        subject: String, messageID: String, date: String = "Mon, 01 Jan 2024 10:00:00 +0000",
        from: String = "Sender <sender@example.com>", to: String = "alice@example.com",
        inReplyTo: String? = nil, references: [String] = [], extraHeaders: [String] = [], body: String = "Hello.\r\n"
    ) -> [UInt8] {
        var headers = [
            "From: \(from)", "To: \(to)", "Subject: \(subject)", "Date: \(date)", "Message-ID: \(messageID)",
        ]
        if let inReplyTo { headers.append("In-Reply-To: \(inReplyTo)") }
        if !references.isEmpty { headers.append("References: " + references.joined(separator: " ")) }
        headers += extraHeaders
        return Array((headers.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
    }

    /// A multipart/mixed message with a base64 PDF attachment.
    public static func messageWithAttachment(subject: String, messageID: String) -> [UInt8] {
        let body = [
            "--b1", "Content-Type: text/plain; charset=utf-8", "", "See attached.", "",
            "--b1", "Content-Type: application/pdf; name=\"report.pdf\"", "Content-Transfer-Encoding: base64",
            "Content-Disposition: attachment; filename=\"report.pdf\"", "", "JVBERi0xLjQKJcOkw7zDtsOfCg==", "", "--b1--", "",
        ].joined(separator: "\r\n")
        return message(
            subject: subject, messageID: messageID,
            extraHeaders: ["MIME-Version: 1.0", "Content-Type: multipart/mixed; boundary=\"b1\""], body: body)
    }
}

extension TestBed {
    /// Runs blocking work (a child process and its wait) on a thread of its own, so that the
    /// test process's few cooperative threads — which also run the gateway under test — never
    /// stall while a large fill, a corpus write or a look takes seconds.
    public static func offCooperativeThreads<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
        }
    }
}
