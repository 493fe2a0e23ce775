import GatewayCore
import HTTPTypes
import Hummingbird
import Logging

/// Gives every request an ID (SPEC §3): the client's own `X-Request-ID` when it is sane (1 to 128
/// characters of `A-Z a-z 0-9 - _ . :`), else a new one. It is in the response's `X-Request-ID`
/// and in ``RequestMetadata/requestID`` for the request's task, which the app's logger reads:
/// every line logged for the request carries it as `requestId`, Hummingbird's, the engine's and
/// the IMAP client's alike. Registered first, so that it wraps every
/// other middleware and every answer carries it, errors and 404s included.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    static var header: HTTPField.Name { HTTPField.Name("X-Request-ID")! }
    static let maxLength = 128

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let id = request.headers[Self.header].flatMap { Self.isSane($0) ? $0 : nil } ?? RandomToken.alphanumeric(length: 22)
        var response = try await RequestMetadata.$requestID.withValue(id) { try await next(request, context) }
        response.headers[Self.header] = id
        return response
    }

    /// Whether a client's ID may be echoed and logged as it is: no control characters, spaces,
    /// quotes or other text a log line or a header could be confused by.
    static func isSane(_ id: String) -> Bool {
        let bytes = id.utf8
        return (1...maxLength).contains(bytes.count) && bytes.allSatisfy { allowed.contains($0) }
    }

    private static let allowed = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:".utf8))
}
