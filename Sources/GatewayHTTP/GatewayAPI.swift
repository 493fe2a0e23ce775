import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging

/// The HTTP API over the engine: every route, the auth middleware, the one error mapping. The app
/// serves the router this builds; tests drive it in process with Hummingbird's test client.
public enum GatewayAPI {
    /// `readiness`: what `GET /readyz` asks (the app passes the IMAP server and the database);
    /// `metrics`: what `GET /metrics` answers.
    ///
    /// Middleware, outermost first: the request ID (so every answer and log line has one), a
    /// trace span per request (Hummingbird's `TracingMiddleware`, on the process's tracer, when
    /// ``APIConfiguration/tracesRequests``),
    /// request counts and latency by route, method and status (Hummingbird's `MetricsMiddleware`,
    /// on the process's metrics factory: it sees the status the error mapping chose), then the
    /// one error mapping.
    public static func buildRouter(
        engine: MailboxEngine, configuration: APIConfiguration, readiness: [ReadinessCheck], metrics: MetricsExposition
    ) -> Router<GatewayRequestContext> {
        let router = Router(context: GatewayRequestContext.self)
        router.add(middleware: RequestIDMiddleware())
        if configuration.tracesRequests { router.add(middleware: TracingMiddleware()) }
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorMiddleware())

        struct Version: Encodable {
            var apiVersion: String
            var serverVersion: String
        }
        struct Health: Encodable { var status: String }
        router.get("api") { _, _ in JSONResponse.make(Version(apiVersion: "v1", serverVersion: configuration.serverVersion)) }
        router.get("healthz") { _, _ in JSONResponse.make(Health(status: "ok")) }
        router.get("readyz") { _, _ in
            if let failures = await ReadinessCheck.failures(readiness, timeout: configuration.readinessTimeout) {
                throw GatewayError(.upstreamUnavailable, code: "notReady", message: "not ready: " + failures.joined(separator: "; "))
            }
            return JSONResponse.make(Health(status: "ready"))
        }
        if configuration.metricsAccess != .off {
            let token = configuration.metricsToken.map { Array("Bearer \($0)".utf8) }
            router.get("metrics") { request, _ in
                if configuration.metricsAccess == .token {
                    guard let token, let given = request.headers[.authorization],
                        AuthMiddleware.constantTimeEqual(Array(given.utf8), token)
                    else { throw GatewayError.unauthorized }
                }
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                    body: .init(byteBuffer: .init(bytes: await metrics.render())))
            }
        }
        let openAPI = OpenAPIDocument.load()
        router.get("api/v1/openapi.yaml") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: .init(byteBuffer: .init(bytes: openAPI)))
        }

        DocsController.load().add(to: router)

        let api = router.group("api/v1").add(
            middleware: AuthMiddleware(configuration: configuration, sessions: engine.sessions, authenticator: engine.authenticator))
        MailController(listing: engine.listing, configuration: configuration).add(to: api)
        ConversationController(listing: engine.conversations, configuration: configuration).add(to: api)
        BatchController(executor: engine.batches, conversations: engine.conversationBatches, jobs: engine.jobs, configuration: configuration)
            .add(to: api)
        AccountController(folders: engine.folders, labels: engine.labels, sessions: engine.sessions, configuration: configuration)
            .add(to: api)
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
