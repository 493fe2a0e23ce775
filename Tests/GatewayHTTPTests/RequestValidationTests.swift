import Foundation
import GatewayCore
import GatewayFakes
import GatewayHTTP
import HTTPTypes
import Testing

/// Every bad request is answered with its status and SPEC §3's JSON error body naming the field at
/// fault, and changes nothing in the mailboxes (judged on the fake's own state and command log).
struct RequestValidationTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var endpoint: String
        /// `{IDS}`: alice's three INBOX mail IDs; `{ID}`: the first; `{DEST}`: Archive's folder ID;
        /// `{MANY}`: 51 IDs; `{HUGE}`: a body over 16 KiB.
        var body: String
        var status: Int
        var code: String
        /// The `field` the error must name; nil: the error must name none.
        var field: String?
        var description: String { name }
    }

    static let ranges = #""ranges": [{"start": "{ID}", "limit": 2}]"#
    static let sortDate = #""sortInfo": {"field": "date", "direction": "ASC"}"#

    static let cases: [Case] = [
        // The body is not JSON, or not an object.
        Case(name: "malformed JSON", endpoint: "move", body: #"{"ids": ["#, status: 400, code: "malformedJson"),
        Case(name: "empty body", endpoint: "delete", body: "", status: 400, code: "malformedJson"),
        Case(name: "body is an array", endpoint: "delete", body: #"["a"]"#, status: 400, code: "malformedJson"),
        Case(name: "body is a string", endpoint: "update", body: #""ids""#, status: 400, code: "malformedJson"),
        // Wrong types.
        Case(name: "ids of numbers", endpoint: "delete", body: #"{"ids": [1, 2]}"#, status: 400, code: "invalidField", field: "ids[0]"),
        Case(name: "second id a number", endpoint: "delete", body: #"{"ids": ["a", 2]}"#, status: 400, code: "invalidField", field: "ids[1]"),
        Case(name: "ids not an array", endpoint: "delete", body: #"{"ids": "x"}"#, status: 400, code: "invalidField", field: "ids"),
        Case(name: "isUnread a string", endpoint: "update", body: #"{"ids": {IDS}, "isUnread": "yes"}"#, status: 400, code: "invalidField", field: "isUnread"),
        Case(name: "isFlagged a string", endpoint: "update", body: #"{"ids": {IDS}, "isFlagged": "true"}"#, status: 400, code: "invalidField", field: "isFlagged"),
        Case(name: "labelId a number", endpoint: "labels/add", body: #"{"ids": {IDS}, "labelId": 7}"#, status: 400, code: "invalidField", field: "labelId"),
        Case(name: "destination an object", endpoint: "copy", body: #"{"ids": {IDS}, "destinationFolderId": {}}"#, status: 400, code: "invalidField", field: "destinationFolderId"),
        Case(name: "sortInfo a string", endpoint: "delete", body: #"{"ids": {IDS}, "sortInfo": "date"}"#, status: 400, code: "invalidField", field: "sortInfo"),
        Case(name: "range start a number", endpoint: "delete", body: #"{"ranges": [{"start": 5, "limit": 2}], {SORT}}"#, status: 400, code: "invalidField", field: "ranges[0].start"),
        Case(name: "range limit a string", endpoint: "delete", body: #"{"ranges": [{"start": "{ID}", "limit": "2"}], {SORT}}"#, status: 400, code: "invalidField", field: "ranges[0].limit"),
        Case(name: "range limit fractional", endpoint: "delete", body: #"{"ranges": [{"start": "{ID}", "limit": 1.5}], {SORT}}"#, status: 400, code: "invalidField", field: "ranges[0].limit"),
        // Null where the schema allows none.
        Case(name: "ids null", endpoint: "delete", body: #"{"ids": null}"#, status: 400, code: "invalidField", field: "ids"),
        Case(name: "ranges null", endpoint: "delete", body: #"{"ids": {IDS}, "ranges": null}"#, status: 400, code: "invalidField", field: "ranges"),
        Case(name: "sortInfo null", endpoint: "delete", body: #"{"ids": {IDS}, "sortInfo": null}"#, status: 400, code: "invalidField", field: "sortInfo"),
        Case(name: "destination null", endpoint: "move", body: #"{"ids": {IDS}, "destinationFolderId": null}"#, status: 400, code: "invalidField", field: "destinationFolderId"),
        Case(name: "isUnread null", endpoint: "update", body: #"{"ids": {IDS}, "isUnread": null, "isFlagged": true}"#, status: 400, code: "invalidField", field: "isUnread"),
        Case(name: "labelId null", endpoint: "labels/remove", body: #"{"ids": {IDS}, "labelId": null}"#, status: 400, code: "invalidField", field: "labelId"),
        Case(name: "an id null", endpoint: "delete", body: #"{"ids": ["{ID}", null]}"#, status: 400, code: "invalidField", field: "ids[1]"),
        // Missing items and missing operation fields.
        Case(name: "neither ids nor ranges", endpoint: "delete", body: "{}", status: 400, code: "missingItems", field: "ids"),
        Case(name: "empty ids", endpoint: "delete", body: #"{"ids": []}"#, status: 400, code: "missingItems", field: "ids"),
        Case(name: "empty ids and ranges", endpoint: "move", body: #"{"ids": [], "ranges": [], "destinationFolderId": "{DEST}"}"#, status: 400, code: "missingItems", field: "ids"),
        Case(name: "update without a field", endpoint: "update", body: #"{"ids": {IDS}}"#, status: 400, code: "missingUpdate", field: "isUnread"),
        Case(name: "move without destination", endpoint: "move", body: #"{"ids": {IDS}}"#, status: 400, code: "invalidField", field: "destinationFolderId"),
        Case(name: "copy with empty destination", endpoint: "copy", body: #"{"ids": {IDS}, "destinationFolderId": ""}"#, status: 400, code: "invalidField", field: "destinationFolderId"),
        Case(name: "label add without labelId", endpoint: "labels/add", body: #"{"ids": {IDS}}"#, status: 400, code: "invalidField", field: "labelId"),
        Case(name: "label remove with empty labelId", endpoint: "labels/remove", body: #"{"ids": {IDS}, "labelId": ""}"#, status: 400, code: "invalidField", field: "labelId"),
        // Ranges and sortInfo.
        Case(name: "ranges without sortInfo", endpoint: "move", body: #"{{RANGES}, "destinationFolderId": "{DEST}"}"#, status: 400, code: "missingSortInfo", field: "sortInfo"),
        Case(name: "unknown sort field", endpoint: "delete", body: #"{{RANGES}, "sortInfo": {"field": "colour", "direction": "ASC"}}"#, status: 400, code: "invalidField", field: "sortInfo.field"),
        Case(name: "unknown sort field with ids only", endpoint: "delete", body: #"{"ids": {IDS}, "sortInfo": {"field": "arrival", "direction": "ASC"}}"#, status: 400, code: "invalidField", field: "sortInfo.field"),
        Case(name: "unknown sort direction", endpoint: "delete", body: #"{{RANGES}, "sortInfo": {"field": "date", "direction": "UP"}}"#, status: 400, code: "invalidField", field: "sortInfo.direction"),
        Case(name: "sortInfo without direction", endpoint: "delete", body: #"{{RANGES}, "sortInfo": {"field": "date"}}"#, status: 400, code: "invalidField", field: "sortInfo.direction"),
        Case(name: "sortInfo field null", endpoint: "delete", body: #"{{RANGES}, "sortInfo": {"field": null, "direction": "ASC"}}"#, status: 400, code: "invalidField", field: "sortInfo.field"),
        Case(name: "range limit zero", endpoint: "delete", body: #"{"ranges": [{"start": "{ID}", "limit": 0}], {SORT}}"#, status: 400, code: "invalidField", field: "ranges[0].limit"),
        Case(name: "range limit negative", endpoint: "delete", body: #"{"ranges": [{"start": "{ID}", "limit": -3}], {SORT}}"#, status: 400, code: "invalidField", field: "ranges[0].limit"),
        Case(name: "range limit over maxItems", endpoint: "delete", body: #"{"ranges": [{"start": "{ID}", "limit": 51}], {SORT}}"#, status: 400, code: "invalidField", field: "ranges[0].limit"),
        Case(name: "second range's limit bad", endpoint: "delete", body: #"{"ranges": [{"start": "{ID}", "limit": 1}, {"start": "{ID}", "limit": 0}], {SORT}}"#, status: 400, code: "invalidField", field: "ranges[1].limit"),
        Case(name: "range without limit", endpoint: "delete", body: #"{"ranges": [{"start": "{ID}"}], {SORT}}"#, status: 400, code: "invalidField", field: "ranges[0].limit"),
        Case(name: "range with empty start", endpoint: "delete", body: #"{"ranges": [{"start": "", "limit": 1}], {SORT}}"#, status: 400, code: "invalidField", field: "ranges[0].start"),
        // Too large.
        Case(name: "too many ids", endpoint: "delete", body: #"{"ids": {MANY}}"#, status: 413, code: "tooManyItems", field: "ids"),
        Case(name: "too many ranges", endpoint: "update", body: #"{"ranges": [{R}, {R}, {R}, {R}], {SORT}, "isFlagged": true}"#, status: 413, code: "tooManyRanges", field: "ranges"),
        Case(name: "body over the size limit", endpoint: "delete", body: #"{"ids": {HUGE}}"#, status: 413, code: "payloadTooLarge"),
        // Valid JSON naming what does not exist.
        Case(name: "unknown destination folder", endpoint: "move", body: #"{"ids": {IDS}, "destinationFolderId": "nope"}"#, status: 404, code: "folderNotFound", field: "destinationFolderId"),
        Case(name: "unknown label", endpoint: "labels/add", body: #"{"ids": {IDS}, "labelId": "nope"}"#, status: 404, code: "labelNotFound", field: "labelId"),
    ]

    @Test(arguments: cases)
    func badBatchRequestIsRefusedWithItsFieldAndChangesNothing(_ testCase: Case) async throws {
        try await TestGateway.run(
            api: {
                $0.maxItems = 50
                $0.maxRanges = 3
                $0.maxBodySize = 16 * 1024
            },
            setUp: { $0.seed(alice, "INBOX", count: 3) }
        ) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2, 3])
            let body = testCase.body
                .replacingOccurrences(of: "{RANGES}", with: Self.ranges)
                .replacingOccurrences(of: "{SORT}", with: Self.sortDate)
                .replacingOccurrences(of: "{R}", with: #"{"start": "{ID}", "limit": 1}"#)
                .replacingOccurrences(of: "{IDS}", with: jsonArray(ids))
                .replacingOccurrences(of: "{ID}", with: ids[0])
                .replacingOccurrences(of: "{DEST}", with: try await gw.folderId("Archive"))
                .replacingOccurrences(of: "{MANY}", with: jsonArray(Array(repeating: ids[0], count: 51)))
                .replacingOccurrences(of: "{HUGE}", with: jsonArray(Array(repeating: String(repeating: "A", count: 100), count: 200)))
            let before = gw.snapshot()
            let reply = try await gw.request(.post, "/api/v1/batch/mails/\(testCase.endpoint)", body: body)
            #expect(reply.status.code == testCase.status, "\(reply.text)")
            #expect(reply.isErrorBody, "\(reply.text)")
            #expect(reply.errorCode == testCase.code)
            #expect(reply.errorField == testCase.field)
            #expect(gw.snapshot() == before)
            #expect(gw.changingCommands.isEmpty)
        }
    }

    /// A batch whose ranges resolve to more items than the engine's `batch.maxItems` is 413
    /// before anything is acted on (the HTTP check only sees the range's limit, within bounds).
    @Test func rangesResolvingOverTheItemLimitAre413AndChangeNothing() async throws {
        try await TestGateway.run(
            batch: .init(maxItems: 5),
            setUp: { $0.seed(alice, "INBOX", count: 10) }
        ) { gw in
            let ids = try await gw.mailIDs("INBOX", uids: [1, 2])
            let before = gw.snapshot()
            let reply = try await gw.batch(
                "update",
                [
                    "ids": [ids[1]], "ranges": [["start": ids[0], "limit": 8]], "sortInfo": ["field": "date", "direction": "ASC"],
                    "isFlagged": true,
                ])
            #expect(reply.status == .contentTooLarge, "\(reply.text)")
            #expect(reply.isErrorBody)
            #expect(reply.errorCode == "tooManyItems")
            #expect(gw.snapshot() == before)
            #expect(gw.changingCommands.isEmpty)
        }
    }

    struct ListingCase: CustomStringConvertible, Sendable {
        var name: String
        /// Query string; `{F}` is INBOX's folder ID.
        var query: String
        var status: Int
        var code: String
        var field: String
        var description: String { name }
    }

    static let listingCases: [ListingCase] = [
        ListingCase(name: "no folderId", query: "", status: 400, code: "invalidField", field: "folderId"),
        ListingCase(name: "empty folderId", query: "folderId=", status: 400, code: "invalidField", field: "folderId"),
        ListingCase(name: "unknown sort field", query: "folderId={F}&sort=colour", status: 400, code: "invalidField", field: "sort"),
        ListingCase(name: "unknown direction", query: "folderId={F}&dir=UP", status: 400, code: "invalidField", field: "dir"),
        ListingCase(name: "limit zero", query: "folderId={F}&limit=0", status: 400, code: "invalidField", field: "limit"),
        ListingCase(name: "limit over the maximum", query: "folderId={F}&limit=1001", status: 400, code: "invalidField", field: "limit"),
        ListingCase(name: "limit not a number", query: "folderId={F}&limit=ten", status: 400, code: "invalidField", field: "limit"),
        ListingCase(name: "limit empty", query: "folderId={F}&limit=", status: 400, code: "invalidField", field: "limit"),
        ListingCase(name: "limit fractional", query: "folderId={F}&limit=2.5", status: 400, code: "invalidField", field: "limit"),
        ListingCase(name: "start negative", query: "folderId={F}&start=-1", status: 400, code: "invalidField", field: "start"),
        ListingCase(name: "start not a number", query: "folderId={F}&start=first", status: 400, code: "invalidField", field: "start"),
        ListingCase(name: "start beyond Int32", query: "folderId={F}&start=99999999999", status: 400, code: "invalidField", field: "start"),
        ListingCase(name: "unknown folder", query: "folderId=nope", status: 404, code: "folderNotFound", field: "folderId"),
    ]

    @Test(arguments: listingCases)
    func badListingQueryIsRefusedWithItsField(_ testCase: ListingCase) async throws {
        try await TestGateway.run(setUp: { $0.seed(alice, "INBOX", count: 2) }) { gw in
            let query = testCase.query.replacingOccurrences(of: "{F}", with: try await gw.folderId("INBOX"))
            let reply = try await gw.request(.get, "/api/v1/mails?\(query)")
            #expect(reply.status.code == testCase.status, "\(reply.text)")
            #expect(reply.isErrorBody, "\(reply.text)")
            #expect(reply.errorCode == testCase.code)
            #expect(reply.errorField == testCase.field)
            // A refused query is refused before any SORT or FETCH reaches the server.
            if testCase.status == 400 {
                #expect(!gw.server.commandLog.contains { $0.kind == .sort || $0.kind == .fetch })
            }
        }
    }

    struct LabelCase: CustomStringConvertible, Sendable {
        var name: String
        var body: String
        var status: Int
        var code: String
        var field: String?
        var description: String { name }
    }

    static let labelCases: [LabelCase] = [
        LabelCase(name: "malformed JSON", body: #"{"name": "#, status: 400, code: "malformedJson"),
        LabelCase(name: "no name", body: "{}", status: 400, code: "invalidField", field: "name"),
        LabelCase(name: "name a number", body: #"{"name": 5}"#, status: 400, code: "invalidField", field: "name"),
        LabelCase(name: "name null", body: #"{"name": null}"#, status: 400, code: "invalidField", field: "name"),
        LabelCase(name: "empty name", body: #"{"name": ""}"#, status: 400, code: "invalidLabelName", field: "name"),
        LabelCase(name: "blank name", body: #"{"name": "   "}"#, status: 400, code: "invalidLabelName", field: "name"),
        LabelCase(name: "reserved name", body: #"{"name": "Junk"}"#, status: 400, code: "invalidLabelName", field: "name"),
        LabelCase(name: "name over 128 characters", body: #"{"name": "\#(String(repeating: "x", count: 129))"}"#, status: 400, code: "invalidLabelName", field: "name"),
        LabelCase(name: "control character in name", body: #"{"name": "a\u0007b"}"#, status: 400, code: "invalidLabelName", field: "name"),
    ]

    @Test(arguments: labelCases)
    func badLabelNameIsRefusedAndCreatesNoLabel(_ testCase: LabelCase) async throws {
        try await TestGateway.run { gw in
            let reply = try await gw.request(.post, "/api/v1/labels", body: testCase.body)
            #expect(reply.status.code == testCase.status, "\(reply.text)")
            #expect(reply.isErrorBody, "\(reply.text)")
            #expect(reply.errorCode == testCase.code)
            #expect(reply.errorField == testCase.field)
            let labels = try await gw.request(.get, "/api/v1/labels")
            #expect(labels.status == .ok)
            #expect(labels.items.isEmpty)
        }
    }

    /// The same rules hold for a rename: a bad name is refused and the label keeps its name.
    @Test func badRenameKeepsTheLabelsName() async throws {
        try await TestGateway.run { gw in
            let created = try await gw.request(.post, "/api/v1/labels", body: #"{"name": "Work"}"#)
            let id = try #require(created["id"] as? String)
            for body in [#"{"name": "notjunk"}"#, #"{"name": null}"#, "[]"] {
                let reply = try await gw.request(.patch, "/api/v1/labels/\(id)", body: body)
                #expect(reply.status == .badRequest, "\(body): \(reply.text)")
                #expect(reply.isErrorBody)
            }
            let labels = try await gw.request(.get, "/api/v1/labels")
            #expect(labels.items.map { $0["name"] as? String } == ["Work"])
        }
    }
}
