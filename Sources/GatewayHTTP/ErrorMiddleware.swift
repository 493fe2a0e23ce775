import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The one place where errors become responses: SPEC §3's JSON body with a fitting status.
/// Bad input never yields a 500, and no response ever carries a stack trace.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where Self.mapped(error) == nil {
            // Another status Hummingbird itself chose (e.g. 415): kept as it is, in the JSON body.
            return JSONResponse.error(code: "httpError", message: error.body ?? error.status.reasonPhrase, status: error.status)
        } catch {
            let gatewayError = Self.gatewayError(for: error)
            if HTTPStatus.of(gatewayError.kind).code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            }
            return JSONResponse.error(gatewayError)
        }
    }

    static func gatewayError(for error: any Error) -> GatewayError {
        if let error = GatewayError.from(error) { return error }
        switch error {
        case is NIOTooManyBytesError:
            return .tooLarge("payloadTooLarge", "the request body is larger than allowed")
        case let error as HTTPError:
            return mapped(error) ?? .internalError
        default:
            return .internalError
        }
    }

    /// Hummingbird's own errors that have a gateway meaning.
    static func mapped(_ error: HTTPError) -> GatewayError? {
        switch error.status {
        case .notFound: .notFound("notFound", "no such endpoint")
        case .methodNotAllowed: GatewayError(.methodNotAllowed, code: "methodNotAllowed", message: "method not allowed")
        case .contentTooLarge: .tooLarge("payloadTooLarge", "the request body is larger than allowed")
        default: nil
        }
    }
}

/// The one mapping of the engine's error kinds to HTTP statuses.
enum HTTPStatus {
    static func of(_ kind: GatewayError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .conflict: .conflict
        case .tooLarge: .contentTooLarge
        case .unprocessable: .unprocessableContent
        case .tooManyRequests: .tooManyRequests
        case .notImplemented: .notImplemented
        case .upstreamFailed: .badGateway
        case .upstreamUnavailable: .serviceUnavailable
        case .upstreamTimeout: .gatewayTimeout
        case .internalError: .internalServerError
        }
    }
}

/// Answers a known path asked with a method it does not serve `405 methodNotAllowed`, with the
/// JSON error body and an `Allow` header listing the path's methods (RFC 9110 §15.5.6); any other
/// request passes on (an unknown path stays `404 notFound`).
///
/// Register it on the router after every route: Hummingbird then wraps only its not-found
/// responder with it, and no route pays for the lookup.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// One route path and the methods registered on it.
    struct Route: Sendable {
        var path: RouterPath
        var methods: [HTTPRequest.Method]
    }

    let routes: [Route]

    /// The routes of `router` as registered so far, grouped by path.
    init(routes: [Router<Context>.RouteDescription]) {
        var grouped: [String: Route] = [:]
        var order: [String] = []
        for route in routes {
            let key = route.path.description
            if grouped[key] == nil {
                grouped[key] = Route(path: route.path, methods: [])
                order.append(key)
            }
            grouped[key]?.methods.append(route.method)
        }
        self.routes = order.compactMap { grouped[$0] }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let allowed = allowedMethods(path: request.uri.path), !allowed.contains(request.method) else {
            return try await next(request, context)
        }
        var response = JSONResponse.error(
            GatewayError(.methodNotAllowed, code: "methodNotAllowed", message: "\(request.method.rawValue) is not allowed here"))
        response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        return response
    }

    /// The methods of the most specific route whose path matches `path` (constant segments beat
    /// parameters, as in Hummingbird's trie), or nil when no route matches.
    func allowedMethods(path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        var best: (constants: Int, methods: [HTTPRequest.Method])?
        for route in routes where route.path.components.count == segments.count {
            guard zip(route.path.components, segments).allSatisfy({ $0 ~= $1 }) else { continue }
            let constants = zip(route.path.components, segments).filter { $0 == $1 }.count
            if best.map({ constants > $0.constants }) ?? true { best = (constants, route.methods) }
        }
        return best.map { $0.methods.sorted { $0.rawValue < $1.rawValue } }
    }
}

/// JSON response helpers.
enum JSONResponse {
    /// The challenge every 401 carries (RFC 9110 §11.6.1): the gateway accepts HTTP Basic.
    static let basicChallenge = #"Basic realm="mailbox-gateway""#

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func error(_ error: GatewayError) -> Response {
        var response = Self.error(code: error.code, message: error.message, field: error.field, status: HTTPStatus.of(error.kind))
        if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
        return response
    }

    /// SPEC §3's error body with `status`; a 401 carries the Basic challenge.
    static func error(code: String, message: String, field: String? = nil, status: HTTPResponse.Status) -> Response {
        struct Body: Encodable {
            struct Detail: Encodable {
                var code: String
                var message: String
                var field: String?
            }
            var error: Detail
        }
        var response = make(Body(error: .init(code: code, message: message, field: field)), status: status)
        if status == .unauthorized { response.headers[.wwwAuthenticate] = Self.basicChallenge }
        return response
    }
}
