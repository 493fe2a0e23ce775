import Configuration
import Foundation
import GatewayApp
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IMAPClient
import Logging
import Testing

/// Careless configuration stops the gateway at start with a clear message (issue 13, findings 2 and 14).
/// Pure: no Dovecot needed.
struct ConfigurationValidationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var key: String
        var change: @Sendable (inout GatewayConfiguration) -> Void
        var testDescription: String { name }
    }

    static func base() -> GatewayConfiguration {
        GatewayConfiguration(imap: IMAPServerConfiguration(host: "127.0.0.1", port: 10143))
    }

    static let trusted: @Sendable (inout GatewayConfiguration) -> Void = {
        $0.authMode = .trusted
        $0.masterUser = "gateway-master"
        $0.masterPassword = "master-secret"
    }

    static let cases: [Case] = [
        Case(name: "empty trusted key", key: "auth.trustedKey") {
            trusted(&$0)
            $0.trustedKey = ""
        },
        Case(name: "missing trusted key", key: "auth.trustedKey") {
            trusted(&$0)
            $0.trustedKey = nil
        },
        Case(name: "31-character trusted key", key: "auth.trustedKey") {
            trusted(&$0)
            $0.trustedKey = String(repeating: "k", count: 31)
        },
        Case(name: "trusted mode without master user", key: "auth.masterUser") {
            trusted(&$0)
            $0.trustedKey = String(repeating: "k", count: 32)
            $0.masterUser = ""
        },
        Case(name: "job chunk size 0", key: "jobs.chunkSize") { $0.jobChunkSize = 0 },
        Case(name: "negative job chunk size", key: "jobs.chunkSize") { $0.jobChunkSize = -5 },
        Case(name: "negative async threshold", key: "batch.asyncThreshold") { $0.asyncThreshold = -1 },
        Case(name: "zero max items", key: "batch.maxItems") { $0.maxItems = 0 },
        Case(name: "negative max ranges", key: "batch.maxRanges") { $0.maxRanges = -1 },
        Case(name: "zero listing limit", key: "listing.maxLimit") { $0.maxListLimit = 0 },
        Case(name: "zero concurrent jobs", key: "jobs.maxConcurrent") { $0.jobs.maxConcurrentJobs = 0 },
        Case(name: "zero jobs per account", key: "jobs.maxPerAccount") { $0.jobs.maxJobsPerAccount = 0 },
        Case(name: "negative retention", key: "jobs.retentionSeconds") { $0.jobs.retention = .seconds(-1) },
        Case(name: "zero connections per account", key: "imap.pool.maxPerAccount") { $0.pool.maxConnectionsPerAccount = 0 },
        Case(name: "total below per account", key: "imap.pool.maxTotal") { $0.pool.maxConnectionsTotal = 2 },
        Case(name: "zero concurrent logins", key: "imap.pool.maxConcurrentLogins") { $0.pool.maxConcurrentLogins = 0 },
        Case(name: "zero verify interval", key: "auth.verifySeconds") { $0.pool.verifyInterval = .zero },
        Case(name: "tiny line limit", key: "imap.maxLineLength") { $0.imap.maxCommandLineLength = 10 },
        Case(name: "port out of range", key: "http.port") { $0.httpPort = 70_000 },
        Case(name: "negative body size", key: "http.maxBodySize") { $0.maxBodySize = -1 },
        Case(name: "zero session idle time", key: "auth.sessionIdleTimeout") { $0.sessionIdleTimeout = .zero },
        Case(name: "negative folder list age", key: "listing.folderListSeconds") { $0.folderListAge = .seconds(-1) },
        Case(name: "negative session lifetime", key: "auth.sessionLifetime") { $0.sessionLifetime = .seconds(-1) },
        Case(name: "zero sessions per account", key: "auth.maxSessionsPerAccount") { $0.maxSessionsPerAccount = 0 },
        Case(name: "zero throttle burst", key: "auth.throttle.perUserBurst") { $0.loginThrottle.perUser.burst = 0 },
        Case(name: "metrics token mode without token", key: "metrics.token") { $0.metricsAccess = .token },
        Case(name: "one-second job lease", key: "jobs.leaseSeconds") { $0.jobs.lease = .seconds(1) },
        Case(name: "database URL of another scheme", key: "database.url") { $0.databaseURL = "mysql://gateway@db/gateway" },
        Case(name: "database URL without a host", key: "database.url") { $0.databaseURL = "postgres:///gateway" },
        Case(name: "database URL with a bad port", key: "database.url") { $0.databaseURL = "postgres://gateway:s3cret@db:99999/gateway" },
    ]

    /// A refused database URL is named, its password never.
    @Test func aRefusedDatabaseURLKeepsItsPasswordOut() throws {
        var configuration = Self.base()
        configuration.databaseURL = "postgres://gateway:s3cret-pw@db:notaport/gateway"
        let problem = try #require(configuration.problems().first { $0.key == "database.url" })
        #expect(!problem.description.contains("s3cret-pw"), "\(problem)")
    }

    @Test(arguments: cases)
    func refusedAtStart(_ testCase: Case) throws {
        var configuration = Self.base()
        testCase.change(&configuration)
        let keys = configuration.problems().map(\.key)
        #expect(keys.contains(testCase.key), "problems: \(keys)")
        #expect(throws: GatewayApp.ConfigurationRejected.self) {
            _ = try GatewayApp.build(configuration: configuration, logger: Logger(label: "test"))
        }
    }

    /// Each refusal names the environment variable that sets its key, and that variable really
    /// sets it: read back through the settings' own environment provider, -1 is refused as that key.
    @Test(arguments: cases.filter { !["auth.trustedKey", "auth.masterUser", "metrics.token"].contains($0.key) })
    func refusalsNameTheEnvironmentVariableThatSetsTheKey(_ testCase: Case) throws {
        var configuration = Self.base()
        testCase.change(&configuration)
        let problem = try #require(configuration.problems().first { $0.key == testCase.key })
        #expect(problem.description.contains("(\(problem.environmentVariable)):"), "\(problem)")
        #expect(problem.environmentVariable.hasPrefix("GATEWAY_"))
        let environment = EnvironmentVariablesProvider(environmentVariables: [problem.environmentVariable: "-1"])
        let settings = try GatewaySettings.make(ConfigReader(providers: [GatewaySettings.environmentProvider(environment)]))
        let keys = settings.gateway.problems().map(\.key)
        #expect(keys.contains(testCase.key), "\(problem.environmentVariable)=-1 gave \(keys)")
    }

    @Test func environmentVariableNames() {
        let table = [
            ("jobs.chunkSize", "GATEWAY_JOBS_CHUNK_SIZE"), ("imap.pool.maxPerAccount", "GATEWAY_IMAP_POOL_MAX_PER_ACCOUNT"),
            ("http.port", "GATEWAY_HTTP_PORT"), ("auth.throttle.perUserBurst", "GATEWAY_AUTH_THROTTLE_PER_USER_BURST"),
        ]
        for (key, variable) in table {
            #expect(GatewayConfiguration.InvalidSetting(key: key, reason: "").environmentVariable == variable)
        }
    }

    @Test func defaultsAndAGoodTrustedSetupPass() {
        #expect(Self.base().problems().isEmpty)
        var configuration = Self.base()
        Self.trusted(&configuration)
        configuration.trustedKey = String(repeating: "k", count: 32)
        #expect(configuration.problems().isEmpty)
    }
}

