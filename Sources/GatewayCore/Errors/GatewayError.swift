/// An error the gateway reports to its client: a kind (what went wrong, in the engine's terms), a
/// camelCase code, a human message, and the JSON path of the field at fault. The HTTP layer maps
/// kinds to statuses in one place; the engine never names a status.
public struct GatewayError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong. The HTTP layer gives each kind its status.
    public enum Kind: String, Hashable, Sendable {
        /// The request breaks the schema or a rule of SPEC §3.
        case badRequest
        /// Missing or wrong credentials.
        case unauthorized
        /// What the request names does not exist (folder, label, job, endpoint).
        case notFound
        /// The path exists, the method does not.
        case methodNotAllowed
        /// The request conflicts with what exists (a label name taken).
        case conflict
        /// The request is larger than allowed (body, items, ranges).
        case tooLarge
        /// Well-formed, but the account cannot do it (no Trash folder).
        case unprocessable
        /// Too many attempts (failed logins); comes with a wait.
        case tooManyRequests
        /// Not built.
        case notImplemented
        /// The mail server refused, failed or lacks what is needed.
        case upstreamFailed
        /// The mail server cannot be reached.
        case upstreamUnavailable
        /// The mail server did not answer in time.
        case upstreamTimeout
        /// A fault of the gateway itself.
        case internalError

        /// Whether the request as asked cannot be carried out (the client's side), as opposed to a
        /// failure of the gateway or the server that a retry may cure.
        public var isRequestProblem: Bool {
            switch self {
            case .badRequest, .unauthorized, .notFound, .methodNotAllowed, .conflict, .tooLarge, .unprocessable, .tooManyRequests,
                .notImplemented:
                true
            case .upstreamFailed, .upstreamUnavailable, .upstreamTimeout, .internalError:
                false
            }
        }
    }

    public var kind: Kind
    public var code: String
    public var message: String
    public var field: String?
    /// Seconds the client should wait before trying again, for `tooManyRequests`.
    public var retryAfterSeconds: Int?

    public init(_ kind: Kind, code: String, message: String, field: String? = nil, retryAfterSeconds: Int? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.field = field
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(kind.rawValue) \(code): \(message)" }

    public static func badRequest(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(.badRequest, code: code, message: message, field: field)
    }

    public static let unauthorized = GatewayError(.unauthorized, code: "unauthorized", message: "missing or wrong credentials")

    public static func notFound(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(.notFound, code: code, message: message, field: field)
    }

    public static func conflict(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(.conflict, code: code, message: message, field: field)
    }

    public static func tooLarge(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(.tooLarge, code: code, message: message, field: field)
    }

    public static func unprocessable(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(.unprocessable, code: code, message: message, field: field)
    }

    /// A folder that is only a level of the hierarchy (IMAP `\Noselect`): it holds no mail.
    static func folderNotSelectable(_ folder: FolderInfo, field: String) -> GatewayError {
        .unprocessable(
            "folderNotSelectable", "folder \(folder.id) is a level of the hierarchy only (the IMAP server cannot open it)",
            field: field)
    }

    /// Too many failed logins for a user name or from an address (SPEC §3): try again later.
    public static func tooManyLoginFailures(retryAfterSeconds: Int) -> GatewayError {
        GatewayError(
            .tooManyRequests, code: "tooManyLoginFailures",
            message: "too many failed logins for this user or from this address; try again in \(retryAfterSeconds) s",
            retryAfterSeconds: retryAfterSeconds)
    }

    public static func notImplemented(_ code: String, _ message: String, field: String? = nil) -> GatewayError {
        GatewayError(.notImplemented, code: code, message: message, field: field)
    }

    /// The server lacks what an operation needs; nothing was changed.
    public static func upstreamUnsupported(_ message: String) -> GatewayError {
        GatewayError(.upstreamFailed, code: "upstreamUnsupported", message: message)
    }

    /// The server answered something the gateway cannot use.
    public static func upstreamRefused(_ message: String) -> GatewayError {
        GatewayError(.upstreamFailed, code: "upstreamRefused", message: message)
    }

    public static let internalError = GatewayError(.internalError, code: "internalError", message: "internal error")

    /// Maps a mail server failure: refused or broken → upstreamFailed, unreachable →
    /// upstreamUnavailable, timeout → upstreamTimeout, authentication → unauthorized. The
    /// server's own text is kept in the message.
    public init(_ error: MailServerError) {
        switch error.kind {
        case .authenticationFailed:
            self = .unauthorized
        case .unavailable:
            self.init(.upstreamUnavailable, code: "upstreamUnavailable", message: "IMAP server unreachable: \(error)")
        case .timeout:
            self.init(.upstreamTimeout, code: "upstreamTimeout", message: "IMAP server did not answer in time: \(error)")
        case .unsupported:
            self = .upstreamUnsupported("\(error)")
        case .refused, .connectionBroken, .invalidCommand:
            self = .upstreamRefused("IMAP server refused or failed: \(error)")
        }
    }

    /// Any error as the gateway reports it: its own errors as they are, mail server and label
    /// store failures mapped, anything else an internal error.
    public static func from(_ error: any Error) -> GatewayError? {
        switch error {
        case let error as GatewayError: error
        case let error as MailServerError: GatewayError(error)
        case let error as LabelConflict: LabelService.conflictError(error)
        default: nil
        }
    }
}
