import Foundation
import GatewayCore
import GatewayFakes
@testable import GatewayHTTP
import HTTPTypes
import IMAPCore
import Testing

/// Mail server failures become 502/503/504 (or 401) with the codes SPEC §3 and the OpenAPI
/// document name, through ``GatewayError``'s mapping and ``HTTPStatus/of(_:)``; never a 500, and
/// nothing changes.
struct UpstreamFailureTests {
    struct Failure: CustomStringConvertible, Sendable {
        var name: String
        var error: MailServerError
        var status: Int
        var code: String
        var description: String { name }
    }

    static let failures: [Failure] = [
        Failure(name: "NO", error: MailServerError(.refused, "NO [SERVERBUG] injected"), status: 502, code: "upstreamRefused"),
        Failure(name: "connection break", error: MailServerError(.connectionBroken, "connection reset by peer"), status: 502, code: "upstreamRefused"),
        Failure(name: "invalid command", error: MailServerError(.invalidCommand, "line too long"), status: 502, code: "upstreamRefused"),
        Failure(name: "unsupported", error: MailServerError(.unsupported, "no such capability"), status: 502, code: "upstreamUnsupported"),
        Failure(name: "unavailable", error: MailServerError(.unavailable, "connection refused"), status: 503, code: "upstreamUnavailable"),
        Failure(name: "timeout", error: MailServerError(.timeout, "no answer in 30 s"), status: 504, code: "upstreamTimeout"),
    ]

    struct Endpoint: Sendable {
        var name: String
        var method: HTTPRequest.Method
        /// `{F}`: INBOX's folder ID.
        var path: String
        var body: String?
        /// The request's first IMAP command whose failure fails the request: LIST, except where a
        /// recent LIST is reused (a listing: STATUS). A flag change has none once the LIST is
        /// recent: its first command is the STORE, whose failures are
        /// ``aFailedStoreFailsItsItemsOrIsRetried(_:)``'s.
        var firstCommand: FakeCommandKind = .list
    }

