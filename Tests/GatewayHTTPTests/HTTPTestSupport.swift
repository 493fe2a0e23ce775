import Foundation
import GatewayCore
import GatewayFakes
@testable import GatewayHTTP
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IMAPCore
import Logging
import NIOCore
import Testing

/// The account every HTTP test acts for (``EngineHarness``'s default).
let alice = "alice"
let alicePassword = "secret"

/// How a request authenticates.
enum Auth: Sendable {
    case none
    case basic(String, String)
    /// `Authorization` exactly as given.
    case authorization(String)
    case session(String)
    case trusted(user: String?, key: String?)

    static let alice = Auth.basic(GatewayHTTPTests.alice, alicePassword)

    var headers: HTTPFields {
        var fields = HTTPFields()
        switch self {
        case .none: break
        case .basic(let user, let password): fields[.authorization] = Self.basicHeader(user, password)
        case .authorization(let value): fields[.authorization] = value
        case .session(let id): fields[HTTPField.Name("X-Axigen-Session")!] = id
        case .trusted(let user, let key):
            if let user { fields[HTTPField.Name("X-Mailbox-User")!] = user }
            if let key { fields[HTTPField.Name("X-Gateway-Key")!] = key }
        }
        return fields
    }

    static func basicHeader(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }
}

/// One HTTP answer, its body parsed as JSON where it is JSON.
struct Reply: Sendable {
    var status: HTTPResponse.Status
    var headers: HTTPFields
    var body: Data

    var json: Any? { try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) }
    var object: [String: Any] { (json as? [String: Any]) ?? [:] }
    subscript(key: String) -> Any? { object[key] }
    var text: String { String(decoding: body, as: UTF8.self) }

    var isJSON: Bool { headers[.contentType]?.hasPrefix("application/json") == true && json != nil }

    var error: [String: Any]? { self["error"] as? [String: Any] }
    var errorCode: String? { error?["code"] as? String }
    var errorMessage: String? { error?["message"] as? String }
    var errorField: String? { error?["field"] as? String }

    var details: [String: Any]? { self["batchOperationDetails"] as? [String: Any] }
    var failedItems: [String]? { details?["failedItems"] as? [String] }
    var newIds: [String: String]? { details?["newIds"] as? [String: String] }
    var items: [[String: Any]] { (self["items"] as? [[String: Any]]) ?? [] }

    /// Whether the body is exactly SPEC §3's error shape: `{"error":{"code","message"[,"field"]}}`,
    /// nothing else, with a non-empty camelCase code and a non-empty message.
    var isErrorBody: Bool {
        guard isJSON, object.keys.sorted() == ["error"], let error, let code = error["code"] as? String,
            let message = error["message"] as? String
        else { return false }
        let allowed: Set<String> = ["code", "message", "field"]
        return Set(error.keys).isSubset(of: allowed) && !code.isEmpty && code.first!.isLowercase && !message.isEmpty
            && (error["field"] == nil || error["field"] is String)
    }
}

/// The gateway's router over an engine built on the in-memory fakes (``EngineHarness``: an
/// ``InMemoryMailServer`` with alice's standard mailboxes, an in-memory SQLite store and session
/// store), driven in process by Hummingbird's router test client. No Dovecot, no socket.
struct TestGateway: Sendable {
    let harness: EngineHarness
    let configuration: APIConfiguration
    let client: any TestClientProtocol

    var server: InMemoryMailServer { harness.server }

    /// Engine logs are off; so are the application's (5xx answers log an error line).
    static let quietLogger = Logger(label: "GatewayHTTPTests", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Builds a fresh server, engine and router, lets `setUp` prepare the server (it already holds
    /// alice/secret with INBOX, Archive, Drafts, Sent, Trash and Junk), then runs `body`.
    static func run(
        api configure: (inout APIConfiguration) -> Void = { _ in },
        batch: MailBatchExecutor.Configuration = .init(),
        loginThrottle: LoginThrottle.Configuration = .init(),
        capabilities: Set<Capability> = InMemoryMailServer.defaultCapabilities,
        setUp: (InMemoryMailServer) -> Void = { _ in },
        readiness: [ReadinessCheck] = [],
        _ body: @Sendable (TestGateway) async throws -> Void
    ) async throws {
        var configuration = APIConfiguration()
        configure(&configuration)
        let api = configuration
        let server = InMemoryMailServer(capabilities: capabilities)
        let harness = try EngineHarness(
            server: server, user: alice, password: alicePassword,
            configuration: MailboxEngine.Configuration(
                batch: batch, jobs: .init(retryDelay: .milliseconds(10), resumeGuard: .zero), loginThrottle: loginThrottle,
                // Long, so that a kept folder list never expires halfway through a test on a slow machine.
                folderListAge: .seconds(600)))
        setUp(server)
        let router = GatewayAPI.buildRouter(engine: harness.engine, configuration: api, readiness: readiness, metrics: .empty)
        let app = Application(router: router, logger: quietLogger)
        try await app.test(.router) { client in
            try await body(TestGateway(harness: harness, configuration: api, client: client))
        }
    }

    // MARK: Requests

    func request(
        _ method: HTTPRequest.Method, _ path: String, body: String? = nil, auth: Auth = .alice, headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = auth.headers
        if body != nil { headers[.contentType] = "application/json" }
        for field in extra { headers.append(field) }
        let response = try await client.execute(
            uri: path, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
    }

    /// POSTs a JSON object (built with JSONSerialization) to a mail batch endpoint.
    func batch(_ endpoint: String, _ object: [String: Any], auth: Auth = .alice) async throws -> Reply {
        try await request(.post, "/api/v1/batch/mails/\(endpoint)", body: json(object), auth: auth)
    }

    // MARK: IDs, through the engine (not through the HTTP layer under test)

    func folderId(_ mailbox: String) async throws -> String { try await harness.folderId(mailbox) }

    func mailIDs(_ mailbox: String, uids: [UInt32]) async throws -> [String] { try await harness.mailIDs(mailbox, uids: uids) }

    // MARK: Looking at the fake, independently of the engine

    /// Every mailbox of `user` as the fake holds it now.
    func snapshot(_ user: String = alice) -> [String: FakeMailboxState] {
        var out: [String: FakeMailboxState] = [:]
        for name in server.mailboxNames(user) { out[name] = server.mailbox(user, name) }
        return out
    }

    /// Commands that change mailboxes, run so far.
    var changingCommands: [LoggedCommand] {
        let changing: Set<FakeCommandKind> = [.store, .copy, .move, .expunge, .append]
        return server.commandLog.filter { changing.contains($0.kind) }
    }

    func messages(_ mailbox: String, _ user: String = alice) -> [FakeMessage] { server.messages(user, mailbox) }
}

/// JSON text of an object (keys sorted, for readable failures).
func json(_ object: Any) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])) ?? Data()
    return String(decoding: data, as: UTF8.self)
}

/// A JSON array of strings.
func jsonArray(_ strings: [String]) -> String { json(strings) }

/// The double a JSON number parsed into (JSONSerialization gives NSNumber, Int or Double).
func number(_ value: Any?) -> Double? {
    switch value {
    case let value as Double: value
    case let value as Int: Double(value)
    case let value as NSNumber: value.doubleValue
    default: nil
    }
}
