import Crypto
import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import IMAPClient
import Synchronization

/// Resolves who is calling — Basic credentials, an `X-Axigen-Session`, or (trusted mode) a front's
/// `X-Mailbox-User` + `X-Gateway-Key` — and has the IMAP server prove it. Anything else is 401.
///
/// Proof comes from the pool (SPEC §3): credentials the server accepted within `auth.verifySeconds`
/// pass at once; others log in afresh, sessions included, so a changed password stops working
/// within that time. Every login that is tried counts against its user name and the client's
/// address (``LoginThrottle``); one that would exceed either is answered 429 with `Retry-After`
/// without asking the server. A wrong trusted key counts against the address the same way.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = GatewayRequestContext

    let configuration: GatewayConfiguration
    let sessions: SessionStore
    let pool: IMAPConnectionPool
    let jobs: JobService
    let throttle: SharedLoginThrottle

    static let sessionHeader = HTTPField.Name("X-Axigen-Session")!
    static let userHeader = HTTPField.Name("X-Mailbox-User")!
    static let keyHeader = HTTPField.Name("X-Gateway-Key")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let credentials: IMAPCredentials
        if configuration.authMode == .trusted {
            credentials = try trustedCredentials(request, address: context.clientAddress)
        } else if let sessionID = request.headers[Self.sessionHeader] {
            guard let stored = await sessions.credentials(for: sessionID) else { throw GatewayError.unauthorized }
            credentials = stored
            context.sessionID = sessionID
        } else {
            credentials = try Self.basicCredentials(request)
        }
        do {
            try await prove(credentials, address: context.clientAddress)
        } catch let error as GatewayError where error.status == 401 {
            await sessions.removeAll(with: credentials)
            throw error
        }
        context.credentials = credentials
        // Jobs of this account left waiting for valid credentials can resume now.
        await jobs.noteCredentials(credentials)
        return try await next(request, context)
    }

    /// Passes credentials the server accepted recently; otherwise logs in (throttled).
    private func prove(_ credentials: IMAPCredentials, address: String?) async throws {
        if await pool.isVerified(credentials) { return }
        let throttled = configuration.authMode != .trusted
        if throttled, let wait = throttle.attempt(user: credentials.user, address: address) {
            throw GatewayError.tooManyLoginFailures(retryAfterSeconds: wait)
        }
        do {
            try await pool.withConnection(credentials) { _ in }
            if throttled { throttle.finish(user: credentials.user, address: address, failed: false) }
        } catch IMAPError.authenticationFailed {
            if throttled { throttle.finish(user: credentials.user, address: address, failed: true) }
            throw GatewayError.unauthorized
        } catch {
            if throttled { throttle.finish(user: credentials.user, address: address, failed: false) }
            throw error
        }
    }

    private func trustedCredentials(_ request: Request, address: String?) throws -> IMAPCredentials {
        guard let expected = configuration.trustedKey, let masterUser = configuration.masterUser,
            let masterPassword = configuration.masterPassword
        else { throw GatewayError.unauthorized }
        let user = request.headers[Self.userHeader] ?? ""
        guard !expected.isEmpty, let key = request.headers[Self.keyHeader], !key.isEmpty,
            Self.constantTimeEqual(Array(key.utf8), Array(expected.utf8))
        else {
            // A wrong key counts against the address (the right key never waits: the front is
            // often the only client, and must not be locked out by someone guessing beside it).
            if let wait = throttle.attempt(user: Self.userHeader.rawName, address: address) {
                throw GatewayError.tooManyLoginFailures(retryAfterSeconds: wait)
            }
            throttle.finish(user: Self.userHeader.rawName, address: address, failed: true)
            throw GatewayError.unauthorized
        }
        guard Self.isAcceptableUserName(user) else { throw GatewayError.unauthorized }
        return IMAPCredentials(user: user, masterUser: masterUser, masterPassword: masterPassword)
    }

    /// `Authorization: Basic …` as a user name and a password; control characters (CR, LF, NUL…)
    /// in either are refused as wrong credentials, before anything reaches the IMAP server.
    static func basicCredentials(_ request: Request) throws -> IMAPCredentials {
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
        return IMAPCredentials(user: user, password: password)
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

/// The gateway's one ``LoginThrottle``, shared by every request.
final class SharedLoginThrottle: Sendable {
    private let state: Mutex<LoginThrottle>

    init(configuration: LoginThrottle.Configuration) {
        state = Mutex(LoginThrottle(configuration: configuration))
    }

    func attempt(user: String, address: String?) -> Int? {
        state.withLock { $0.attempt(user: user, address: address) }
    }

    func finish(user: String, address: String?, failed: Bool) {
        state.withLock { $0.finish(user: user, address: address, failed: failed) }
    }
}
