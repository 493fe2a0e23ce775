import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing

@testable import GatewayHTTP

/// `GET /docs` and `GET /jobs/{jobKey}` serve the gateway's own files, with a policy that lets
/// them load nothing from elsewhere; only the vendored assets are served, by exact name. (The
/// pages themselves are loaded in a real browser by GatewayTests.OperationsTests.)
struct DocsPageTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var path: String
        var status: HTTPResponse.Status
        var contentType: String?
        var isPage = false
        var testDescription: String { "\(path) → \(status.code)" }
    }

    static let cases: [Case] = [
        Case(path: "/docs", status: .ok, contentType: "text/html; charset=utf-8", isPage: true),
        Case(path: "/jobs/abcDEF123", status: .ok, contentType: "text/html; charset=utf-8", isPage: true),
        Case(path: "/docs/swagger-ui-bundle.js", status: .ok, contentType: "text/javascript; charset=utf-8"),
        Case(path: "/docs/swagger-ui.css", status: .ok, contentType: "text/css; charset=utf-8"),
        Case(path: "/docs/job.js", status: .ok, contentType: "text/javascript; charset=utf-8"),
        Case(path: "/docs/favicon-32x32.png", status: .ok, contentType: "image/png"),
        Case(path: "/docs/LICENSE-swagger-ui", status: .ok, contentType: "text/plain; charset=utf-8"),
        // Not assets: the provenance notes, the pages by file name, anything else.
        Case(path: "/docs/SOURCES.md", status: .notFound, contentType: nil),
        Case(path: "/docs/index.html", status: .notFound, contentType: nil),
        Case(path: "/docs/..%2F..%2FPackage.swift", status: .notFound, contentType: nil),
        Case(path: "/docs/nothing.js", status: .notFound, contentType: nil),
    ]

    @Test(arguments: cases)
    func servesOnlyItsOwnFiles(_ test: Case) async throws {
        try await TestGateway.run { gw in
            let response = try await gw.client.execute(uri: test.path, method: .get, headers: [:], body: nil)
            #expect(response.status == test.status)
            guard test.status == .ok else { return }
            #expect(response.headers[.contentType] == test.contentType)
            #expect(response.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(response.body.readableBytes > 100)
            if test.isPage {
                let policy = try #require(response.headers[.contentSecurityPolicy])
                #expect(policy.hasPrefix("default-src 'self';"))
                #expect(!policy.contains("http"), "no other origin is allowed")
                #expect(response.headers[.cacheControl] == "no-cache")
                let html = String(buffer: response.body)
                #expect(!html.contains("<script>") && !html.contains("http://") && !html.contains("https://"), "no inline script, no other origin")
            }
        }
    }
}
