import Foundation
import GatewayCore
import GatewayFakes
import GatewayHTTP
import HTTPTypes
import Testing

/// Unknown paths and wrong methods: JSON errors, `Allow` on 405, and no login for either.
struct RoutingTests {
    @Test(arguments: ["/api/v1/no-such-thing", "/nothing", "/api/v2/folders", "/api/v1/batch/mails/archive", "/api/v1/folders/extra"])
    func unknownPathIs404WithJSONBodyAndNoLogin(_ path: String) async throws {
        try await TestGateway.run { gw in
            for method in [HTTPRequest.Method.get, .post, .delete] {
                let reply = try await gw.request(method, path)
                #expect(reply.status == .notFound, "\(method) \(path): \(reply.text)")
                #expect(reply.isErrorBody, "\(reply.text)")
                #expect(reply.errorCode == "notFound")
                #expect(reply.headers[.allow] == nil)
            }
            #expect(gw.server.sessionsOpened == 0)
            #expect(gw.server.failedLogins == 0)
        }
    }

    struct WrongMethod: CustomStringConvertible, Sendable {
        var method: HTTPRequest.Method
        var path: String
        var allow: String
        var description: String { "\(method.rawValue) \(path)" }
    }

    static let wrongMethods: [WrongMethod] = [
        WrongMethod(method: .get, path: "/api/v1/batch/mails/move", allow: "POST"),
        WrongMethod(method: .put, path: "/api/v1/batch/mails/update", allow: "POST"),
        WrongMethod(method: .delete, path: "/api/v1/batch/mails/labels/add", allow: "POST"),
        WrongMethod(method: .post, path: "/api/v1/batch/jobs/someKey", allow: "GET"),
        WrongMethod(method: .delete, path: "/api/v1/folders", allow: "GET"),
        WrongMethod(method: .post, path: "/api/v1/mails", allow: "GET"),
        WrongMethod(method: .put, path: "/api/v1/labels", allow: "GET, POST"),
        WrongMethod(method: .get, path: "/api/v1/labels/someLabel", allow: "DELETE, PATCH"),
        WrongMethod(method: .get, path: "/api/v1/login", allow: "POST"),
        WrongMethod(method: .get, path: "/api/v1/logout", allow: "POST"),
        WrongMethod(method: .post, path: "/healthz", allow: "GET"),
        WrongMethod(method: .patch, path: "/api/v1/openapi.yaml", allow: "GET"),
        // Methods the OpenAPI document declares nowhere (Schemathesis `unsupported_method`).
        WrongMethod(method: .trace, path: "/api/v1/batch/mails/copy", allow: "POST"),
        WrongMethod(method: .trace, path: "/api/", allow: "GET"),
        WrongMethod(method: .options, path: "/api/v1/openapi.yaml", allow: "GET"),
        WrongMethod(method: .delete, path: "/api/v1/batch/jobs/yR3nB8qLw0ZkT5vXe2MdH7cJa9UpS4gFo1NtKiW6bQs", allow: "GET"),
    ]

    /// A known path asked with a method it does not serve is 405 with `Allow` and the JSON error,
    /// even with good credentials, and before any login (none is sent here, and none reaches the server).
    @Test(arguments: wrongMethods)
    func wrongMethodIs405WithAllowBeforeAuthentication(_ testCase: WrongMethod) async throws {
        try await TestGateway.run { gw in
            for auth in [Auth.none, .alice] {
                let reply = try await gw.request(testCase.method, testCase.path, body: "{}", auth: auth)
                #expect(reply.status == .methodNotAllowed, "\(reply.text)")
                #expect(reply.headers[.allow] == testCase.allow)
                #expect(reply.isErrorBody, "\(reply.text)")
                #expect(reply.errorCode == "methodNotAllowed")
            }
            #expect(gw.server.sessionsOpened == 0)
            #expect(gw.changingCommands.isEmpty)
        }
    }

    @Test func versionHealthAndOpenAPINeedNoCredentials() async throws {
        try await TestGateway.run(api: { $0.serverVersion = "9.8.7" }) { gw in
            let version = try await gw.request(.get, "/api", auth: .none)
            #expect(version.status == .ok)
            #expect(version["apiVersion"] as? String == "v1")
            #expect(version["serverVersion"] as? String == "9.8.7")
            let health = try await gw.request(.get, "/healthz", auth: .none)
            #expect(health.status == .ok)
            #expect(health["status"] as? String == "ok")
            let document = try await gw.request(.get, "/api/v1/openapi.yaml", auth: .none)
            #expect(document.status == .ok)
            #expect(document.text.hasPrefix("openapi: 3."))
            #expect(document.text.contains("/api/v1/batch/mails/move:"))
            #expect(gw.server.sessionsOpened == 0)
        }
    }

    /// Every operation the served OpenAPI document names is routed: without credentials each
    /// answers anything but the router's 404 and 405 (path parameters filled with a dummy).
    @Test func everyDocumentedOperationIsRouted() async throws {
        try await TestGateway.run { gw in
            let document = try await gw.request(.get, "/api/v1/openapi.yaml", auth: .none).text
            var operations: [(HTTPRequest.Method, String)] = []
            var path: String?
            for line in document.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("  /"), line.hasSuffix(":") {
                    path = String(line.dropFirst(2).dropLast())
                } else if !line.hasPrefix("    "), !line.isEmpty {
                    path = nil
                } else if let current = path, line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":"),
                    ["get", "post", "put", "patch", "delete"].contains(line.trimmingCharacters(in: .whitespaces).dropLast()),
                    let method = HTTPRequest.Method(line.trimmingCharacters(in: .whitespaces).dropLast().uppercased())
                {
                    operations.append((method, current.replacingOccurrences(of: #"\{[^}]+\}"#, with: "x1", options: .regularExpression)))
                }
            }
            #expect(operations.count >= 25, "\(operations.count) operations read")
            #expect(operations.contains { $0.1 == "/api/v1/batch/conversations/labels/remove" })
            for (method, path) in operations {
                let reply = try await gw.request(method, path, body: method == .post || method == .patch ? "{}" : nil, auth: .none)
                #expect(reply.status != .notFound || reply.errorCode != "notFound", "\(method) \(path)")
                #expect(reply.status != .methodNotAllowed, "\(method) \(path)")
            }
        }
    }
}
