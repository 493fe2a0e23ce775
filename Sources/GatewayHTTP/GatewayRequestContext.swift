import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's core storage plus the authenticated account.
public struct GatewayRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by ``AuthMiddleware`` on every authenticated route.
    public var credentials: AccountCredentials?
    /// The session the request came with, if any (for logout).
    public var sessionID: String?

    /// The client's IP address (the TCP peer), for throttling failed logins per address.
    public let clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        clientAddress = source.channel.remoteAddress?.ipAddress
    }

    /// The credentials, for routes behind ``AuthMiddleware``.
    func requireCredentials() throws -> AccountCredentials {
        guard let credentials else { throw GatewayError.unauthorized }
        return credentials
    }
}
