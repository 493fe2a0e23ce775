import ArgumentParser
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
        subcommands: [Serve.self],
        defaultSubcommand: Serve.self)
}

/// `mailbox-gateway serve`: reads the configuration once and runs the HTTP server until SIGTERM/SIGINT.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP server.")

    @Option(name: .long, help: "Configuration file (YAML or JSON); GATEWAY_* environment variables override it.")
    var config = "config/gateway.yaml"

    func run() async throws {
        Self.limitMallocArenas()
        let settings = try await GatewaySettings.load(file: config)
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
