import GatewayCore
import GatewayHTTP
import GatewayStorePostgres
import IMAPClient

/// Everything the gateway needs to run, read once at start (SPEC §5); the app hands each part
/// its own piece (``api``, ``engine``, the pool's and the server's settings).
public struct GatewayConfiguration: Sendable {
    /// How clients authenticate (SPEC §3 "Authentication").
    public typealias AuthMode = APIConfiguration.AuthMode
    /// Who may read `GET /metrics` (`metrics.access`).
    public typealias MetricsAccess = APIConfiguration.MetricsAccess

    /// A setting that cannot work, found before the gateway starts.
    public struct InvalidSetting: Error, Hashable, CustomStringConvertible {
        public var key: String
        public var reason: String
        public var description: String { "configuration \(key) (\(environmentVariable)): \(reason)" }

        /// The environment variable that sets the key.
        public var environmentVariable: String { Self.environmentVariable(forKey: key) }

        /// The environment variable that sets `key`, as ``GatewaySettings`` reads it (swift-configuration's
        /// encoding: `GATEWAY_`, then each part of the key upper-cased, a `_` at each camelCase
        /// boundary and between parts): `jobs.chunkSize` is `GATEWAY_JOBS_CHUNK_SIZE`.
        public static func environmentVariable(forKey key: String) -> String {
            let parts = ["gateway"] + key.split(separator: ".").map(String.init)
            return parts.map { part in
                var out = ""
                var previous: Character?
                for character in part {
                    if let previous, previous.isLowercase, character.isUppercase { out.append("_") }
                    out += character.isLetter || character.isNumber ? character.uppercased() : "_"
                    previous = character
                }
                return out
            }.joined(separator: "_")
        }

        public init(key: String, reason: String) {
            self.key = key
            self.reason = reason
        }
    }

    /// The shortest trusted key accepted (SPEC §3).
    public static let minimumTrustedKeyLength = 32

    public var httpHost = "127.0.0.1"
    public var httpPort = 8080
    public var imap: IMAPServerConfiguration
    public var pool = IMAPConnectionPool.Configuration()
    public var databasePath = "data/gateway.sqlite"
    /// A PostgreSQL URL (`database.url`): when set, all state lives there instead of the SQLite
    /// file, and several gateways may share it (SPEC §5).
    public var databaseURL: String?
    public var deleteToTrash = true
    public var asyncThreshold = 1000
    public var jobs = JobService.Configuration()
    /// UIDs per chunk of a job (`jobs.chunkSize`): one IMAP command each where the server offers SEARCHRES.
    public var jobChunkSize = 10_000
    /// Most mail IDs one batch request may name.
    public var maxItems = 100_000
    /// Most ranges one batch request may name.
    public var maxRanges = 100
    /// Largest `limit` of `GET /api/v1/mails`.
    public var maxListLimit = 1000
    /// Most messages one metadata `UID FETCH` of a listing asks about (`listing.metadataFetchBatch`).
    public var metadataFetchBatch = 5000
    /// How long listings and batches reuse a LIST of the account's folders (`listing.folderListSeconds`; 0: every request).
    public var folderListAge: Duration = .seconds(5)
    /// Largest request body, in octets.
    public var maxBodySize = 8 << 20
    public var authMode = AuthMode.password
    public var trustedKey: String?
    public var masterUser: String?
    public var masterPassword: String?
    public var sessionIdleTimeout: Duration = .seconds(1800)
    /// A session ends this long after login, however busy (`auth.sessionLifetime`).
    public var sessionLifetime: Duration = .seconds(43_200)
    /// Most sessions one account may hold; a new one ends the least recently used.
    public var maxSessionsPerAccount = 32
    /// Failed-login throttling per user name and per client address.
    public var loginThrottle = LoginThrottle.Configuration()
    public var metricsAccess = MetricsAccess.open
    public var metricsToken: String?
    public var serverVersion = "0.1.0"
    /// On SIGTERM, how long running jobs may take to reach their next chunk boundary
    /// (`shutdown.graceSeconds`); those still running then resume by the crash-safety rules.
    public var shutdownGrace: Duration = .seconds(25)
    /// See ``APIConfiguration/tracesRequests``: for a build that bootstraps a tracer.
    public var tracesRequests = false

    public init(imap: IMAPServerConfiguration) { self.imap = imap }

    /// The HTTP layer's part.
    public var api: APIConfiguration {
        var api = APIConfiguration()
        api.maxItems = maxItems
        api.maxRanges = maxRanges
        api.maxListLimit = maxListLimit
        api.maxBodySize = maxBodySize
        api.authMode = authMode
        api.trustedKey = trustedKey
        api.masterUser = masterUser
        api.masterPassword = masterPassword
        api.metricsAccess = metricsAccess
        api.metricsToken = metricsToken
        api.serverVersion = serverVersion
        api.tracesRequests = tracesRequests
        return api
    }

