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

/// The real gateway over a live HTTP socket in front of `integration/hostile-imap.py`, a scripted
/// IMAP server that is wrong on purpose: it reports UID sets (SEARCH, ESEARCH, COPYUID) naming
/// messages never asked about. SPEC §4: what a server reports is intersected with what the gateway
/// asked before anything acts on it, so no command that changes mail may name another message.
@Suite struct HostileUpstreamGatewayTests {
    enum Operation: String, CaseIterable, Sendable {
        /// Delete to Trash: UID MOVE.
        case delete
        /// Delete with `deleteToTrash` off: UID STORE +FLAGS (\Deleted) and UID EXPUNGE.
        case purge
        case move
        case copy
    }

    struct Case: CustomStringConvertible, Sendable {
        var scenario: String
        var operation: Operation
        var description: String { "\(operation.rawValue) under \(scenario)" }
    }

    static let cases: [Case] = ["esearch-all", "copyuid-foreign", "search-extra"].flatMap { scenario in
        Operation.allCases.map { Case(scenario: scenario, operation: $0) }
    }

    /// The fake server's INBOX holds UIDs 1…10 under this UIDVALIDITY.
    static let inboxUIDValidity: UInt32 = 1001
    static let asked: [UInt32] = [2, 3, 5]

    @Test(arguments: cases)
    func changesOnlyTheMessagesAskedAbout(_ testCase: Case) async throws {
        try await HostileIMAPServer.run(testCase.scenario) { server in
            var configuration = GatewayConfiguration(
                imap: IMAPServerConfiguration(host: "127.0.0.1", port: server.port, commandTimeout: .seconds(30)))
            configuration.httpPort = 0
            configuration.databasePath = FileManager.default.temporaryDirectory
                .appendingPathComponent("gateway-hostile-\(UUID().uuidString).sqlite").path
            configuration.deleteToTrash = testCase.operation != .purge
            defer { try? FileManager.default.removeItem(atPath: configuration.databasePath) }
            let app = try GatewayApp.build(configuration: configuration, logger: TestBed.logger)
            try await app.test(.live) { client in
                let folders = try await Self.folderIDs(client)
                let inbox = try #require(folders["INBOX"])
                let dest = try #require(folders["Dest"])
                let ids = Self.asked.map { MailID(folderId: inbox, uidValidity: Self.inboxUIDValidity, uid: $0).encoded }
                var body: [String: Any] = ["ids": ids]
                let endpoint: String
                switch testCase.operation {
                case .delete, .purge: endpoint = "delete"
                case .move, .copy:
                    endpoint = testCase.operation.rawValue
                    body["destinationFolderId"] = dest
                }
                let response = try await client.execute(
                    uri: "/api/v1/batch/mails/\(endpoint)", method: .post, headers: Self.headers,
                    body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
                let text = String(buffer: response.body)
                #expect(response.status.code < 500, "HTTP \(response.status.code): \(text)")
            }
            let acting = server.commandLog.filter { Self.changingCommand($0) != nil }
            #expect(!acting.isEmpty, "the gateway sent no command that changes mail")
            for line in acting {
                let set = try #require(Self.changingCommand(line))
                #expect(Self.isWithin(set, Set(Self.asked)), "\(line) names messages not asked about")
            }
        }
    }

    static let headers: HTTPFields = [
        .authorization: "Basic " + Data("mallory:secret".utf8).base64EncodedString(),
        .contentType: "application/json",
    ]

    /// Folder name → folder ID from `GET /api/v1/folders` (the fake server's folders are flat).
    static func folderIDs(_ client: any TestClientProtocol) async throws -> [String: String] {
        let response = try await client.execute(uri: "/api/v1/folders", method: .get, headers: headers, body: nil)
        #expect(response.status == .ok, "GET /api/v1/folders: \(String(buffer: response.body))")
        let json = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
        var ids: [String: String] = [:]
        for item in (json?["items"] as? [[String: Any]]) ?? [] {
            if let id = item["id"] as? String, let name = item["name"] as? String { ids[name] = id }
        }
        return ids
    }

    /// The UID set of a logged `UID STORE|EXPUNGE|MOVE|COPY <set> …` line, nil for other commands.
    static func changingCommand(_ line: String) -> String? {
        let words = line.split(separator: " ")
        guard words.count >= 4, words[1].uppercased() == "UID",
            ["STORE", "EXPUNGE", "MOVE", "COPY"].contains(words[2].uppercased())
        else { return nil }
        return String(words[3])
    }

    /// Whether every UID of the wire set `text` (`2:3,5`) is in `allowed`; `*` never is.
    static func isWithin(_ text: String, _ allowed: Set<UInt32>) -> Bool {
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            let ends = pieces.compactMap { UInt32($0) }
            guard pieces.count <= 2, ends.count == pieces.count, let low = ends.min(), let high = ends.max() else { return false }
            // A range wider than the allowed set cannot lie within it; only then is it expanded.
            guard high - low < UInt32(allowed.count), (low...high).allSatisfy(allowed.contains) else { return false }
        }
        return true
    }
}

