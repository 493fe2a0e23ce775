import IMAPClient

/// An error the gateway reports to its client: an HTTP status, a camelCase code, a human message,
/// and the JSON path of the field at fault. The HTTP layer renders every error through this type.
public struct GatewayError: Error, Hashable, Sendable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public var field: String?
    /// Seconds the client should wait before trying again (`Retry-After`), for 429 and 503.
    public var retryAfterSeconds: Int?

    public init(status: Int, code: String, message: String, field: String? = nil, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(status) \(code): \(message)" }

    public static func badRequest(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(status: 400, code: code, message: message, field: field)
    }

    public static let unauthorized = GatewayError(status: 401, code: "unauthorized", message: "missing or wrong credentials")

    public static func notFound(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(status: 404, code: code, message: message, field: field)
    }

    public static func conflict(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(status: 409, code: code, message: message, field: field)
    }

    public static func tooLarge(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(status: 413, code: code, message: message, field: field)
    }

    public static func unprocessable(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(status: 422, code: code, message: message, field: field)
    }

    /// Too many failed logins for a user name or from an address (SPEC §3): try again later.
    public static func tooManyLoginFailures(retryAfterSeconds: Int) -> GatewayError {
        GatewayError(
            status: 429, code: "tooManyLoginFailures",
            message: "too many failed logins for this user or from this address; try again in \(retryAfterSeconds) s",
            retryAfterSeconds: retryAfterSeconds)
    }

    public static func notImplemented(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(status: 501, code: code, message: message, field: field)
    }

    /// The server lacks what an operation needs; nothing was changed.
    public static func upstreamUnsupported(_ message: String) -> GatewayError {
        GatewayError(status: 502, code: "upstreamUnsupported", message: message)
    }

    /// Maps an upstream IMAP failure: refused or broken → 502, unreachable → 503, timeout → 504,
    /// authentication → 401. The server's own text is kept in the message.
    public init(_ error: IMAPError) {
        switch error {
        case .authenticationFailed:
            self = .unauthorized
        case .connectFailed, .greetingRejected:
            self.init(status: 503, code: "upstreamUnavailable", message: "IMAP server unreachable: \(error)")
        case .timeout:
            self.init(status: 504, code: "upstreamTimeout", message: "IMAP server did not answer in time: \(error)")
        case .unsupported:
            self = .upstreamUnsupported("\(error)")
        case .commandFailed, .connectionClosed, .protocolViolation, .tls, .invalidCommand, .untaggedLimitExceeded:
            self.init(status: 502, code: "upstreamRefused", message: "IMAP server refused or failed: \(error)")
        }
    }
}
