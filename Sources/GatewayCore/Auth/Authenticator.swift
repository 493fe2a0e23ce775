import Synchronization

/// Has the mail server prove who is calling (SPEC §3): credentials it accepted within the verify
/// interval pass at once; others log in afresh, so a changed password stops working within that
/// time. Every login tried counts against its user name and the client's address
/// (``LoginThrottle``); one that would exceed either is refused with a wait, without asking the
/// server. Refused credentials end their sessions; proven ones let the account's waiting jobs go on.
/// Concurrent requests with the same credentials share one proof (``ProofsInFlight``).
public struct Authenticator: Sendable {
    let mailServer: any MailServer
    let sessions: any SessionStore
    let jobs: JobService
    let throttle: SharedLoginThrottle
    private let inFlight = ProofsInFlight()

    init(mailServer: any MailServer, sessions: any SessionStore, jobs: JobService, throttle: LoginThrottle.Configuration) {
        self.mailServer = mailServer
        self.sessions = sessions
        self.jobs = jobs
        self.throttle = SharedLoginThrottle(configuration: throttle)
    }

    /// Proves `credentials` (throttled unless `throttled` is false, as for a trusted front whose key
    /// was checked); throws ``GatewayError/unauthorized`` or `tooManyLoginFailures`.
    /// `sessionID`: the session the credentials came from, ended too when they are refused.
    public func authenticate(_ credentials: AccountCredentials, sessionID: String? = nil, address: String?, throttled: Bool) async throws {
        do {
            try await prove(credentials, address: address, throttled: throttled)
        } catch let error as GatewayError where error.kind == .unauthorized {
            if let sessionID { try await sessions.remove(sessionID) }
            try await sessions.removeAll(with: credentials)
            throw error
        }
        // Jobs of this account left waiting for valid credentials can resume now.
        await jobs.noteCredentials(credentials)
    }

    private func prove(_ credentials: AccountCredentials, address: String?, throttled: Bool) async throws {
        if await mailServer.isVerified(credentials) { return }
        try await inFlight.run(credentials) {
            try await login(credentials, address: address, throttled: throttled)
        }
    }

    private func login(_ credentials: AccountCredentials, address: String?, throttled: Bool) async throws {
        if await mailServer.isVerified(credentials) { return }
        if throttled, let wait = throttle.attempt(user: credentials.user, address: address) {
            throw GatewayError.tooManyLoginFailures(retryAfterSeconds: wait)
        }
        do {
            try await mailServer.withSession(credentials) { _ in }
            if throttled { throttle.finish(user: credentials.user, address: address, failed: false) }
        } catch let error as MailServerError where error.kind == .authenticationFailed {
            if throttled { throttle.finish(user: credentials.user, address: address, failed: true) }
            throw GatewayError.unauthorized
        } catch {
            if throttled { throttle.finish(user: credentials.user, address: address, failed: false) }
            throw error
        }
    }

    /// A wrong trusted key counts as a failed login of `keyName` from `address`: throws
    /// `tooManyLoginFailures` when the address has none left, else ``GatewayError/unauthorized``.
    public func refuseKey(keyName: String, address: String?) throws -> Never {
        if let wait = throttle.attempt(user: keyName, address: address) {
            throw GatewayError.tooManyLoginFailures(retryAfterSeconds: wait)
        }
        throttle.finish(user: keyName, address: address, failed: true)
        throw GatewayError.unauthorized
    }
}

/// One login at a time per set of credentials: requests that arrive while those credentials are
/// being proven wait for that proof and share its outcome. Without it, 32 clients of one account
/// starting at once each logged in, and, since the throttle counts a login as failed until it
/// succeeds (so that concurrent guesses cannot slip through), all beyond the user's burst of 10
/// were refused with 429 though their password was right (benchmarks/performance.py, clients-32x1).
final class ProofsInFlight: Sendable {
    private let proofs = Mutex<[AccountCredentials: Task<Void, any Error>]>([:])

    /// Runs `prove` for `credentials`, or waits for the run already under way.
    func run(_ credentials: AccountCredentials, _ prove: @escaping @Sendable () async throws -> Void) async throws {
        let task = proofs.withLock { proofs in
            if let running = proofs[credentials] { return running }
            // The task removes itself when done; it cannot finish before it is stored, which
            // happens under the same lock its removal takes.
            let task = Task {
                defer { _ = self.proofs.withLock { $0.removeValue(forKey: credentials) } }
                try await prove()
            }
            proofs[credentials] = task
            return task
        }
        try await task.value
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
