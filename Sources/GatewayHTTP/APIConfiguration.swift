/// What the HTTP layer needs to know, read once at start by the app (SPEC §5): limits of requests,
/// how clients authenticate, who may read the metrics.
public struct APIConfiguration: Sendable {
    /// How clients authenticate (SPEC §3 "Authentication").
    public enum AuthMode: String, Sendable {
        /// Basic auth with the IMAP account's own credentials, or a session from `POST /api/v1/login`.
        case password
        /// A trusted front sends `X-Mailbox-User` + `X-Gateway-Key`; the gateway logs in as the master user.
        case trusted
    }

    /// Who may read `GET /metrics` (`metrics.access`).
    public enum MetricsAccess: String, Sendable {
        /// Anyone who reaches the HTTP port: the counters name no account, and the port is
        /// loopback by default.
        case open
        /// Only callers sending `Authorization: Bearer <metrics.token>`.
        case token
        /// Not served at all.
        case off
    }

    /// How long `GET /readyz` waits for each of its checks.
    public var readinessTimeout: Duration = .seconds(5)
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
    public var metricsAccess = MetricsAccess.open
    public var metricsToken: String?
    public var serverVersion = "0.1.0"
    /// A server span per request (Hummingbird's `TracingMiddleware`), for a process that has a
    /// tracer bootstrapped. Off by default: none is (no exporter is built in), and the middleware
    /// alone, with the no-op tracer, cut 32 clients' throughput from about 1,840 to 1,170
    /// requests/s (benchmarks/run.sh performance, clients-32x8, 1 Dec 2026). The engine's and
    /// the IMAP commands' spans cost nothing measurable and are always made.
    public var tracesRequests = false

    public init() {}
}
