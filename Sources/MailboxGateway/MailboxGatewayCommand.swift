import ArgumentParser
import GatewayHTTP
import Hummingbird
import IMAPClient
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
        logger.info(
            "starting",
            metadata: [
                "http": "\(settings.gateway.httpHost):\(settings.gateway.httpPort)",
                "imap": "\(settings.gateway.imap.host):\(settings.gateway.imap.port) (\(settings.gateway.imap.tlsMode.rawValue))",
                "database": "\(settings.gateway.databasePath)", "auth": "\(settings.gateway.authMode.rawValue)",
            ])
        let app = try GatewayApplication.build(configuration: settings.gateway, logger: logger)
        try await app.runService()
    }
}
