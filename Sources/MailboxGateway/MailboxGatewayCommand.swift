import ArgumentParser
import GatewayApp
import Logging

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
        let settings = try await GatewaySettings.load(file: config)
        var logger = Logger(label: "mailbox-gateway")
        logger.logLevel = settings.logLevel
        try await GatewayApp.run(configuration: settings.gateway, logger: logger)
    }
}