    /// The engine's part; jobs resume as the master user when one is configured.
    public var engine: MailboxEngine.Configuration {
        let master: (user: String, password: String)? = masterUser.flatMap { user in masterPassword.map { (user, $0) } }
        var jobs = self.jobs
        jobs.resumeGuard = imap.commandTimeout
        return MailboxEngine.Configuration(
            batch: MailBatchExecutor.Configuration(
                deleteToTrash: deleteToTrash, maxItems: maxItems, asyncThreshold: asyncThreshold, jobChunkSize: jobChunkSize),
            jobs: jobs, metadataFetchBatch: metadataFetchBatch, loginThrottle: loginThrottle, folderListAge: folderListAge,
            resumeCredentials: { account in
                master.map { AccountCredentials(user: account, masterUser: $0.user, masterPassword: $0.password) }
            })
    }

    /// Limits of sessions.
    public var sessionLimits: InMemorySessionStore.Limits {
        InMemorySessionStore.Limits(idleTimeout: sessionIdleTimeout, lifetime: sessionLifetime, maxPerAccount: maxSessionsPerAccount)
    }

    /// Every problem that would stop the gateway from working safely, as one error per key; the
    /// executable refuses to start on any (a careless value must never mean "anyone", or crash later).
    public func problems() -> [InvalidSetting] {
        var problems: [InvalidSetting] = []
        func require(_ ok: Bool, _ key: String, _ reason: String) {
            if !ok { problems.append(InvalidSetting(key: key, reason: reason)) }
        }
        func seconds(_ duration: Duration) -> Int64 { duration.components.seconds }
        func range<T: Comparable>(_ value: T, _ bounds: ClosedRange<T>, _ key: String, _ unit: String = "") {
            require(bounds.contains(value), key, "must be \(bounds.lowerBound)-\(bounds.upperBound)\(unit) (got \(value))")
        }
        let day: Int64 = 86_400
        let year: Int64 = 365 * day
        range(httpPort, 0...65_535, "http.port")
        require(!httpHost.isEmpty, "http.host", "must not be empty")
        range(imap.port, 1...65_535, "imap.port")
        require(!imap.host.isEmpty, "imap.host", "must not be empty")
        range(imap.maxCommandLineLength, 1024...(1 << 20), "imap.maxLineLength", " octets")
        range(seconds(imap.commandTimeout), 1...day, "imap.commandTimeoutSeconds", " s")
        range(pool.maxConnectionsPerAccount, 1...1000, "imap.pool.maxPerAccount")
        range(pool.maxConnectionsTotal, 1...100_000, "imap.pool.maxTotal")
        require(pool.maxConnectionsTotal >= pool.maxConnectionsPerAccount, "imap.pool.maxTotal", "must be at least imap.pool.maxPerAccount")
        range(pool.maxConcurrentLogins, 1...10_000, "imap.pool.maxConcurrentLogins")
        range(seconds(pool.verifyInterval), 1...day, "auth.verifySeconds", " s")
        require(!databasePath.isEmpty, "database.path", "must not be empty")
        if let databaseURL {
            do {
                _ = try PostgresStore.clientConfiguration(url: databaseURL)
            } catch {
                problems.append(InvalidSetting(key: "database.url", reason: "\(error)"))
            }
        }
        range(seconds(jobs.lease), 2...3600, "jobs.leaseSeconds", " s")
        range(asyncThreshold, 1...10_000_000, "batch.asyncThreshold")
        range(maxItems, 1...10_000_000, "batch.maxItems")
        range(maxRanges, 1...100_000, "batch.maxRanges")
        range(jobChunkSize, 1...1_000_000, "jobs.chunkSize")
        range(jobs.maxConcurrentJobs, 1...1000, "jobs.maxConcurrent")
        range(jobs.maxJobsPerAccount, 1...1000, "jobs.maxPerAccount")
        range(seconds(jobs.retention), 0...year, "jobs.retentionSeconds", " s")
        range(maxListLimit, 1...100_000, "listing.maxLimit")
        range(metadataFetchBatch, 1...1_000_000, "listing.metadataFetchBatch")
        range(seconds(folderListAge), 0...3600, "listing.folderListSeconds", " s")
        range(maxBodySize, 1024...(1 << 30), "http.maxBodySize", " octets")
        range(seconds(sessionIdleTimeout), 1...year, "auth.sessionIdleTimeout", " s")
        range(seconds(sessionLifetime), 1...year, "auth.sessionLifetime", " s")
        range(maxSessionsPerAccount, 1...10_000, "auth.maxSessionsPerAccount")
        for (name, limit) in [("perUser", loginThrottle.perUser), ("perAddress", loginThrottle.perAddress)] {
            range(limit.burst, 1...1_000_000, "auth.throttle.\(name)Burst")
            range(seconds(limit.refill), 1...day, "auth.throttle.\(name)RefillSeconds", " s")
        }
        range(seconds(shutdownGrace), 0...3600, "shutdown.graceSeconds", " s")
        if authMode == .trusted {
            let keyLength = trustedKey?.count ?? 0
            require(
                keyLength >= Self.minimumTrustedKeyLength, "auth.trustedKey",
                "trusted mode needs a secret of at least \(Self.minimumTrustedKeyLength) characters (got \(keyLength))")
            require(!(masterUser ?? "").isEmpty, "auth.masterUser", "trusted mode needs the master user")
            require(!(masterPassword ?? "").isEmpty, "auth.masterPassword", "trusted mode needs the master user's password")
        }
        if metricsAccess == .token {
            require((metricsToken ?? "").count >= 16, "metrics.token", "metrics.access = token needs a token of at least 16 characters")
        }
        return problems
    }
}
