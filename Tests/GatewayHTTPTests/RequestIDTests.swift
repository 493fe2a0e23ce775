import GatewayCore
@testable import GatewayHTTP
import HTTPTypes
import Testing

/// SPEC §3: every response carries `X-Request-ID`, the client's own when sane, else a new one.
struct RequestIDTests {
    static let header = HTTPField.Name("X-Request-ID")!

    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var sent: String?
        /// Whether the answer must echo what was sent (else: a new ID).
        var echoed: Bool
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "none sent", sent: nil, echoed: false),
        Case(name: "a UUID", sent: "7f0c2a4e-3b1d-4c5e-9f00-0123456789ab", echoed: true),
        Case(name: "dots, colons, underscores", sent: "lb-1:req_42.7", echoed: true),
        Case(name: "128 characters", sent: String(repeating: "a", count: 128), echoed: true),
        Case(name: "129 characters", sent: String(repeating: "a", count: 129), echoed: false),
        Case(name: "a space", sent: "abc def", echoed: false),
        Case(name: "a quote", sent: "abc\"def", echoed: false),
        Case(name: "non-ASCII", sent: "abcé", echoed: false),
        Case(name: "empty", sent: "", echoed: false),
    ]

    @Test(arguments: cases)
    func everyAnswerCarriesAnID(_ testCase: Case) async throws {
        try await TestGateway.run { gw in
            var headers = HTTPFields()
            if let sent = testCase.sent { headers[Self.header] = sent }
            // A route, an error of a route, an unknown path and an unauthenticated request.
            let replies = [
                try await gw.request(.get, "/healthz", headers: headers),
                try await gw.request(.get, "/api/v1/mails?folderId=nope", headers: headers),
                try await gw.request(.get, "/no/such/path", headers: headers),
                try await gw.request(.get, "/api/v1/folders", auth: .none, headers: headers),
            ]
            #expect(replies.map(\.status) == [.ok, .notFound, .notFound, .unauthorized])
            var seen: Set<String> = []
            for reply in replies {
                let id = try #require(reply.headers[Self.header], "\(reply.status)")
                if testCase.echoed {
                    #expect(id == testCase.sent)
                } else {
                    #expect(id != testCase.sent)
                    #expect(id.utf8.count == 22 && RequestIDMiddleware.isSane(id), "\(id)")
                    seen.insert(id)
                }
            }
            // New IDs differ from request to request.
            #expect(testCase.echoed || seen.count == replies.count)
        }
    }
}
