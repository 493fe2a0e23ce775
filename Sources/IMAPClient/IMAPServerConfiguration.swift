import NIOCore
import NIOSSL

/// Where and how to reach the upstream IMAP server.
public struct IMAPServerConfiguration: Sendable {
    /// How the connection is secured (SPEC §4 `imap.tls`).
    public enum TLSMode: String, Sendable, Hashable {
        /// Plain TCP (loopback or trusted networks only).
        case none
        /// Plain TCP upgraded with STARTTLS before login; refused if the server does not offer it.
        case startTLS = "starttls"
        /// TLS from the first byte (port 993).
        case tls
    }

    public var host: String
    public var port: Int
    public var tlsMode: TLSMode
    /// Certificates are verified by default; tests may add a trust root.
    public var tlsConfiguration: TLSConfiguration
    /// Name checked against the server certificate (and sent as SNI); defaults to `host`.
    public var serverHostname: String?
    public var connectTimeout: Duration
    /// Deadline for one command's answer. A command that times out closes its connection.
    public var commandTimeout: Duration
    /// No command line is longer than this (octets, CRLF included); UID sets are split to fit.
    /// RFC 7162 §4 recommends 8,192 to clients.
    public var maxCommandLineLength: Int
    /// Longest response line (literals excluded), e.g. a `* SEARCH` or `* SORT` answer for a large mailbox.
    public var maxResponseLineLength: Int
    /// Largest single literal (a message body, a header section).
    public var maxLiteralSize: Int
    /// Most untagged responses kept for one command (and while no command is in flight). A server
    /// that sends more fails the command with ``IMAPError/untaggedLimitExceeded(command:limit:)``
    /// and loses the connection, instead of making the client grow without end (SPEC §4).
    public var maxUntaggedResponsesPerCommand: Int
    /// Most octets of untagged responses (as received, literals included) kept for one command
    /// (and while no command is in flight); beyond it, as for ``maxUntaggedResponsesPerCommand``.
    public var maxUntaggedOctetsPerCommand: Int

    /// The default ``maxUntaggedResponsesPerCommand``: 500,000, five times the FETCH responses of a
    /// full sync of a 100,000-message folder (the largest batch is 100,000 messages too). Kept
    /// parsed, small responses take a few hundred octets each: about 200 MB at the limit.
    public static let defaultMaxUntaggedResponsesPerCommand = 500_000
    /// The default ``maxUntaggedOctetsPerCommand``: 256 MiB, over twice what a metadata sync of a
    /// 100,000-message folder takes (flags, BODYSTRUCTURE and a few header fields: about 1 KiB each).
    public static let defaultMaxUntaggedOctetsPerCommand = 256 << 20

    public init(
        host: String, port: Int = 143, tlsMode: TLSMode = .none,
        tlsConfiguration: TLSConfiguration = .makeClientConfiguration(), serverHostname: String? = nil,
        connectTimeout: Duration = .seconds(10), commandTimeout: Duration = .seconds(120),
        maxCommandLineLength: Int = 8192, maxResponseLineLength: Int = 32 << 20, maxLiteralSize: Int = 64 << 20,
        maxUntaggedResponsesPerCommand: Int = Self.defaultMaxUntaggedResponsesPerCommand,
        maxUntaggedOctetsPerCommand: Int = Self.defaultMaxUntaggedOctetsPerCommand
    ) {
        self.host = host
        self.port = port
        self.tlsMode = tlsMode
        self.tlsConfiguration = tlsConfiguration
        self.serverHostname = serverHostname
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.maxCommandLineLength = maxCommandLineLength
        self.maxResponseLineLength = maxResponseLineLength
        self.maxLiteralSize = maxLiteralSize
        self.maxUntaggedResponsesPerCommand = maxUntaggedResponsesPerCommand
        self.maxUntaggedOctetsPerCommand = maxUntaggedOctetsPerCommand
    }
}

/// How to log in: as the account itself, or as a master user on behalf of the account.
public struct IMAPCredentials: Hashable, Sendable, CustomStringConvertible {
    public enum Method: Hashable, Sendable {
        /// `LOGIN user password` (or SASL PLAIN when the server disables LOGIN).
        case login
        /// SASL PLAIN (RFC 4616), with SASL-IR where offered.
        case plain
    }

    /// The account acted on (`alice`).
    public var user: String
    /// Who authenticates: the user itself, or a master user (`gateway-master`) acting for `user`.
    public var authenticationIdentity: String
    public var password: String
    public var method: Method

    /// The account's own credentials.
    public init(user: String, password: String, method: Method = .login) {
        self.user = user
        self.authenticationIdentity = user
        self.password = password
        self.method = method
    }

    /// A master user logging in on behalf of `user` (SASL PLAIN with an authorization identity).
    public init(user: String, masterUser: String, masterPassword: String) {
        self.user = user
        self.authenticationIdentity = masterUser
        self.password = masterPassword
        self.method = .plain
    }

    public var isMasterLogin: Bool { authenticationIdentity != user }

    /// Never prints the password.
    public var description: String {
        isMasterLogin ? "\(user) (via \(authenticationIdentity))" : user
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
