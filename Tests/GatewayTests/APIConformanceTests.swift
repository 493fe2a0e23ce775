import Foundation
import GatewayApp
@testable import GatewayCore
@testable import GatewayHTTP
import GatewayStore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IMAPClient
import NIOCore
import TestBedSupport
import Testing

/// What API fuzzing (integration/fuzz-api.sh, Schemathesis) found, each pinned by a test that needs
/// no IMAP server: the router, the error mapping and the request checks, driven directly.
struct APIConformanceRouterTests {
    /// The real application in front of an IMAP address where nothing listens; every request
    /// here is answered before the gateway would need the server.
    static func withApplication(_ body: @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        var configuration = GatewayConfiguration(
            imap: IMAPServerConfiguration(host: "127.0.0.1", port: 1, connectTimeout: .seconds(1)))
        configuration.databasePath = FileManager.default.temporaryDirectory
            .appendingPathComponent("gateway-conformance-\(UUID().uuidString).sqlite").path
        let app = try GatewayApp.build(configuration: configuration, logger: TestBed.logger)
        try await app.test(.router) { client in try await body(client) }
    }

    struct UndeclaredMethod: CustomStringConvertible, Sendable {
        var method: HTTPRequest.Method
        var path: String
        var allow: String
        var description: String { "\(method.rawValue) \(path)" }
    }

    static let undeclaredMethods: [UndeclaredMethod] = [
        UndeclaredMethod(method: .trace, path: "/api/v1/batch/mails/copy", allow: "POST"),
        UndeclaredMethod(method: .get, path: "/api/v1/batch/mails/labels/remove", allow: "POST"),
        UndeclaredMethod(method: .trace, path: "/api/v1/labels", allow: "GET, POST"),
        UndeclaredMethod(method: .put, path: "/api/v1/labels/lB5qX8mR2nTe", allow: "DELETE, PATCH"),
        UndeclaredMethod(method: .delete, path: "/api/v1/batch/jobs/yR3nB8qLw0ZkT5vXe2MdH7cJa9UpS4gFo1NtKiW6bQs", allow: "GET"),
        UndeclaredMethod(method: .post, path: "/api/v1/folders", allow: "GET"),
        UndeclaredMethod(method: .trace, path: "/api/", allow: "GET"),
        UndeclaredMethod(method: .post, path: "/healthz", allow: "GET"),
        UndeclaredMethod(method: .options, path: "/api/v1/openapi.yaml", allow: "GET"),
    ]

    /// Schemathesis `unsupported_method`: a known path asked with a method the document does not
    /// declare is 405 with `Allow` and the JSON error body, before authentication (it was 404).
    @Test(arguments: undeclaredMethods)
    func undeclaredMethodIs405WithAllow(_ testCase: UndeclaredMethod) async throws {
        try await Self.withApplication { client in
            let response = try await client.execute(uri: testCase.path, method: testCase.method, headers: [:], body: nil)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == testCase.allow)
            #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
            #expect((json?["error"] as? [String: Any])?["code"] as? String == "methodNotAllowed")
        }
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

/// The same findings over real HTTP in front of Dovecot, with an independent look at the mailbox.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct APIConformanceTests {
    static let session = HTTPField.Name("X-Axigen-Session")!

    /// Logout ends the session it names; Basic credentials alone name none: 401 (it was 204).
    @Test func logoutNeedsTheSession() async throws {
        try await GatewayHarness.run { gw in
            let account = gw.bed.alice
            let basicOnly = try await gw.request(.post, "/api/v1/logout", auth: account)
            #expect(basicOnly.status == .unauthorized)
            #expect(basicOnly.errorCode == "unauthorized")
            let login = try await gw.request(.post, "/api/v1/login", auth: account)
            let sessid = try #require(login["sessid"] as? String)
            let logout = try await gw.request(.post, "/api/v1/logout", auth: nil, headers: [Self.session: sessid])
            #expect(logout.status == .noContent)
            let again = try await gw.request(.post, "/api/v1/logout", auth: nil, headers: [Self.session: sessid])
            #expect(again.status == .unauthorized)
        }
    }

    /// A 130-code-point name is refused and creates no label.
    @Test func overlongLabelNameIsRefused() async throws {
        try await GatewayHarness.run { gw in
            // An account with few folders: listing labels EXAMINEs every folder, and alice has hundreds.
            let account = gw.bed.jobHardeningAccount
            let name = String(repeating: "e\u{301}", count: 65)
            let reply = try await gw.request(.post, "/api/v1/labels", json: ["name": name], auth: account)
            #expect(reply.status == .badRequest)
            #expect(reply.errorCode == "invalidLabelName")
            let list = try await gw.request(.get, "/api/v1/labels", auth: account)
            let names = ((list["items"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
            #expect(!names.contains(name))
        }
    }

    /// A valid 60-character atom name became its own keyword, which Dovecot refuses ("Keyword
    /// length too long", over its default 50): every labels/add failed. Such a name now gets a
    /// generated keyword, and the label lands on the message.
    @Test func longAtomLabelNameStillLabelsMails() async throws {
        try await GatewayHarness.run { gw in
            let account = gw.bed.alice
            let box = TestBed.uniqueMailbox("GwLongLabel")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 1)
            let folders = try await gw.folderIDs(account)
            let id = MailID(folderId: folders[box]!, uidValidity: validity, uid: uids[0]).encoded
            let name = "Long" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16))
                + String(repeating: "x", count: 40)
            let created = try await gw.request(.post, "/api/v1/labels", json: ["name": name], auth: account)
            #expect(created.status == .created)
            let labelId = try #require(created["id"] as? String)
            let added = try await gw.request(
                .post, "/api/v1/batch/mails/labels/add", json: ["ids": [id], "labelId": labelId], auth: account)
            #expect(added.status == .ok)
            #expect(added.failedItems.isEmpty)
            // doveadm's look lowercases flags; Dovecot adds $HasAttachment / $HasNoAttachment itself.
            let seen = try #require(try gw.bed.look(box)[uids[0]])
            let keywords = seen.flags.filter { !$0.hasPrefix("\\") && !$0.hasPrefix("$has") }
            #expect(keywords.count == 1, "the label's keyword is on the message: \(keywords)")
            #expect(keywords.allSatisfy { $0.hasPrefix("$gw_") && $0.utf8.count <= 50 })
        }
    }

    /// A batch with `ids` and an unknown sort field is refused and changes nothing.
    @Test func invalidSortInfoWithoutRangesChangesNothing() async throws {
        try await GatewayHarness.run { gw in
            let account = gw.bed.alice
            let box = TestBed.uniqueMailbox("GwSortInfo")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 2)
            let folders = try await gw.folderIDs(account)
            let ids = uids.map { MailID(folderId: folders[box]!, uidValidity: validity, uid: $0).encoded }
            let before = try gw.bed.look(box)
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/delete",
                json: ["ids": ids, "sortInfo": ["field": "nonsense", "direction": "ASC"]], auth: account)
            #expect(reply.status == .badRequest)
            #expect(reply.errorField == "sortInfo.field")
            #expect(try gw.bed.look(box) == before)
        }
    }
}
