import Foundation
import GatewayCore
import GatewayStore
import HTTPTypes
import Hummingbird
import IMAPClient
import Logging
import NIOCore

/// The one place where errors become responses: SPEC §3's JSON body with a fitting status.
/// Bad input never yields a 500, and no response ever carries a stack trace.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let gatewayError = Self.gatewayError(for: error)
            if gatewayError.status >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            }
            return JSONResponse.error(gatewayError)
        }
    }

    static func gatewayError(for error: any Error) -> GatewayError {
        switch error {
        case let error as GatewayError:
            return error
        case let error as IMAPError:
            return GatewayError(error)
        case let error as GatewayStoreError:
            return Self.storeError(error)
        case is NIOTooManyBytesError:
            return .tooLarge("payloadTooLarge", "the request body is larger than allowed")
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .notFound("notFound", "no such endpoint")
            case .methodNotAllowed: return GatewayError(status: 405, code: "methodNotAllowed", message: "method not allowed")
            case .contentTooLarge: return .tooLarge("payloadTooLarge", "the request body is larger than allowed")
            default:
                return GatewayError(status: Int(error.status.code), code: "httpError", message: error.body ?? error.status.reasonPhrase)
            }
        default:
            return GatewayError(status: 500, code: "internalError", message: "internal error")
        }
    }

    /// A store conflict that reaches the HTTP layer is the client's conflict, not a server fault.
    static func storeError(_ error: GatewayStoreError) -> GatewayError {
        switch error {
        case .duplicateLabelName(let name):
            return .conflict("labelExists", "a label named \"\(name)\" already exists", field: "name")
        case .duplicateLabelKeyword(let keyword):
            return LabelService.keywordConflict(keyword)
        case .folderNotFound(let id):
            return .notFound("folderNotFound", "no folder with id \(id)")
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
            GatewayError(status: 405, code: "methodNotAllowed", message: "\(request.method.rawValue) is not allowed here"))
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
        struct Body: Encodable {
            struct Detail: Encodable {
                var code: String
                var message: String
                var field: String?
            }
            var error: Detail
        }
        var response = make(
            Body(error: .init(code: error.code, message: error.message, field: error.field)),
            status: HTTPResponse.Status(code: error.status))
        if let seconds = error.retryAfterSeconds { response.headers[.retryAfter] = String(seconds) }
        if error.status == 401 { response.headers[.wwwAuthenticate] = Self.basicChallenge }
        return response
    }
}
