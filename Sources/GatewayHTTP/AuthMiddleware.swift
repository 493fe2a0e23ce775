import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import IMAPClient

/// Resolves who is calling — Basic credentials, an `X-Axigen-Session`, or (trusted mode) a front's
/// `X-Mailbox-User` + `X-Gateway-Key` — and verifies it against the IMAP server through the pool
/// (a pooled connection is reused only for identical credentials). Anything else is 401.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let configuration: GatewayConfiguration
    let sessions: SessionStore
    let pool: IMAPConnectionPool
    let jobs: JobService

    static let sessionHeader = HTTPField.Name("X-Axigen-Session")!
    static let userHeader = HTTPField.Name("X-Mailbox-User")!
    static let keyHeader = HTTPField.Name("X-Gateway-Key")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if configuration.authMode == .trusted {
            context.credentials = try trustedCredentials(request)
        } else if let sessionID = request.headers[Self.sessionHeader] {
            guard let credentials = await sessions.credentials(for: sessionID) else { throw GatewayError.unauthorized }
            context.credentials = credentials
            context.sessionID = sessionID
            return try await next(request, context)
        } else {
            context.credentials = try Self.basicCredentials(request)
        }
        // Verify upstream: a login, or a pooled connection with exactly these credentials.
        let credentials = try context.requireCredentials()
        try await pool.withConnection(credentials) { _ in }
        // Jobs of this account left unfinished by a restart can resume now.
        await jobs.noteCredentials(credentials)
        return try await next(request, context)
    }

    private func trustedCredentials(_ request: Request) throws -> IMAPCredentials {
        guard let expected = configuration.trustedKey, let masterUser = configuration.masterUser,
            let masterPassword = configuration.masterPassword, let key = request.headers[Self.keyHeader],
            Self.constantTimeEqual(Array(key.utf8), Array(expected.utf8)),
            let user = request.headers[Self.userHeader], !user.isEmpty, user.utf8.count <= 256
        else { throw GatewayError.unauthorized }
        return IMAPCredentials(user: user, masterUser: masterUser, masterPassword: masterPassword)
    }

    static func basicCredentials(_ request: Request) throws -> IMAPCredentials {
        guard let header = request.headers[.authorization], header.count > 6,
            header.prefix(6).lowercased() == "basic ",
            let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { throw GatewayError.unauthorized }
        let user = String(text[..<colon])
        let password = String(text[text.index(after: colon)...])
        guard !user.isEmpty, !password.isEmpty else { throw GatewayError.unauthorized }
        return IMAPCredentials(user: user, password: password)
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
