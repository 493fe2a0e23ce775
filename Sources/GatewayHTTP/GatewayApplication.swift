import Foundation
import GatewayCore
import GatewayStore
import HTTPTypes
import Hummingbird
import IMAPClient
import Logging
import ServiceLifecycle

/// Wires the gateway: database, IMAP pool, batch engine and routes, as one Hummingbird application.
/// The executable runs it; tests drive it over real HTTP.
public enum GatewayApplication {
    /// Settings that cannot work (``GatewayConfiguration/problems()``), all of them in one error.
    public struct ConfigurationRejected: Error, CustomStringConvertible {
        public var problems: [GatewayConfiguration.InvalidSetting]
        public var description: String { problems.map(\.description).joined(separator: "; ") }
    }

    public static func build(configuration: GatewayConfiguration, logger: Logger) throws -> some ApplicationProtocol {
        let problems = configuration.problems()
        guard problems.isEmpty else { throw ConfigurationRejected(problems: problems) }
        let database = try GatewayDatabase(path: configuration.databasePath)
        let pool = IMAPConnectionPool(server: configuration.imap, configuration: configuration.pool, logger: logger)
        let executorConfiguration = MailBatchExecutor.Configuration(
            deleteToTrash: configuration.deleteToTrash, maxItems: configuration.maxItems,
            asyncThreshold: configuration.asyncThreshold, jobChunkSize: configuration.jobChunkSize)
        let master: (user: String, password: String)? = configuration.masterUser.flatMap { user in
            configuration.masterPassword.map { (user, $0) }
        }
        let jobs = JobService(
            database: database, pool: pool, executorConfiguration: executorConfiguration, configuration: configuration.jobs,
            resumeCredentials: { account in
                master.map { IMAPCredentials(user: account, masterUser: $0.user, masterPassword: $0.password) }
            },
            logger: logger)
        let router = buildRouter(
            configuration: configuration, executorConfiguration: executorConfiguration, database: database, pool: pool, jobs: jobs,
            logger: logger)
        return Application(
            router: router,
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: nil),
            services: [PoolService(pool: pool), JobsService(jobs: jobs)],
            logger: logger)
    }

    static func buildRouter(
        configuration: GatewayConfiguration, executorConfiguration: MailBatchExecutor.Configuration, database: GatewayDatabase,
        pool: IMAPConnectionPool, jobs: JobService, logger: Logger
    ) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        let metrics = GatewayMetrics()
        let ordering = MailOrdering(
            database: database, metrics: metrics, metadataFetchBatch: configuration.metadataFetchBatch, logger: logger)
        router.add(middleware: ErrorMiddleware())

        struct Version: Encodable {
            var apiVersion: String
            var serverVersion: String
        }
        struct Health: Encodable { var status: String }
        router.get("api") { _, _ in JSONResponse.make(Version(apiVersion: "v1", serverVersion: configuration.serverVersion)) }
        router.get("healthz") { _, _ in JSONResponse.make(Health(status: "ok")) }
        if configuration.metricsAccess != .off {
            let token = configuration.metricsToken.map { Array("Bearer \($0)".utf8) }
            router.get("metrics") { request, _ in
                if configuration.metricsAccess == .token {
                    guard let token, let given = request.headers[.authorization],
                        AuthMiddleware.constantTimeEqual(Array(given.utf8), token)
                    else { throw GatewayError.unauthorized }
                }
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                    body: .init(byteBuffer: .init(string: metrics.prometheusText())))
            }
        }
        let openAPI = OpenAPIDocument.load()
        router.get("api/v1/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: .init(bytes: openAPI)))
        }

        let sessions = SessionStore(
            limits: .init(
                idleTimeout: configuration.sessionIdleTimeout, lifetime: configuration.sessionLifetime,
                maxPerAccount: configuration.maxSessionsPerAccount))
        let throttle = SharedLoginThrottle(configuration: configuration.loginThrottle)
        let api = router.group("api/v1").add(
            middleware: AuthMiddleware(configuration: configuration, sessions: sessions, pool: pool, jobs: jobs, throttle: throttle))
        let executor = MailBatchExecutor(
            pool: pool, database: database, ordering: ordering, jobs: jobs, configuration: executorConfiguration, logger: logger)
        MailController(listing: MailListing(pool: pool, database: database, ordering: ordering), configuration: configuration)
            .add(to: api)
        BatchController(executor: executor, jobs: jobs, configuration: configuration).add(to: api)
        AccountController(
            pool: pool, database: database, labels: LabelService(pool: pool, database: database, logger: logger),
            sessions: sessions, configuration: configuration
        ).add(to: api)
        // After every route, so that it wraps only the not-found responder: 405 + Allow for known paths.
        router.add(middleware: MethodNotAllowedMiddleware<GatewayRequestContext>(routes: router.routes))
        return router
    }
}

/// The OpenAPI document shipped with the server (Resources/openapi.yaml).
enum OpenAPIDocument {
    static func load() -> [UInt8] {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml"),
            let data = try? Data(contentsOf: url)
        else { return Array("openapi: 3.1.0\n".utf8) }
        return Array(data)
    }
}

/// Resumes unfinished jobs at start and purges finished ones periodically.
struct JobsService: Service {
    let jobs: JobService

    func run() async throws {
        await cancelWhenGracefulShutdown { await jobs.run() }
    }
}

/// Runs the IMAP pool's lifetime inside the service group: on shutdown it logs out every idle connection.
struct PoolService: Service {
    let pool: IMAPConnectionPool

    func run() async throws {
        try? await gracefulShutdown()
        await pool.shutdown()
    }
}