/// `/metrics` is open by default, can require a bearer token, or be turned off (issue 13, finding 14).
struct MetricsAccessTests {
    static func app(_ change: (inout GatewayConfiguration) -> Void) throws -> some ApplicationProtocol {
        var configuration = ConfigurationValidationTests.base()
        configuration.databasePath = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).sqlite").path
        change(&configuration)
        return try GatewayApp.build(configuration: configuration, logger: Logger(label: "test"))
    }

    @Test func openByDefault() async throws {
        try await Self.app { _ in }.test(.router) { (client: any TestClientProtocol) async throws in
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .ok)
        }
    }

    @Test func tokenModeNeedsTheBearerToken() async throws {
        let token = "metrics-token-0123456789"
        try await Self.app {
            $0.metricsAccess = .token
            $0.metricsToken = token
        }.test(.router) { (client: any TestClientProtocol) async throws in
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .unauthorized)
            #expect(try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer wrong"]).status == .unauthorized)
            #expect(try await client.execute(uri: "/metrics", method: .get, headers: [.authorization: "Bearer \(token)"]).status == .ok)
        }
    }

    @Test func offRemovesTheEndpoint() async throws {
        try await Self.app { $0.metricsAccess = .off }.test(.router) { (client: any TestClientProtocol) async throws in
            #expect(try await client.execute(uri: "/metrics", method: .get).status == .notFound)
        }
    }
}

/// Control characters in Basic credentials are wrong credentials (401 with a challenge), refused
/// before anything reaches the IMAP server (issue 13, finding 14: they were 502). No Dovecot needed:
/// the configured server is never asked.
struct BasicCredentialTests {
    static let cases: [(String, String)] = [
        ("CR LF in the user name", "alice\r\nA1 LOGOUT:secret"),
        ("LF in the password", "alice:sec\nret"),
        ("NUL in the password", "alice:sec\u{0}ret"),
        ("TAB in the user name", "ali\tce:secret"),
        ("empty user", ":secret"),
        ("empty password", "alice:"),
    ]

    @Test(arguments: cases)
    func controlCharactersAreUnauthorized(_ testCase: (String, String)) async throws {
        let app = try MetricsAccessTests.app { $0.imap.port = 1 }
        try await app.test(.router) { (client: any TestClientProtocol) async throws in
            let header = "Basic " + Data(testCase.1.utf8).base64EncodedString()
            let response = try await client.execute(uri: "/api/v1/folders", method: .get, headers: [.authorization: header])
            #expect(response.status == .unauthorized, "\(testCase.0)")
            #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
        }
    }
}
