import Foundation
import GatewayCore
import GatewayFakes
@testable import GatewayHTTP
import HTTPTypes
import Testing

/// SPEC §3 "Authentication": Basic, sessions, trusted front; 401 with the Basic challenge; 429 with
/// `Retry-After`; nothing with control characters ever reaches the mail server.
struct AuthenticationTests {
    static let challenge = #"Basic realm="mailbox-gateway""#

    /// Checks a 401: the JSON error `unauthorized` and the `WWW-Authenticate` challenge.
    static func expectUnauthorized(_ reply: Reply, _ comment: String = "", sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(reply.status == .unauthorized, "\(comment) \(reply.text)", sourceLocation: sourceLocation)
        #expect(reply.isErrorBody, sourceLocation: sourceLocation)
        #expect(reply.errorCode == "unauthorized", sourceLocation: sourceLocation)
        #expect(reply.headers[.wwwAuthenticate] == challenge, sourceLocation: sourceLocation)
    }

    struct BadCredentials: CustomStringConvertible, Sendable {
        var name: String
        var auth: Auth
        /// Whether the gateway may ask the server (a well-formed user and password); otherwise no
        /// login may reach it.
        var reachesServer: Bool
        var description: String { name }
    }

    static let badCredentials: [BadCredentials] = [
        BadCredentials(name: "none", auth: .none, reachesServer: false),
        BadCredentials(name: "wrong password", auth: .basic(alice, "wrong"), reachesServer: true),
        BadCredentials(name: "unknown user", auth: .basic("mallory", "secret"), reachesServer: true),
        BadCredentials(name: "Bearer instead of Basic", auth: .authorization("Bearer abc"), reachesServer: false),
        BadCredentials(name: "Basic not base64", auth: .authorization("Basic !!!"), reachesServer: false),
        BadCredentials(name: "Basic without colon", auth: .authorization("Basic " + Data("alice".utf8).base64EncodedString()), reachesServer: false),
        BadCredentials(name: "empty password", auth: .basic(alice, ""), reachesServer: false),
        BadCredentials(name: "empty user", auth: .basic("", "secret"), reachesServer: false),
        BadCredentials(name: "unknown session", auth: .session("no-such-session"), reachesServer: false),
        BadCredentials(name: "CRLF in password", auth: .basic(alice, "secret\r\nA1 LOGOUT"), reachesServer: false),
        BadCredentials(name: "NUL in password", auth: .basic(alice, "sec\u{0}ret"), reachesServer: false),
        BadCredentials(name: "LF in user", auth: .basic("alice\nx", "secret"), reachesServer: false),
        BadCredentials(name: "DEL in user", auth: .basic("ali\u{7F}ce", "secret"), reachesServer: false),
        BadCredentials(name: "tab in password", auth: .basic(alice, "sec\tret"), reachesServer: false),
        BadCredentials(name: "password over 1024 octets", auth: .basic(alice, String(repeating: "p", count: 1025)), reachesServer: false),
    ]

