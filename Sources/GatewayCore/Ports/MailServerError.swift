/// A failure of the mail server port, in the engine's terms: what kind of failure, and the
/// upstream's own words. The HTTP layer maps it (through ``GatewayError``) to a status.
public struct MailServerError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Hashable, Sendable {
        /// The server answered NO or BAD to a command; the connection is fine.
        case refused
        /// The server refused the credentials.
        case authenticationFailed
        /// The server could not be reached, or refused the connection at its greeting.
        case unavailable
        /// The server did not answer in time; the connection's state is unknown.
        case timeout
        /// The connection broke or the server broke the protocol; its state is unknown.
        case connectionBroken
        /// The server lacks what the command needs.
        case unsupported
        /// The command could not be sent as asked (e.g. a line longer than the server allows).
        case invalidCommand
    }

    public var kind: Kind
    /// The upstream's text (server response text, or what went wrong on the connection).
    public var detail: String

    public init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { detail }

    /// Whether the session's state is unknown afterwards (as opposed to a server's NO or BAD): a
    /// command in flight may or may not have taken effect.
    public var brokeConnection: Bool { kind == .connectionBroken || kind == .timeout }
}
