import GatewayCore
import IMAPClient

/// Everything the gateway needs to run, read once at start by the executable (SPEC §5).
public struct GatewayConfiguration: Sendable {
    /// How clients authenticate (SPEC §3 "Authentication").
    public enum AuthMode: String, Sendable {
        /// Basic auth with the IMAP account's own credentials, or a session from `POST /api/v1/login`.
        case password
        /// A trusted front sends `X-Mailbox-User` + `X-Gateway-Key`; the gateway logs in as the master user.
        case trusted
    }

    public var httpHost = "127.0.0.1"
    public var httpPort = 8080
    public var imap: IMAPServerConfiguration
    public var pool = IMAPConnectionPool.Configuration()
    public var databasePath = "data/gateway.sqlite"
    public var deleteToTrash = true
    public var asyncThreshold = 1000
    public var jobs = JobService.Configuration()
    /// UIDs per chunk of a job.
    public var jobChunkSize = 1000
    /// Most mail IDs one batch request may name.
    public var maxItems = 100_000
    /// Most ranges one batch request may name.
    public var maxRanges = 100
    /// Largest `limit` of `GET /api/v1/mails`.
    public var maxListLimit = 1000
    /// Largest request body, in octets.
    public var maxBodySize = 8 << 20
    public var authMode = AuthMode.password
    public var trustedKey: String?
    public var masterUser: String?
    public var masterPassword: String?
    public var sessionIdleTimeout: Duration = .seconds(1800)
    public var serverVersion = "0.1.0"

    public init(imap: IMAPServerConfiguration) { self.imap = imap }
}
