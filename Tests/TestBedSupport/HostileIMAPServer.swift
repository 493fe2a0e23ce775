import Foundation
import IMAPClient
import NIOSSL

/// `integration/hostile-imap.py` as a subprocess: a scripted IMAP server that is wrong on purpose
/// in the way its scenario names. It listens on 127.0.0.1 and logs every command line it receives.
public struct HostileIMAPServer {
    public let port: Int
    public let logFile: URL
    private let script: LoopbackScript

    /// Starts a server for `scenario`, runs `body`, and stops the server whatever happens.
    public static func run<T>(
        _ scenario: String, inboxSize: Int? = nil, _ body: (HostileIMAPServer) async throws -> T
    ) async throws -> T {
        let logFile = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-imap-\(UUID().uuidString).log")
        let script = try LoopbackScript(
            "hostile-imap.py",
            arguments: ["--scenario", scenario, "--port", "0", "--log", logFile.path] + (inboxSize.map { ["--inbox-size", "\($0)"] } ?? []))
        defer {
            script.stop()
            try? FileManager.default.removeItem(at: logFile)
        }
        return try await body(HostileIMAPServer(port: script.port, logFile: logFile, script: script))
    }

    /// Every command line the server received so far, in order.
    public var commandLog: [String] {
        ((try? String(contentsOf: logFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// Where the server is; certificates are not verified (its STARTTLS certificate is a throwaway).
    public func configuration(
        tls: IMAPServerConfiguration.TLSMode = .none, commandTimeout: Duration = .seconds(60),
        maxUntaggedResponsesPerCommand: Int = IMAPServerConfiguration.defaultMaxUntaggedResponsesPerCommand,
        maxUntaggedOctetsPerCommand: Int = IMAPServerConfiguration.defaultMaxUntaggedOctetsPerCommand
    ) -> IMAPServerConfiguration {
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        tlsConfiguration.certificateVerification = .none
        return IMAPServerConfiguration(
            host: "127.0.0.1", port: port, tlsMode: tls, tlsConfiguration: tlsConfiguration,
            connectTimeout: .seconds(10), commandTimeout: commandTimeout,
            maxUntaggedResponsesPerCommand: maxUntaggedResponsesPerCommand, maxUntaggedOctetsPerCommand: maxUntaggedOctetsPerCommand)
    }

    /// The credentials every scenario accepts.
    public static let credentials = IMAPCredentials(user: "mallory", password: "secret")
}