    static let endpoints: [Endpoint] = [
        Endpoint(name: "folders", method: .get, path: "/api/v1/folders"),
        Endpoint(name: "mails", method: .get, path: "/api/v1/mails?folderId={F}", firstCommand: .status),
        Endpoint(name: "labels", method: .get, path: "/api/v1/labels"),
        Endpoint(name: "move", method: .post, path: "/api/v1/batch/mails/move", body: #"{"ids": {IDS}, "destinationFolderId": "{A}"}"#),
    ]

    struct Case: CustomStringConvertible, Sendable {
        var failure: Failure
        var endpoint: Endpoint
        var description: String { "\(failure.name) on \(endpoint.name)" }
    }

    static let cases: [Case] = failures.flatMap { failure in endpoints.map { Case(failure: failure, endpoint: $0) } }

    /// The failure strikes the first command of the request that can fail it.
    @Test(arguments: cases)
    func upstreamFailureIsMappedAndChangesNothing(_ testCase: Case) async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 2) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2])
            let path = testCase.endpoint.path.replacingOccurrences(of: "{F}", with: try await gw.folderId("INBOX"))
            let archiveId = try await gw.folderId("Archive")
            let body = testCase.endpoint.body.map {
                $0.replacingOccurrences(of: "{IDS}", with: jsonArray(ids)).replacingOccurrences(of: "{A}", with: archiveId)
            }
            gw.server.inject(FakeFault(kind: testCase.endpoint.firstCommand, timing: .before, error: testCase.failure.error))
            let before = gw.snapshot()
            let reply = try await gw.request(testCase.endpoint.method, path, body: body)
            #expect(reply.status.code == testCase.failure.status, "\(reply.text)")
            #expect(reply.isErrorBody, "\(reply.text)")
            #expect(reply.errorCode == testCase.failure.code)
            #expect(reply.errorField == nil)
            #expect(gw.server.allFaultsFired)
            #expect(!reply.text.contains(alicePassword))
            #expect(gw.snapshot() == before)
            #expect(gw.changingCommands.isEmpty)
            // The next request, the fault spent, succeeds: nothing was left broken.
            let again = try await gw.request(testCase.endpoint.method, path, body: body)
            #expect(again.status == .ok, "\(again.text)")
        }
    }

    /// The login itself fails (before the credentials were ever proven): the same mapping, and an
    /// unreachable server is not counted as a failed login.
    @Test(arguments: failures)
    func failureAtLoginIsMappedAndIsNoFailedLogin(_ failure: Failure) async throws {
        try await TestGateway.run(
            loginThrottle: .init(perUser: .init(burst: 1, refill: .seconds(60)), perAddress: .init(burst: 1, refill: .seconds(60)))
        ) { gw in
            gw.server.inject(FakeFault(kind: .login, count: 2, timing: .before, error: failure.error))
            for _ in 0..<2 {
                let reply = try await gw.request(.get, "/api/v1/folders")
                #expect(reply.status.code == failure.status, "\(reply.text)")
                #expect(reply.isErrorBody)
                #expect(reply.errorCode == failure.code)
            }
            #expect(gw.server.failedLogins == 0)
            // With a burst of one, a single counted failure would make this 429.
            let ok = try await gw.request(.get, "/api/v1/folders")
            #expect(ok.status == .ok, "\(ok.text)")
        }
    }

    /// The server refuses the credentials on the operation's own login (the password changed
    /// after it was proven): 401, not a 5xx.
    @Test func authenticationFailureUpstreamIs401() async throws {
        try await TestGateway.run { gw in
            #expect(try await gw.request(.get, "/api/v1/folders").status == .ok)
            gw.server.inject(FakeFault(kind: .login, timing: .before, error: MailServerError(.authenticationFailed, "NO [AUTHENTICATIONFAILED]")))
            let reply = try await gw.request(.get, "/api/v1/folders")
            AuthenticationTests.expectUnauthorized(reply)
        }
    }

    /// A server without SORT still gets its listings (SPEC §3): the gateway orders them by RFC 5256
    /// itself, and no SORT command reaches the server.
    @Test func listingWithoutSortIsOrderedByTheGateway() async throws {
        try await TestGateway.run(
            capabilities: InMemoryMailServer.defaultCapabilities.subtracting([.sort]),
            setUp: { $0.seed(alice, "INBOX", count: 3) }
        ) { gw in
            let reply = try await gw.request(.get, "/api/v1/mails?folderId=\(try await gw.folderId("INBOX"))&sort=date&dir=ASC")
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(reply.items.count == 3)
            #expect(gw.server.commands(.sort).isEmpty)
        }
    }

    /// A flag change's first IMAP command is its STORE (no search first, and the LIST is recent).
    /// A failure of it that leaves the connection standing fails the items, not the request: 200
    /// with the items in `failedItems`, and the mailbox as it was. A broken connection or a timeout
    /// is retried on a fresh connection (a STORE is idempotent): 200, and the flags are set.
    @Test(arguments: failures)
    func aFailedStoreFailsItsItemsOrIsRetried(_ failure: Failure) async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 2) }) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2])
            gw.server.inject(FakeFault(kind: .store, timing: .before, error: failure.error))
            let before = gw.snapshot()
            let reply = try await gw.batch("update", ["ids": ids, "isFlagged": true])
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(gw.server.allFaultsFired)
            #expect(!reply.text.contains(alicePassword))
            if failure.error.brokeConnection {
                #expect(reply.failedItems == [])
                #expect(gw.server.messages(alice, "INBOX").allSatisfy { $0.has(.flagged) })
            } else {
                #expect(Set(reply.failedItems ?? []) == Set(ids))
                #expect(gw.snapshot() == before)
            }
        }
    }

    /// The kind → status table itself, for every kind (the one mapping, ErrorMiddleware.swift).
    @Test func everyErrorKindHasItsStatus() {
        let expected: [GatewayError.Kind: Int] = [
            .badRequest: 400, .unauthorized: 401, .notFound: 404, .methodNotAllowed: 405, .conflict: 409, .tooLarge: 413,
            .unprocessable: 422, .tooManyRequests: 429, .notImplemented: 501, .upstreamFailed: 502, .upstreamUnavailable: 503,
            .upstreamTimeout: 504, .internalError: 500,
        ]
        for (kind, status) in expected {
            #expect(HTTPStatus.of(kind).code == status, "\(kind)")
            #expect(kind.isRequestProblem == (status < 500 || status == 501))
        }
    }
}
