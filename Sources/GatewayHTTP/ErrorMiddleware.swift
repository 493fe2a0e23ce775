import Foundation
import GatewayCore
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
}

/// JSON response helpers.
enum JSONResponse {
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
        return make(
            Body(error: .init(code: error.code, message: error.message, field: error.field)),
            status: HTTPResponse.Status(code: error.status))
    }
}
