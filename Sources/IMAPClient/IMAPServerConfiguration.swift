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
    public var maxResponseLineLength: Int
    public var maxLiteralSize: Int

    public init(
        host: String, port: Int = 143, tlsMode: TLSMode = .none,
        tlsConfiguration: TLSConfiguration = .makeClientConfiguration(), serverHostname: String? = nil,
        connectTimeout: Duration = .seconds(10), commandTimeout: Duration = .seconds(120),
        maxCommandLineLength: Int = 8192, maxResponseLineLength: Int = 32 << 20, maxLiteralSize: Int = 64 << 20
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
