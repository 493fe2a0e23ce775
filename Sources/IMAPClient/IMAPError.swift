import IMAPCore

/// Everything that can go wrong talking to the upstream IMAP server, carrying the server's own words.
public enum IMAPError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The TCP (or TLS) connection could not be established.
    case connectFailed(host: String, port: Int, reason: String)
    /// The server greeted with BYE, or closed before greeting.
    case greetingRejected(String)
    /// LOGIN / AUTHENTICATE was refused (`NO [AUTHENTICATIONFAILED] …`).
    case authenticationFailed(String)
    /// The server answered NO or BAD.
    case commandFailed(command: String, status: ResponseStatus, text: ResponseText)
    /// No answer within the deadline; the connection is closed afterwards.
    case timeout(command: String)
    /// The connection closed (BYE, reset, or closed by us) while commands were pending.
    case connectionClosed(reason: String)
    /// The server broke the protocol (unparseable response, unknown tag, unexpected `+`).
    case protocolViolation(String)
    /// The command could not be encoded (bad user text); nothing was sent.
    case invalidCommand(CommandEncodingError)
    /// The server lacks a capability the operation needs (e.g. STARTTLS, UIDPLUS).
    case unsupported(String)
    /// TLS negotiation or certificate verification failed.
    case tls(String)
    /// The server sent more untagged data for one command (or unasked) than the client keeps
    /// (``IMAPServerConfiguration/maxUntaggedResponsesPerCommand``, ``IMAPServerConfiguration/maxUntaggedOctetsPerCommand``);
    /// the connection is closed, as its stream can no longer be trusted.
    case untaggedLimitExceeded(command: String, limit: String)

    public var description: String {
        switch self {
        case .connectFailed(let host, let port, let reason): "cannot connect to \(host):\(port): \(reason)"
        case .greetingRejected(let text): "server refused the connection: \(text)"
        case .authenticationFailed(let text): "authentication failed: \(text)"
        case .commandFailed(let command, let status, let text):
            "\(command) failed: \(status.rawValue)\(text.code.map { " [\($0.name)]" } ?? "") \(text.text)"
        case .timeout(let command): "\(command) timed out"
        case .connectionClosed(let reason): "connection closed: \(reason)"
        case .protocolViolation(let text): "protocol violation: \(text)"
        case .invalidCommand(let error): "invalid command: \(error)"
        case .unsupported(let text): "unsupported by the server: \(text)"
        case .tls(let text): "TLS: \(text)"
        case .untaggedLimitExceeded(let command, let limit): "\(command): the server sent \(limit)"
        }
    }

    /// The response code of a NO/BAD answer, if any (e.g. `TRYCREATE`, `NONEXISTENT`).
    public var responseCode: ResponseCode? {
        if case .commandFailed(_, _, let text) = self { return text.code }
        return nil
    }
}
