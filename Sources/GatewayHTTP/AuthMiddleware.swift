import Crypto
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird

/// Resolves who is calling — Basic credentials, an `X-Axigen-Session`, or (trusted mode) a front's
/// `X-Mailbox-User` + `X-Gateway-Key` — and has the engine's ``Authenticator`` prove it (recently
/// verified credentials pass; others log in, throttled per user and address). Anything else is
/// 401. A wrong trusted key counts against the address like a failed login.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let configuration: APIConfiguration
    let sessions: any SessionStore
    let authenticator: Authenticator

    static let sessionHeader = HTTPField.Name("X-Axigen-Session")!
    static let userHeader = HTTPField.Name("X-Mailbox-User")!
    static let keyHeader = HTTPField.Name("X-Gateway-Key")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let credentials: AccountCredentials
        if configuration.authMode == .trusted {
            credentials = try trustedCredentials(request, address: context.clientAddress)
        } else if let sessionID = request.headers[Self.sessionHeader] {
            guard let stored = try await sessions.credentials(for: sessionID) else { throw GatewayError.unauthorized }
            credentials = stored
            context.sessionID = sessionID
        } else {
            credentials = try Self.basicCredentials(request)
        }
        try await authenticator.authenticate(
            credentials, sessionID: context.sessionID, address: context.clientAddress, throttled: configuration.authMode != .trusted)
        context.credentials = credentials
        return try await next(request, context)
    }

    private func trustedCredentials(_ request: Request, address: String?) throws -> AccountCredentials {
        guard let expected = configuration.trustedKey, let masterUser = configuration.masterUser,
            let masterPassword = configuration.masterPassword
        else { throw GatewayError.unauthorized }
        let user = request.headers[Self.userHeader] ?? ""
        guard !expected.isEmpty, let key = request.headers[Self.keyHeader], !key.isEmpty,
            Self.constantTimeEqual(Array(key.utf8), Array(expected.utf8))
        else {
            // A wrong key counts against the address (the right key never waits: the front is
            // often the only client, and must not be locked out by someone guessing beside it).
            try authenticator.refuseKey(keyName: Self.userHeader.rawName, address: address)
        }
        guard Self.isAcceptableUserName(user) else { throw GatewayError.unauthorized }
        return AccountCredentials(user: user, masterUser: masterUser, masterPassword: masterPassword)
    }

    /// `Authorization: Basic …` as a user name and a password; control characters (CR, LF, NUL…)
    /// in either are refused as wrong credentials, before anything reaches the IMAP server.
    static func basicCredentials(_ request: Request) throws -> AccountCredentials {
        guard let header = request.headers[.authorization], header.count > 6,
            header.prefix(6).lowercased() == "basic ",
            let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { throw GatewayError.unauthorized }
        let user = String(text[..<colon])
        let password = String(text[text.index(after: colon)...])
        guard isAcceptableUserName(user), !password.isEmpty, password.utf8.count <= 1024,
            !password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else { throw GatewayError.unauthorized }
        return AccountCredentials(user: user, password: password)
    }

    /// A user name the gateway passes on: 1–256 octets, no control characters.
    static func isAcceptableUserName(_ user: String) -> Bool {
        !user.isEmpty && user.utf8.count <= 256 && !user.unicodeScalars.contains { $0.properties.generalCategory == .control }
    }

    /// Compares SHA-256 digests in constant time, so neither the content nor the length of the
    /// expected key shows in the time a wrong one takes.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let x = Array(SHA256.hash(data: a)), y = Array(SHA256.hash(data: b))
        var difference: UInt8 = 0
        for (p, q) in zip(x, y) { difference |= p ^ q }
        return difference == 0
    }
}
