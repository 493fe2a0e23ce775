import GatewayCore
import GatewayHTTP
import GatewayStore
import Hummingbird
import IMAPClient
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// The one place that wires the gateway: it checks the configuration, opens the store, builds the
/// IMAP pool and its adapter, the engine over them, and the HTTP application, and runs the pool
/// and the job service as services of that application. The executable runs it; tests drive it.
public enum GatewayApp {
    /// Settings that cannot work (``GatewayConfiguration/problems()``), all of them in one error.
    public struct ConfigurationRejected: Error, CustomStringConvertible {
        public var problems: [GatewayConfiguration.InvalidSetting]
        public var description: String { problems.map(\.description).joined(separator: "; ") }
    }

    /// The application, ready to run (`runService()`) or to test. The engine's and the IMAP
    /// client's metrics go to `metrics` (a registry of its own by default), which `GET /metrics` renders.
    public static func build(
        configuration: GatewayConfiguration, logger: Logger, metrics: PrometheusMetrics = PrometheusMetrics()
    ) throws -> some ApplicationProtocol {
        let problems = configuration.problems()
        guard problems.isEmpty else { throw ConfigurationRejected(problems: problems) }
        let storage = try GatewayStorage.open(configuration, logger: logger)
        let store = storage.ports
        let pool = IMAPConnectionPool(
            server: configuration.imap, configuration: configuration.pool, metrics: IMAPMetrics(factory: metrics), logger: logger)
        let ports = MailboxEngine.Ports(
            mailServer: IMAPMailServer(pool: pool), folders: store, labels: store, listingCache: store, conversationCache: store,
            jobs: store, sessions: storage.sessions)
        let engine = MailboxEngine(ports: ports, configuration: configuration.engine, metricsFactory: metrics, logger: logger)
        let readiness = [
            ReadinessCheck(name: "imap") { try await pool.probe() },
            ReadinessCheck(name: "database") { try await storage.probeWrite() },
        ]
        let router = GatewayAPI.buildRouter(
            engine: engine, configuration: configuration.api, readiness: readiness,
            metrics: metrics.exposition(pool: pool, jobs: store))
        var application = Application(
            router: router,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: nil),
            // Services stop in reverse order: the HTTP server (added last by Hummingbird) first,
            // then the jobs, then the pool, and the store's client last (the jobs write to it).
            services: storage.services + [
                PoolService(pool: pool), JobsService(jobs: engine.jobs, storage: storage, grace: configuration.shutdownGrace, logger: logger),
            ],
            logger: logger)
        // No request before the store is ready (PostgreSQL's migrations, run once by whichever replica gets there first).
        application.beforeServerStarts { try await storage.prepare() }
        return application
    }

    /// Builds the application and runs it until SIGTERM or SIGINT. Once per process: it makes the
    /// process's metrics factory (`MetricsSystem`, which Hummingbird's request metrics use) the
    /// gateway's Prometheus registry.
    public static func run(configuration: GatewayConfiguration, logger: Logger) async throws {
        let metrics = PrometheusMetrics()
        MetricsSystem.bootstrap(metrics)
        logger.info(
            "starting",
            metadata: [
                "http": "\(configuration.httpHost):\(configuration.httpPort)",
                "imap": "\(configuration.imap.host):\(configuration.imap.port) (\(configuration.imap.tlsMode.rawValue))",
                "database": "\(configuration.databaseURL.map(GatewayStorage.redacted(url:)) ?? configuration.databasePath)", "auth": "\(configuration.authMode.rawValue)",
            ])
        try await build(configuration: configuration, logger: logger, metrics: metrics).runService()
    }
}

/// Resumes unfinished jobs at start and purges finished ones periodically. On graceful shutdown
/// (the HTTP server has stopped accepting and finished its requests by then: services stop in
/// reverse order) running jobs stop at their next chunk boundary, within `grace`.
struct JobsService: Service {
    let jobs: JobService
    let storage: GatewayStorage
    let grace: Duration
    let logger: Logger

    func run() async throws {
        try await storage.prepare()
        await cancelWhenGracefulShutdown { await jobs.run() }
        let left = await jobs.checkpoint(within: grace)
        if left > 0 {
            logger.warning("jobs still running at the end of the shutdown grace; they resume on the next start", metadata: ["jobs": "\(left)"])
        }
    }
}

/// Runs the IMAP pool's lifetime inside the service group: on shutdown, after the jobs have
/// stopped, it logs out every idle connection.
struct PoolService: Service {
    let pool: IMAPConnectionPool

    func run() async throws {
        try? await gracefulShutdown()
        await pool.shutdown()
    }
}
