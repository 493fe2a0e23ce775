import ArgumentParser
import Foundation
import GatewayApp

#if canImport(Glibc)
import Glibc
#endif

/// `mailbox-gateway`: the gateway's command line.
@main
struct MailboxGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mailbox-gateway",
        abstract: "Mailbox API batch operations over an existing IMAP server.",
        discussion: """
            Settings come from, first to last: each command's flags (see its --help), GATEWAY_* \
            environment variables (GATEWAY_HTTP_PORT sets http.port), the configuration file, \
            the defaults. Every key is in config/gateway.yaml and the README.
            """,
        subcommands: [Serve.self, Check.self, Jobs.self],
        defaultSubcommand: Serve.self)
}

/// The settings flags every command takes: the file and the keys people change most.
struct SettingsOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (YAML, or JSON when it ends in .json); a missing file is no error.")
    var config = "config/gateway.yaml"

    @Option(name: .customLong("http-host"), help: "Address to listen on (http.host, default 127.0.0.1).")
    var httpHost: String?
    @Option(name: .customLong("http-port"), help: "Port to listen on (http.port, default 8080).")
    var httpPort: Int?
    @Option(name: .customLong("imap-host"), help: "IMAP server (imap.host, default 127.0.0.1).")
    var imapHost: String?
    @Option(name: .customLong("imap-port"), help: "IMAP port (imap.port, default 143, or 993 with --imap-tls tls).")
    var imapPort: Int?
    @Option(name: .customLong("imap-tls"), help: "none, starttls or tls (imap.tls, default none).")
    var imapTLS: String?
    @Option(name: .customLong("database-path"), help: "SQLite file (database.path, default data/gateway.sqlite).")
    var databasePath: String?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (log.level).")
    var logLevel: String?
    @Option(name: .customLong("log-format"), help: "text or json: one JSON object per line (log.format).")
    var logFormat: String?

    /// The flags given, as configuration keys.
    var overrides: [String: String] {
        let given: [(String, String?)] = [
            ("http.host", httpHost), ("http.port", httpPort.map(String.init)), ("imap.host", imapHost),
            ("imap.port", imapPort.map(String.init)), ("imap.tls", imapTLS), ("database.path", databasePath),
            ("log.level", logLevel), ("log.format", logFormat),
        ]
        return Dictionary(uniqueKeysWithValues: given.compactMap { key, value in value.map { (key, $0) } })
    }

    func load() async throws -> GatewaySettings {
        try await GatewaySettings.load(file: config, overrides: overrides)
    }
}

/// `mailbox-gateway serve`: reads the configuration once and runs the HTTP server until SIGTERM/SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the HTTP server (the default command).",
        discussion: """
            Refuses to start on any invalid setting, naming its key and environment variable. \
            On SIGTERM or SIGINT it stops accepting connections, finishes the requests in flight, \
            lets running jobs finish their current chunk (they resume on the next start; at most \
            shutdown.graceSeconds), logs out of the IMAP server and exits 0.
            """)

    @OptionGroup var settings: SettingsOptions

    func run() async throws {
        Self.limitMallocArenas()
        let settings = try await settings.load()
        try await GatewayApp.run(configuration: settings.gateway, logger: settings.makeLogger())
    }

    /// At most two glibc malloc arenas, unless `MALLOC_ARENA_MAX` says otherwise. glibc gives each
    /// thread that allocates under contention an arena of its own and keeps freed memory in it:
    /// 32 clients updating at once took the gateway from 44 MB to 214-219 MB resident, which two
    /// arenas kept at 43 MB at the same throughput (benchmarks/run.sh performance, 30 Nov 2026).
    /// Set before the server starts its threads.
    static func limitMallocArenas() {
        #if canImport(Glibc)
        // `mallopt` is declared in <malloc.h>, which the Glibc module does not include: looked up by
        // name instead of adding a C module for one call. M_ARENA_MAX is -8 in glibc's malloc.h.
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard getenv("MALLOC_ARENA_MAX") == nil, let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        _ = mallopt(-8, 2)
        #endif
    }
}

/// `mailbox-gateway check`: is this configuration good to run?
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the configuration, the IMAP server and the database, then exit.",
        discussion: """
            Reads the settings as serve would, connects to the IMAP server, and opens the \
            database (creating or migrating it). Prints the server's capabilities and, for each \
            one the gateway uses, what it does when the server lacks it. Changes nothing on the \
            server. Exits 0 when the gateway can run, 1 otherwise. Servers such as Dovecot \
            announce most capabilities only after login: give --user (and the password on \
            standard input with --password-stdin) to see those; with auth.masterUser set, the \
            master user logs in instead.
            """)

    @OptionGroup var settings: SettingsOptions

    @Option(name: .long, help: "An account to log in as, to see the capabilities offered after login.")
    var user: String?

    @Flag(name: .customLong("password-stdin"), help: "Read that account's password from the first line of standard input.")
    var passwordFromStandardInput = false

    func validate() throws {
        if passwordFromStandardInput != (user != nil) {
            throw ValidationError("--user and --password-stdin go together")
        }
    }

    func run() async throws {
        let settings = try await settings.load()
        var login: (user: String, password: String)?
        if let user {
            guard let password = readLine(strippingNewline: true) else { throw ValidationError("no password on standard input") }
            login = (user, password)
        }
        let ok = await ServerCheck.run(configuration: settings.gateway, login: login) { print($0) }
        if !ok { throw ExitCode.failure }
    }
}

/// `mailbox-gateway jobs …`: the job table, for operators.
struct Jobs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List, show or cancel asynchronous batch jobs.",
        discussion: "Reads the gateway's database (database.path); a running gateway may keep using it.",
        subcommands: [List.self, Show.self, Cancel.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")

        @OptionGroup var settings: SettingsOptions
        @Option(help: "Only this account's jobs.") var account: String?
        @Option(help: "Only jobs in this state: inProgress or completed.") var state: String?
        @Option(help: "At most this many jobs.") var limit = 50
        @Flag(help: "JSON instead of a table.") var json = false

        func validate() throws {
            guard (1...100_000).contains(limit) else { throw ValidationError("--limit must be 1-100000") }
        }

        func run() async throws {
            let settings = try await settings.load()
            print(try await JobsAdmin.list(configuration: settings.gateway, account: account, state: state, limit: limit, json: json))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one job: progress, chunks and failed items.")

        @OptionGroup var settings: SettingsOptions
        @Argument(help: "The job's key (jobKey in the API).") var key: String
        @Flag(help: "JSON instead of text.") var json = false

        func run() async throws {
            let settings = try await settings.load()
            guard let text = try await JobsAdmin.show(configuration: settings.gateway, key: key, json: json) else {
                printError("no job \(key)")
                throw ExitCode.failure
            }
            print(text)
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel an unfinished job.",
            discussion: """
                The gateway running the job stops it at its next chunk boundary (or, when none \
                runs it, at its next start) and reports the items not done in failedItems; items \
                already done stay done.
                """)

        @OptionGroup var settings: SettingsOptions
        @Argument(help: "The job's key (jobKey in the API).") var key: String

        func run() async throws {
            let settings = try await settings.load()
            guard try await JobsAdmin.cancel(configuration: settings.gateway, key: key) else {
                printError("no unfinished job \(key)")
                throw ExitCode.failure
            }
            print("cancel requested for \(key): it stops at its next chunk boundary")
        }
    }
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
