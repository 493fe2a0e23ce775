import GatewayApp
import Foundation
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

/// Every bad input gets its status and JSON error, and changes nothing in the mailbox (doveadm look).
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct RequestValidationTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var path: String
        /// Body text; `{IDS}` and `{DEST}` are replaced with real values.
        var body: String
        var status: Int
        var code: String
        var field: String?
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "malformed JSON", path: "move", body: #"{"ids": ["#, status: 400, code: "malformedJson"),
        Case(name: "not an object", path: "delete", body: #"["a"]"#, status: 400, code: "malformedJson"),
        Case(name: "ids of wrong type", path: "delete", body: #"{"ids": [1, 2]}"#, status: 400, code: "invalidField", field: "ids[0]"),
        Case(name: "ids not an array", path: "delete", body: #"{"ids": "x"}"#, status: 400, code: "invalidField", field: "ids"),
        Case(name: "isUnread not boolean", path: "update", body: #"{"ids": {IDS}, "isUnread": "yes"}"#, status: 400, code: "invalidField", field: "isUnread"),
        Case(name: "neither ids nor ranges", path: "delete", body: #"{}"#, status: 400, code: "missingItems", field: "ids"),
        Case(name: "empty ids", path: "delete", body: #"{"ids": []}"#, status: 400, code: "missingItems", field: "ids"),
        Case(name: "update without fields", path: "update", body: #"{"ids": {IDS}}"#, status: 400, code: "missingUpdate"),
        Case(name: "move without destination", path: "move", body: #"{"ids": {IDS}}"#, status: 400, code: "invalidField", field: "destinationFolderId"),
        Case(name: "unknown destination", path: "move", body: #"{"ids": {IDS}, "destinationFolderId": "nope"}"#, status: 404, code: "folderNotFound", field: "destinationFolderId"),
        Case(name: "label without labelId", path: "labels/add", body: #"{"ids": {IDS}}"#, status: 400, code: "invalidField", field: "labelId"),
        Case(name: "unknown label", path: "labels/add", body: #"{"ids": {IDS}, "labelId": "nope"}"#, status: 404, code: "labelNotFound", field: "labelId"),
        Case(name: "too many items", path: "delete", body: #"{"ids": {MANY}}"#, status: 413, code: "tooManyItems", field: "ids"),
        Case(name: "oversize body", path: "delete", body: #"{"ids": {HUGE}}"#, status: 413, code: "payloadTooLarge"),
        Case(name: "ranges without sortInfo", path: "move", body: #"{"ranges": [{"start": "x", "limit": 2}], "destinationFolderId": "{DEST}"}"#, status: 400, code: "missingSortInfo", field: "sortInfo"),
        Case(name: "range of wrong type", path: "delete", body: #"{"ranges": [{"start": 5, "limit": 2}], "sortInfo": {"field": "date", "direction": "ASC"}}"#, status: 400, code: "invalidField", field: "ranges[0].start"),
    ]

    @Test(arguments: cases)
    func badInputIsRefusedAndChangesNothing(_ testCase: Case) async throws {
        try await GatewayHarness.run(configure: {
            $0.maxItems = 50
            $0.maxBodySize = 16 * 1024
        }) { gw in
            let alice = gw.bed.alice
            let box = TestBed.uniqueMailbox("GwBad")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 2)
            let folders = try await gw.folderIDs(alice)
            let ids = uids.map { MailID(folderId: folders[box]!, uidValidity: validity, uid: $0).encoded }
            func json(_ strings: [String]) -> String { "[" + strings.map { "\"\($0)\"" }.joined(separator: ",") + "]" }
            let body = testCase.body
                .replacingOccurrences(of: "{IDS}", with: json(ids))
                .replacingOccurrences(of: "{DEST}", with: folders["Trash"]!)
                .replacingOccurrences(of: "{MANY}", with: json(Array(repeating: ids[0], count: 51)))
                .replacingOccurrences(of: "{HUGE}", with: json(Array(repeating: String(repeating: "A", count: 100), count: 200)))
            let before = try await gw.bed.look(box)
            let reply = try await gw.request(.post, "/api/v1/batch/mails/\(testCase.path)", rawBody: body, auth: alice)
            #expect(reply.status.code == testCase.status)
            #expect(reply.errorCode == testCase.code)
            if let field = testCase.field { #expect(reply.errorField == field) }
            #expect(((reply["error"] as? [String: Any])?["message"] as? String)?.isEmpty == false)
            #expect(try await gw.bed.look(box) == before)
            #expect(try await gw.bed.look("Trash").values.allSatisfy { !before.values.map(\.messageID).contains($0.messageID) })
        }
    }

    @Test func missingOrWrongCredentialsAre401AndChangeNothing() async throws {
        try await GatewayHarness.run { gw in
            let alice = gw.bed.alice
            let box = TestBed.uniqueMailbox("GwAuth")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 1)
            let folders = try await gw.folderIDs(alice)
            let ids = [MailID(folderId: folders[box]!, uidValidity: validity, uid: uids[0]).encoded]
            let before = try await gw.bed.look(box)
            let none = try await gw.request(.post, "/api/v1/batch/mails/delete", json: ["ids": ids], auth: nil)
            #expect(none.status == .unauthorized)
            #expect(none.errorCode == "unauthorized")
            let wrong = try await gw.request(
                .post, "/api/v1/batch/mails/delete", json: ["ids": ids], auth: IMAPCredentials(user: alice.user, password: "wrong"))
            #expect(wrong.status == .unauthorized)
            let garbage = try await gw.request(
                .post, "/api/v1/batch/mails/delete", json: ["ids": ids], auth: nil, headers: [.authorization: "Basic !!!"])
            #expect(garbage.status == .unauthorized)
            let badSession = try await gw.request(
                .get, "/api/v1/folders", auth: nil, headers: [HTTPField.Name("X-Axigen-Session")!: "nope"])
            #expect(badSession.status == .unauthorized)
            #expect(try await gw.bed.look(box) == before)
        }
    }
}
