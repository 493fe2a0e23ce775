import Foundation
@testable import GatewayCore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import GatewayHTTP

/// What API fuzzing (integration/fuzz-api.sh, Schemathesis) found, each pinned by a test that needs
/// no IMAP server: the router, the error mapping and the request checks, driven directly.
struct APIConformanceTests {
    /// The routes over the in-memory fakes; every request here is answered before the engine
    /// would need the mail server.
    static func withApplication(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        try await TestGateway.run { gw in try await body(gw.client) }
    }

    @Test func unknownPathStays404() async throws {
        try await Self.withApplication { client in
            for method in [HTTPRequest.Method.get, .trace] {
                let response = try await client.execute(uri: "/api/v1/no-such-thing", method: method, headers: [:], body: nil)
                #expect(response.status == .notFound)
                #expect(response.headers[.allow] == nil)
            }
        }
    }

    /// Finding 14: every 401 carries the Basic challenge (RFC 9110 §11.6.1), logout included.
    @Test func unauthorizedCarriesBasicChallenge() async throws {
        try await Self.withApplication { client in
            let requests: [(HTTPRequest.Method, String, HTTPFields)] = [
                (.get, "/api/v1/folders", [:]),
                (.post, "/api/v1/logout", [:]),
                (.get, "/api/v1/labels", [.authorization: "Bearer nothing"]),
                (.get, "/api/v1/folders", [HTTPField.Name("X-Axigen-Session")!: "no-such-session"]),
            ]
            for (method, path, headers) in requests {
                let response = try await client.execute(uri: path, method: method, headers: headers, body: nil)
                #expect(response.status == .unauthorized, "\(method) \(path)")
                #expect(response.headers[.wwwAuthenticate] == #"Basic realm="mailbox-gateway""#, "\(method) \(path)")
                let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                #expect((json?["error"] as? [String: Any])?["code"] as? String == "unauthorized")
            }
        }
    }

    /// Finding 14: a label keyword taken concurrently was a bare 500; it is a 409 JSON conflict,
    /// and the store's other conflict maps as well.
    @Test func storeConflictsAreClientErrors() {
        typealias Mapping = ErrorMiddleware<GatewayRequestContext>
        let keyword = Mapping.gatewayError(for: LabelConflict.duplicateKeyword("Work") as any Error)
        #expect(HTTPStatus.of(keyword.kind) == .conflict)
        #expect(keyword.code == "labelKeywordExists")
        #expect(keyword.field == "name")
        let name = Mapping.gatewayError(for: LabelConflict.duplicateName("Work") as any Error)
        #expect(HTTPStatus.of(name.kind) == .conflict)
        #expect(name.code == "labelExists")
    }

    /// `maxLength: 128` counts code points (JSON Schema): 65 × "e" + combining acute is 65
    /// characters to Swift but 130 code points, and was accepted.
    @Test func labelNameLengthCountsCodePoints() throws {
        let decomposed = String(repeating: "e\u{301}", count: 65)
        #expect(decomposed.count == 65)
        let error = try #require(throws: GatewayError.self) { try LabelService.validate(decomposed) }
        #expect(error.code == "invalidLabelName")
        #expect(error.field == "name")
        try LabelService.validate(String(repeating: "e\u{301}", count: 64))
        try LabelService.validate(String(repeating: "x", count: 128))
    }

    /// A given `sortInfo` is checked even without `ranges` (it was accepted whatever it held).
    @Test(arguments: [
        (#"{"field": "name", "direction": "ASC"}"#, "sortInfo.field"),
        (#"{"field": "date", "direction": "UP"}"#, "sortInfo.direction"),
    ])
    func sortInfoIsCheckedWithoutRanges(_ sortInfo: String, _ field: String) throws {
        let json = #"{"ids": ["aEoza1E5eFdtUDJhXzE3MDAwMDAwMDBfNDI"], "sortInfo": "# + sortInfo + "}"
        let body = try JSONDecoder().decode(BatchController.Body.self, from: Data(json.utf8))
        let configuration = APIConfiguration()
        let error = try #require(throws: GatewayError.self) {
            try BatchController.validate(body, endpoint: .delete, configuration: configuration)
        }
        #expect(HTTPStatus.of(error.kind) == .badRequest)
        #expect(error.code == "invalidField")
        #expect(error.field == field)
        let valid = try JSONDecoder().decode(
            BatchController.Body.self,
            from: Data(#"{"ids": ["x"], "sortInfo": {"field": "date", "direction": "desc"}}"#.utf8))
        let request = try BatchController.validate(valid, endpoint: .delete, configuration: configuration)
        #expect(request.order == nil, "without ranges the order is checked, not used")
    }

    /// Schemathesis `negative_data_rejection`: `"sortInfo": null` passed as "no sortInfo"; no body
    /// field may be null.
    @Test(arguments: ["sortInfo", "ranges", "destinationFolderId", "isUnread", "isFlagged", "labelId", "ids"])
    func nullBodyFieldIsInvalid(_ name: String) throws {
        let json = "{\"\(name)\": null}"
        let error = try #require(throws: DecodingError.self) {
            try JSONDecoder().decode(BatchController.Body.self, from: Data(json.utf8))
        }
        let mapped = JSONBody.gatewayError(error)
        #expect(HTTPStatus.of(mapped.kind) == .badRequest)
        #expect(mapped.code == "invalidField")
        #expect(mapped.field == name)
    }
}
