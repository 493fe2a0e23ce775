import Configuration
import GatewayCore
import GatewayHTTP
import IMAPClient
import Logging
import NIOSSL
import SystemPackage

/// Reads the configuration once at start, for the executable: `GATEWAY_*` environment variables
/// over the file over defaults (SPEC §5). `batch.asyncThreshold` is `GATEWAY_BATCH_ASYNC_THRESHOLD`, and so on.
public struct GatewaySettings: Sendable {
    public var gateway: GatewayConfiguration
    public var logLevel: Logger.Level
    public var logFormat: LogFormat

    /// `log.format`: swift-log's text lines, or JSON lines (``JSONLogHandler``) for log shippers.
    public enum LogFormat: String, Sendable {
        case text, json
    }

    /// The gateway's logger, as `log.level` and `log.format` say. Each line logged for an HTTP
    /// request carries its `requestId` (``RequestMetadata``).
    public func makeLogger() -> Logger {
        var logger =
            switch logFormat {
            case .text: Logger(label: "mailbox-gateway", metadataProvider: RequestMetadata.loggerMetadata)
            case .json:
                Logger(label: "mailbox-gateway") { JSONLogHandler(label: $0, metadataProvider: RequestMetadata.loggerMetadata) }
            }
        logger.logLevel = logLevel
        return logger
    }

    public typealias InvalidSetting = GatewayConfiguration.InvalidSetting

