import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// `GET /docs` (SPEC §3): Swagger UI over the served OpenAPI document, and `GET /jobs/{jobKey}`,
/// a page that shows a job's progress and failed items by polling its JSON. Every file is in the
/// gateway's own resources (Resources/docs, read once at start; where each came from is in its
/// SOURCES.md), so the pages work with no internet, and the Content-Security-Policy lets them
/// load nothing from anywhere else.
struct DocsController {
    /// A file the pages use, ready to send (a buffer each response shares, not a copy of 1.5 MB).
    struct Asset: Sendable {
        var bytes: ByteBuffer
        var contentType: String
    }

    let assets: [String: Asset]

    /// Only the page's own sources and its vendored assets: names of these kinds, looked up
    /// exactly (no path is built from the request).
    static let contentTypes: [String: String] = [
        "html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8",
        "png": "image/png",
    ]

    static let contentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

    /// Reads Resources/docs; the licence files are served as text beside the files they cover.
    static func load() -> DocsController {
        guard let folder = Bundle.module.url(forResource: "docs", withExtension: nil),
            let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path)
        else { return DocsController(assets: [:]) }
        var assets: [String: Asset] = [:]
        for name in names {
            let type = name.hasPrefix("LICENSE") ? "text/plain; charset=utf-8" : contentTypes[(name as NSString).pathExtension]
            guard let type, let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) else { continue }
            assets[name] = Asset(bytes: ByteBuffer(bytes: data), contentType: type)
        }
        return DocsController(assets: assets)
    }

    func add(to router: Router<GatewayRequestContext>) {
        router.get("docs") { _, _ in try page("index.html") }
        router.get("docs/{file}") { _, context in
            let name = try context.parameters.require("file")
            guard let asset = assets[name], !name.hasSuffix(".html") else { throw Self.notFound }
            return Self.response(asset, cache: "public, max-age=3600")
        }
        router.get("jobs/{jobKey}") { _, _ in try page("job.html") }
    }

    private func page(_ name: String) throws -> Response {
        guard let asset = assets[name] else { throw Self.notFound }
        var response = Self.response(asset, cache: "no-cache")
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }

    private static func response(_ asset: Asset, cache: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: asset.contentType, .cacheControl: cache, .xContentTypeOptions: "nosniff"],
            body: .init(byteBuffer: asset.bytes))
    }

    /// A file the pages do not have: a 404 of its own code, not the router's "no such endpoint".
    private static let notFound = GatewayError.notFound("docsFileNotFound", "no such file of the documentation pages")
}

extension HTTPField.Name {
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!
    static let xContentTypeOptions = HTTPField.Name("X-Content-Type-Options")!
}