    @Test(arguments: badCredentials)
    func badCredentialsAre401WithChallengeAndChangeNothing(_ testCase: BadCredentials) async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 2) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2])
            gw.server.clearCommandLog()  // minting the IDs listed the folders
            let before = gw.snapshot()
            let reply = try await gw.batch("delete", ["ids": ids], auth: testCase.auth)
            Self.expectUnauthorized(reply)
            let folders = try await gw.request(.get, "/api/v1/folders", auth: testCase.auth)
            Self.expectUnauthorized(folders)
            #expect(gw.snapshot() == before)
            #expect(gw.changingCommands.isEmpty)
            #expect(gw.server.commandLog.isEmpty)
            // Only well-formed credentials are tried upstream (once per request, and refused).
            #expect(gw.server.failedLogins == (testCase.reachesServer ? 2 : 0))
        }
    }

    @Test func goodBasicCredentialsAreProvenOnceThenTrustedForTheVerifyInterval() async throws {
        try await TestGateway.run { gw in
            let first = try await gw.request(.get, "/api/v1/folders")
            #expect(first.status == .ok)
            let opened = gw.server.sessionsOpened
            let second = try await gw.request(.get, "/api/v1/labels")
            #expect(second.status == .ok)
            // The folders and labels need one session each; no extra proving login for the second.
            #expect(gw.server.sessionsOpened == opened + 1)
            #expect(gw.server.failedLogins == 0)
        }
    }

    /// Forty clients of one account starting at once, while the server is slow to answer a login:
    /// they share one proof of their (right) password. Each login counts against the throttle
    /// until it succeeds, so forty separate proofs would exceed the user's burst of 10 and be 429.
    @Test func concurrentFirstRequestsShareOneProof() async throws {
        try await TestGateway.run { gw in
            #expect(await !gw.server.isVerified(AccountCredentials(user: alice, password: alicePassword)))
            gw.server.delayLogins(.milliseconds(300))
            let opened = gw.server.sessionsOpened
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<40 {
                    group.addTask { try await gw.request(.get, "/api/v1/labels").status }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            #expect(statuses.count == 40)
            #expect(statuses.allSatisfy { $0 == .ok }, "\(statuses.filter { $0 != .ok })")
            #expect(gw.server.failedLogins == 0)
            // One proving login, and at most one session per request for the labels.
            #expect(gw.server.sessionsOpened <= opened + 41)
        }
    }

    /// The auth scheme is case-insensitive (RFC 9110 §11.1).
    @Test func basicSchemeIsCaseInsensitive() async throws {
        try await TestGateway.run { gw in
            let encoded = Data("alice:secret".utf8).base64EncodedString()
            for scheme in ["basic", "BASIC", "Basic"] {
                let reply = try await gw.request(.get, "/api/v1/labels", auth: .authorization("\(scheme) \(encoded)"))
                #expect(reply.status == .ok, "\(scheme): \(reply.text)")
            }
        }
    }

    @Test func changedPasswordIsRefusedAtOnce() async throws {
        try await TestGateway.run { gw in
            #expect(try await gw.request(.get, "/api/v1/folders").status == .ok)
            gw.server.setPassword(alice, "new-secret")
            Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders"))
            #expect(try await gw.request(.get, "/api/v1/folders", auth: .basic(alice, "new-secret")).status == .ok)
        }
    }

    @Test func sessionFromLoginWorksAloneUntilLogout() async throws {
        try await TestGateway.run { gw in
            let login = try await gw.request(.post, "/api/v1/login")
            #expect(login.status == .ok, "\(login.text)")
            #expect(login.object.keys.sorted() == ["sessid"])
            let sessid = try #require(login["sessid"] as? String)
            #expect(sessid.count >= 22)  // ≥ 128 bits of base64url
            #expect(await gw.harness.sessions.count == 1)

            let folders = try await gw.request(.get, "/api/v1/folders", auth: .session(sessid))
            #expect(folders.status == .ok)
            #expect(folders.items.contains { $0["name"] as? String == "INBOX" })

            let logout = try await gw.request(.post, "/api/v1/logout", auth: .session(sessid))
            #expect(logout.status == .noContent)
            #expect(logout.body.isEmpty)
            #expect(await gw.harness.sessions.count == 0)

            Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders", auth: .session(sessid)))
            Self.expectUnauthorized(try await gw.request(.post, "/api/v1/logout", auth: .session(sessid)))
        }
    }

    @Test func twoSessionsAreDistinctAndLogoutEndsOnlyItsOwn() async throws {
        try await TestGateway.run { gw in
            let a = try #require(try await gw.request(.post, "/api/v1/login")["sessid"] as? String)
            let b = try #require(try await gw.request(.post, "/api/v1/login")["sessid"] as? String)
            #expect(a != b)
            #expect(try await gw.request(.post, "/api/v1/logout", auth: .session(a)).status == .noContent)
            Self.expectUnauthorized(try await gw.request(.get, "/api/v1/labels", auth: .session(a)))
            #expect(try await gw.request(.get, "/api/v1/labels", auth: .session(b)).status == .ok)
        }
    }

    @Test func loginWithWrongPasswordOpensNoSession() async throws {
        try await TestGateway.run { gw in
            Self.expectUnauthorized(try await gw.request(.post, "/api/v1/login", auth: .basic(alice, "wrong")))
            Self.expectUnauthorized(try await gw.request(.post, "/api/v1/login", auth: .none))
            #expect(await gw.harness.sessions.count == 0)
        }
    }

    /// Logout with Basic alone has no session to end: 401, and other sessions live on.
    @Test func logoutWithoutSessionIs401() async throws {
        try await TestGateway.run { gw in
            let sessid = try #require(try await gw.request(.post, "/api/v1/login")["sessid"] as? String)
            Self.expectUnauthorized(try await gw.request(.post, "/api/v1/logout"))
            #expect(try await gw.request(.get, "/api/v1/labels", auth: .session(sessid)).status == .ok)
        }
    }

    /// A session whose password the server no longer accepts ends (and stays ended).
    @Test func sessionEndsWhenItsPasswordIsRefused() async throws {
        try await TestGateway.run { gw in
            let sessid = try #require(try await gw.request(.post, "/api/v1/login")["sessid"] as? String)
            gw.server.setPassword(alice, "changed")
            Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders", auth: .session(sessid)))
            #expect(await gw.harness.sessions.count == 0)
            gw.server.setPassword(alice, alicePassword)
            Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders", auth: .session(sessid)))
        }
    }

    @Test func repeatedWrongPasswordsAre429WithRetryAfterWithoutAskingTheServer() async throws {
        try await TestGateway.run(
            loginThrottle: .init(perUser: .init(burst: 3, refill: .seconds(60)), perAddress: .init(burst: 100, refill: .seconds(1)))
        ) { gw in
            for _ in 0..<3 {
                Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders", auth: .basic(alice, "guess")))
            }
            #expect(gw.server.failedLogins == 3)
            let throttled = try await gw.request(.get, "/api/v1/folders", auth: .basic(alice, "guess"))
            #expect(throttled.status == .tooManyRequests, "\(throttled.text)")
            #expect(throttled.isErrorBody)
            #expect(throttled.errorCode == "tooManyLoginFailures")
            let retryAfter = try #require(throttled.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter >= 1 && retryAfter <= 60)
            // Refused without a login attempt upstream.
            #expect(gw.server.failedLogins == 3)
        }
    }

    // MARK: - Trusted front

    static let trustedKey = "k3y-0f-the-trusted-front-32-chars-or-more"

    static func trusted(_ configuration: inout APIConfiguration, masterPassword: String = "master-secret") {
        configuration.authMode = .trusted
        configuration.trustedKey = trustedKey
        configuration.masterUser = "gwmaster"
        configuration.masterPassword = masterPassword
    }

    @Test func trustedKeyActsForTheNamedUserThroughTheMasterLogin() async throws {
        try await TestGateway.run(
            api: { Self.trusted(&$0) },
            setUp: { server in
                server.addMasterUser("gwmaster", password: "master-secret")
                server.addStandardAccount("bob", password: "bob-password")
                server.seed("bob", "INBOX", count: 4)
                server.seed(alice, "INBOX", count: 1)
            }
        ) { gw in
            let bobInbox = try await gw.request(.get, "/api/v1/folders", auth: .trusted(user: "bob", key: Self.trustedKey))
            #expect(bobInbox.status == .ok, "\(bobInbox.text)")
            #expect(bobInbox.items.first { $0["role"] as? String == "inbox" }?["totalItems"] as? Int == 4)
            #expect(gw.server.commandLog.filter { $0.kind == .list }.map(\.user) == ["bob"])
            let aliceInbox = try await gw.request(.get, "/api/v1/folders", auth: .trusted(user: alice, key: Self.trustedKey))
            #expect(aliceInbox.items.first { $0["role"] as? String == "inbox" }?["totalItems"] as? Int == 1)
            #expect(gw.server.failedLogins == 0)
        }
    }

    /// The gateway logs in with the configured master credentials, not anything the client sent:
    /// a wrong configured master password is 401 even with the right key.
    @Test func trustedModeUsesTheConfiguredMasterCredentials() async throws {
        try await TestGateway.run(
            api: { Self.trusted(&$0, masterPassword: "not-the-master-password") },
            setUp: { $0.addMasterUser("gwmaster", password: "master-secret") }
        ) { gw in
            Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders", auth: .trusted(user: alice, key: Self.trustedKey)))
            #expect(gw.server.failedLogins == 1)
            #expect(gw.server.sessionsOpened == 0)
        }
    }

    struct TrustedRefusal: CustomStringConvertible, Sendable {
        var name: String
        var auth: Auth
        var reachesServer: Bool
        var description: String { name }
    }

    static let trustedRefusals: [TrustedRefusal] = [
        TrustedRefusal(name: "wrong key", auth: .trusted(user: alice, key: "k3y-0f-the-trusted-front-32-chars-or-lessX"), reachesServer: false),
        TrustedRefusal(name: "key prefix", auth: .trusted(user: alice, key: String(trustedKey.prefix(31))), reachesServer: false),
        TrustedRefusal(name: "no key", auth: .trusted(user: alice, key: nil), reachesServer: false),
        TrustedRefusal(name: "empty key", auth: .trusted(user: alice, key: ""), reachesServer: false),
        TrustedRefusal(name: "no user", auth: .trusted(user: nil, key: trustedKey), reachesServer: false),
        TrustedRefusal(name: "empty user", auth: .trusted(user: "", key: trustedKey), reachesServer: false),
        TrustedRefusal(name: "Basic credentials instead", auth: .alice, reachesServer: false),
        TrustedRefusal(name: "tab in user", auth: .trusted(user: "ali\tce", key: trustedKey), reachesServer: false),
        TrustedRefusal(name: "user over 256 octets", auth: .trusted(user: String(repeating: "u", count: 257), key: trustedKey), reachesServer: false),
        TrustedRefusal(name: "unknown user", auth: .trusted(user: "nobody", key: trustedKey), reachesServer: true),
    ]

    @Test(arguments: trustedRefusals)
    func trustedModeRefusesWithoutTheRightKeyAndUser(_ testCase: TrustedRefusal) async throws {
        try await TestGateway.run(
            api: { Self.trusted(&$0) },
            setUp: { $0.addMasterUser("gwmaster", password: "master-secret") }
        ) { gw in
            Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders", auth: testCase.auth))
            #expect(gw.server.commandLog.isEmpty)
            #expect(gw.server.sessionsOpened == 0)
            #expect(gw.server.failedLogins == (testCase.reachesServer ? 1 : 0))
        }
    }

    /// An empty configured key never means "anyone": an empty key sent is refused too.
    @Test func emptyConfiguredKeyAcceptsNoKey() async throws {
        try await TestGateway.run(
            api: {
                Self.trusted(&$0)
                $0.trustedKey = ""
            },
            setUp: { $0.addMasterUser("gwmaster", password: "master-secret") }
        ) { gw in
            Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders", auth: .trusted(user: alice, key: "")))
            Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders", auth: .trusted(user: alice, key: nil)))
            #expect(gw.server.sessionsOpened == 0)
        }
    }

    @Test func repeatedWrongKeysAre429WithRetryAfterWhileTheRightKeyStillWorks() async throws {
        try await TestGateway.run(
            api: { Self.trusted(&$0) },
            loginThrottle: .init(perUser: .init(burst: 3, refill: .seconds(60)), perAddress: .init(burst: 3, refill: .seconds(60))),
            setUp: { $0.addMasterUser("gwmaster", password: "master-secret") }
        ) { gw in
            let wrong = Auth.trusted(user: alice, key: "guess-guess-guess-guess-guess-guess")
            for attempt in 0..<3 {
                Self.expectUnauthorized(try await gw.request(.get, "/api/v1/folders", auth: wrong), "attempt \(attempt)")
            }
            let throttled = try await gw.request(.get, "/api/v1/folders", auth: wrong)
            #expect(throttled.status == .tooManyRequests, "\(throttled.text)")
            #expect(throttled.isErrorBody)
            #expect(throttled.errorCode == "tooManyLoginFailures")
            let retryAfter = try #require(throttled.headers[.retryAfter].flatMap { Int($0) })
            #expect(retryAfter >= 1 && retryAfter <= 60)
            // Still throttled for another user name: the guesser is throttled, not the account.
            let other = try await gw.request(.get, "/api/v1/folders", auth: .trusted(user: "bob", key: "another-wrong-key-another-wrong-key"))
            #expect(other.status == .tooManyRequests)
            // The right key never waits.
            let right = try await gw.request(.get, "/api/v1/folders", auth: .trusted(user: alice, key: Self.trustedKey))
            #expect(right.status == .ok, "\(right.text)")
            #expect(gw.server.failedLogins == 0)
        }
    }

    /// Jobs and labels are bound to the account: bob never sees alice's.
    @Test func anotherAccountCannotReadJobsOrLabels() async throws {
        try await TestGateway.run(
            batch: .init(asyncThreshold: 1),
            setUp: { server in
                server.addStandardAccount("bob", password: "bob-password")
                server.seed(alice, "INBOX", count: 3)
            }
        ) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2, 3])
            let started = try await gw.batch("update", ["ids": ids, "isFlagged": true])
            #expect(started.status == .created, "\(started.text)")
            let key = try #require(started["jobKey"] as? String)
            let label = try await gw.request(.post, "/api/v1/labels", body: #"{"name": "Private"}"#)
            let labelId = try #require(label["id"] as? String)
            let bob = Auth.basic("bob", "bob-password")

            let job = try await gw.request(.get, "/api/v1/batch/jobs/\(key)", auth: bob)
            #expect(job.status == .notFound)
            #expect(job.errorCode == "jobNotFound")
            let labels = try await gw.request(.get, "/api/v1/labels", auth: bob)
            #expect(labels.status == .ok)
            #expect(labels.items.isEmpty)
            let rename = try await gw.request(.patch, "/api/v1/labels/\(labelId)", body: #"{"name": "Mine"}"#, auth: bob)
            #expect(rename.status == .notFound)
            #expect(rename.errorCode == "labelNotFound")
            let delete = try await gw.request(.delete, "/api/v1/labels/\(labelId)", auth: bob)
            #expect(delete.status == .notFound)
            #expect(try await gw.request(.get, "/api/v1/labels").items.map { $0["name"] as? String } == ["Private"])
        }
    }
}