    /// Reads the settings once: `overrides` (configuration keys from command-line flags, e.g.
    /// `http.port`), then the `GATEWAY_*` environment, then `file`, then the defaults.
    public static func load(file: String, overrides: [String: String] = [:]) async throws -> GatewaySettings {
        let flags = EnvironmentVariablesProvider(
            environmentVariables: Dictionary(
                uniqueKeysWithValues: overrides.map { (InvalidSetting.environmentVariable(forKey: $0.key), $0.value) }))
        let environment = environmentProvider(EnvironmentVariablesProvider())
        var providers: [any ConfigProvider] = [environmentProvider(flags), environment]
        if file.hasSuffix(".json") {
            providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file), allowMissing: true))
        } else {
            providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(file), allowMissing: true))
        }
        return try make(ConfigReader(providers: providers))
    }

    /// `GATEWAY_*` variables as configuration keys: `GATEWAY_JOBS_CHUNK_SIZE` is `jobs.chunkSize`.
    public static func environmentProvider(_ variables: EnvironmentVariablesProvider) -> some ConfigProvider {
        KeyMappingProvider(upstream: variables) { key in key.prepending(["gateway"]) }
    }

    public static func make(_ reader: ConfigReader) throws -> GatewaySettings {
        guard let tls = IMAPServerConfiguration.TLSMode(rawValue: reader.string(forKey: "imap.tls", default: "none")) else {
            throw InvalidSetting(key: "imap.tls", reason: "must be none, starttls or tls")
        }
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        if let caFile = reader.string(forKey: "imap.caFile") { tlsConfiguration.trustRoots = .file(caFile) }
        let imap = IMAPServerConfiguration(
            host: reader.string(forKey: "imap.host", default: "127.0.0.1"),
            port: reader.int(forKey: "imap.port", default: tls == .tls ? 993 : 143),
            tlsMode: tls, tlsConfiguration: tlsConfiguration,
            serverHostname: reader.string(forKey: "imap.serverHostname"),
            commandTimeout: .seconds(reader.int(forKey: "imap.commandTimeoutSeconds", default: 120)),
            maxCommandLineLength: reader.int(forKey: "imap.maxLineLength", default: 8192))
        var gateway = GatewayConfiguration(imap: imap)
        gateway.httpHost = reader.string(forKey: "http.host", default: gateway.httpHost)
        gateway.httpPort = reader.int(forKey: "http.port", default: gateway.httpPort)
        gateway.maxBodySize = reader.int(forKey: "http.maxBodySize", default: gateway.maxBodySize)
        gateway.databasePath = reader.string(forKey: "database.path", default: gateway.databasePath)
        gateway.databaseURL = reader.string(forKey: "database.url", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        gateway.jobs.lease = .seconds(reader.int(forKey: "jobs.leaseSeconds", default: 30))
        gateway.asyncThreshold = reader.int(forKey: "batch.asyncThreshold", default: gateway.asyncThreshold)
        gateway.jobChunkSize = reader.int(forKey: "jobs.chunkSize", default: gateway.jobChunkSize)
        gateway.jobs.maxConcurrentJobs = reader.int(forKey: "jobs.maxConcurrent", default: gateway.jobs.maxConcurrentJobs)
        gateway.jobs.maxJobsPerAccount = reader.int(forKey: "jobs.maxPerAccount", default: gateway.jobs.maxJobsPerAccount)
        gateway.jobs.retention = .seconds(reader.int(forKey: "jobs.retentionSeconds", default: 86_400))
        gateway.deleteToTrash = reader.bool(forKey: "batch.deleteToTrash", default: gateway.deleteToTrash)
        gateway.maxItems = reader.int(forKey: "batch.maxItems", default: gateway.maxItems)
        gateway.maxRanges = reader.int(forKey: "batch.maxRanges", default: gateway.maxRanges)
        gateway.maxListLimit = reader.int(forKey: "listing.maxLimit", default: gateway.maxListLimit)
        gateway.metadataFetchBatch = reader.int(forKey: "listing.metadataFetchBatch", default: gateway.metadataFetchBatch)
        gateway.folderListAge = .seconds(reader.int(forKey: "listing.folderListSeconds", default: 5))
        gateway.pool.maxConnectionsPerAccount = reader.int(forKey: "imap.pool.maxPerAccount", default: gateway.pool.maxConnectionsPerAccount)
        gateway.pool.maxConnectionsTotal = reader.int(forKey: "imap.pool.maxTotal", default: gateway.pool.maxConnectionsTotal)
        guard let mode = GatewayConfiguration.AuthMode(rawValue: reader.string(forKey: "auth.mode", default: "password")) else {
            throw InvalidSetting(key: "auth.mode", reason: "must be password or trusted")
        }
        gateway.authMode = mode
        gateway.trustedKey = reader.string(forKey: "auth.trustedKey", isSecret: true)
        gateway.masterUser = reader.string(forKey: "auth.masterUser")
        gateway.masterPassword = reader.string(forKey: "auth.masterPassword", isSecret: true)
        gateway.sessionIdleTimeout = .seconds(reader.int(forKey: "auth.sessionIdleTimeout", default: 1800))
        gateway.sessionLifetime = .seconds(reader.int(forKey: "auth.sessionLifetime", default: 43_200))
        gateway.maxSessionsPerAccount = reader.int(forKey: "auth.maxSessionsPerAccount", default: gateway.maxSessionsPerAccount)
        gateway.pool.verifyInterval = .seconds(reader.int(forKey: "auth.verifySeconds", default: 60))
        gateway.pool.maxConcurrentLogins = reader.int(forKey: "imap.pool.maxConcurrentLogins", default: gateway.pool.maxConcurrentLogins)
        let throttle = gateway.loginThrottle
        gateway.loginThrottle.perUser = .init(
            burst: reader.int(forKey: "auth.throttle.perUserBurst", default: throttle.perUser.burst),
            refill: .seconds(reader.int(forKey: "auth.throttle.perUserRefillSeconds", default: Int(throttle.perUser.refill.components.seconds))))
        gateway.loginThrottle.perAddress = .init(
            burst: reader.int(forKey: "auth.throttle.perAddressBurst", default: throttle.perAddress.burst),
            refill: .seconds(
                reader.int(forKey: "auth.throttle.perAddressRefillSeconds", default: Int(throttle.perAddress.refill.components.seconds))))
        guard let metricsAccess = GatewayConfiguration.MetricsAccess(rawValue: reader.string(forKey: "metrics.access", default: "open")) else {
            throw InvalidSetting(key: "metrics.access", reason: "must be open, token or off")
        }
        gateway.metricsAccess = metricsAccess
        gateway.metricsToken = reader.string(forKey: "metrics.token", isSecret: true)
        gateway.shutdownGrace = .seconds(reader.int(forKey: "shutdown.graceSeconds", default: 25))
        guard let level = Logger.Level(rawValue: reader.string(forKey: "log.level", default: "info")) else {
            throw InvalidSetting(key: "log.level", reason: "must be trace, debug, info, notice, warning, error or critical")
        }
        guard let format = LogFormat(rawValue: reader.string(forKey: "log.format", default: "text")) else {
            throw InvalidSetting(key: "log.format", reason: "must be text or json")
        }
        return GatewaySettings(gateway: gateway, logLevel: level, logFormat: format)
    }
}
