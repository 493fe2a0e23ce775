import Foundation
import GatewayApp
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IMAPClient
import IMAPCore
import NIOCore
import TestBedSupport
import Testing

/// Runs the real gateway over a live HTTP socket in front of the Dovecot test bed, with a fresh
/// SQLite file, and gives tests a small JSON client plus helpers to set up mailboxes by IMAP.
struct GatewayHarness {
    let bed: TestBed
    let client: any TestClientProtocol

    static func run(
        configure: (inout GatewayConfiguration) -> Void = { _ in },
        _ body: @Sendable (GatewayHarness) async throws -> Void
    ) async throws {
        let bed = try TestBed.require()
        var configuration = GatewayConfiguration(imap: try bed.server())
        configuration.httpPort = 0
        configuration.databasePath = FileManager.default.temporaryDirectory
            .appendingPathComponent("gateway-test-\(UUID().uuidString).sqlite").path
        configure(&configuration)
        let app = try GatewayApp.build(configuration: configuration, logger: TestBed.logger)
        try await app.test(.live) { client in
            try await body(GatewayHarness(bed: bed, client: client))
        }
    }

    /// A decoded JSON answer.
    struct Reply {
        var status: HTTPResponse.Status
        var json: Any?

        subscript(key: String) -> Any? { (json as? [String: Any])?[key] }

        var items: [[String: Any]] { (self["items"] as? [[String: Any]]) ?? [] }
        var errorCode: String? { (self["error"] as? [String: Any])?["code"] as? String }
        var errorField: String? { (self["error"] as? [String: Any])?["field"] as? String }

        var failedItems: [String] {
            ((self["batchOperationDetails"] as? [String: Any])?["failedItems"] as? [String]) ?? []
        }

        var newIds: [String: String] {
            ((self["batchOperationDetails"] as? [String: Any])?["newIds"] as? [String: String]) ?? [:]
        }
    }

    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    func request(
        _ method: HTTPRequest.Method, _ path: String, json: Any? = nil, rawBody: String? = nil,
        auth: IMAPCredentials?, headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let auth { headers[.authorization] = Self.basic(auth.user, auth.password) }
        var body: ByteBuffer?
        if let json {
            headers[.contentType] = "application/json"
            body = ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))
        } else if let rawBody {
            headers[.contentType] = "application/json"
            body = ByteBuffer(string: rawBody)
        }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        var parsed: Any?
        if response.body.readableBytes > 0 {
            parsed = try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))
        }
        return Reply(status: response.status, json: parsed)
    }

    /// Folder name → folder ID, as `GET /api/v1/folders` reports them (full path joined by `/`).
    func folderIDs(_ credentials: IMAPCredentials) async throws -> [String: String] {
        let reply = try await request(.get, "/api/v1/folders", auth: credentials)
        #expect(reply.status == .ok)
        let items = (reply["items"] as? [[String: Any]]) ?? []
        var byID: [String: (name: String, parent: String?)] = [:]
        for item in items {
            if let id = item["id"] as? String, let name = item["name"] as? String {
                byID[id] = (name, item["parentId"] as? String)
            }
        }
        func path(_ id: String) -> String {
            guard let entry = byID[id] else { return "" }
            guard let parent = entry.parent else { return entry.name }
            return path(parent) + "/" + entry.name
        }
        return Dictionary(byID.keys.map { (path($0), $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// Creates a mailbox with `count` messages by IMAP; returns its UIDVALIDITY, UIDs and Message-IDs.
    func makeMailbox(
        _ name: String, count: Int, as credentials: IMAPCredentials? = nil, flags: [[Flag]] = []
    ) async throws -> (uidValidity: UInt32, uids: [UInt32], messageIDs: [String]) {
        let connection = try await bed.connect(credentials)
        defer { connection.close() }
        try await connection.create(MailboxName(name))
        var uids: [UInt32] = []
        var messageIDs: [String] = []
        var validity: UInt32 = 0
        for i in 0..<count {
            let messageID = "<gw-\(i)-\(UUID().uuidString)@example.com>"
            let appended = try #require(
                try await connection.append(
                    TestBed.message(subject: "message \(i)", messageID: messageID), to: MailboxName(name),
                    flags: i < flags.count ? flags[i] : []))
            validity = appended.uidValidity
            uids.append(appended.uid)
            messageIDs.append(messageID)
        }
        return (validity, uids, messageIDs)
    }
}

extension AccountCredentials {
    /// The engine's credentials for a test bed account.
    init(_ credentials: IMAPCredentials) {
        self.init(user: credentials.user, password: credentials.password)
    }
}
