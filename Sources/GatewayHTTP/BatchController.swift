import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird
import NIOCore

/// `POST /api/v1/batch/mails/{copy,move,delete,update,labels/add,labels/remove}` and
/// `POST /api/v1/batch/conversations/{move,delete,update,labels/add,labels/remove}` (seed page).
struct BatchController {
    let executor: MailBatchExecutor
    let conversations: ConversationBatchExecutor
    let jobs: JobService
    let configuration: APIConfiguration

    /// The request body of every mail batch endpoint; what each endpoint needs is checked after decoding.
    struct Body: Decodable {
        struct Range: Decodable {
            var start: String
            var limit: Int
            /// The folder of a conversation range (conversation endpoints only).
            var sourceFolderId: String?

            enum CodingKeys: String, CodingKey { case start, limit, sourceFolderId }

            /// `limit` is read as a JSON number and then checked to be a whole number that fits
            /// an `Int`: Foundation reports `1.5` or `1e30` for an `Int` as corrupt data without a
            /// coding path, which would read as "not JSON" instead of naming the field.
            init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: CodingKeys.self)
                start = try container.decode(String.self, forKey: .start)
                if container.contains(.sourceFolderId) {
                    sourceFolderId = try container.decode(String.self, forKey: .sourceFolderId)
                }
                let notAnInteger = DecodingError.typeMismatch(
                    Int.self, .init(codingPath: container.codingPath + [CodingKeys.limit], debugDescription: "not an integer"))
                guard let number = try? container.decode(Double.self, forKey: .limit) else {
                    // Missing or null keep their own errors; anything else is not an integer.
                    _ = try container.decode(Int.self, forKey: .limit)
                    throw notAnInteger
                }
                guard let whole = Int(exactly: number) else { throw notAnInteger }
                limit = whole
            }
        }

        struct SortInfo: Decodable {
            var field: String
            var direction: String
        }

        var ids: [String]?
        var ranges: [Range]?
        var sortInfo: SortInfo?
        var destinationFolderId: String?
        var isUnread: Bool?
        var isFlagged: Bool?
        var labelId: String?

        enum CodingKeys: String, CodingKey {
            case ids, ranges, sortInfo, destinationFolderId, isUnread, isFlagged, labelId
        }

        /// Every field may be left out, but none may be `null`: the schema allows no null, and
        /// `"sortInfo": null` must not pass as "no sortInfo" (`400 invalidField`).
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            func field<T: Decodable>(_ key: CodingKeys) throws -> T? {
                guard container.contains(key) else { return nil }
                if try container.decodeNil(forKey: key) {
                    throw DecodingError.valueNotFound(
                        T.self, .init(codingPath: container.codingPath + [key], debugDescription: "null is not allowed"))
                }
                return try container.decode(T.self, forKey: key)
            }
            ids = try field(.ids)
            ranges = try field(.ranges)
            sortInfo = try field(.sortInfo)
            destinationFolderId = try field(.destinationFolderId)
            isUnread = try field(.isUnread)
            isFlagged = try field(.isFlagged)
            labelId = try field(.labelId)
        }
    }

    /// `{"batchOperationDetails":{"failedItems":[…],"newIds":{…}},"status":"completed","progress":100}`
    struct Reply: Encodable {
        struct Details: Encodable {
            var failedItems: [String]
            var newIds: [String: String]?
        }

        var batchOperationDetails: Details
        var jobKey: String?
        var status: String
        var progress: Double
    }

    enum Endpoint: String, CaseIterable {
        case copy, move, delete, update
        case addLabel = "labels/add"
        case removeLabel = "labels/remove"

        /// The conversation endpoints: all but copy.
        static let conversationEndpoints: [Endpoint] = [.move, .delete, .update, .addLabel, .removeLabel]
    }

    func add(to group: RouterGroup<GatewayRequestContext>) {
        for endpoint in Endpoint.allCases {
            group.post("batch/mails/\(endpoint.rawValue)") { request, context in
                try await handle(endpoint, request: request, context: context)
            }
        }
        for endpoint in Endpoint.conversationEndpoints {
            group.post("batch/conversations/\(endpoint.rawValue)") { request, context in
                try await handleConversations(endpoint, request: request, context: context)
            }
        }
        group.get("batch/jobs/:jobKey") { _, context in
            let key = try context.parameters.require("jobKey")
            guard let job = try await jobs.status(key: key, account: try context.requireCredentials().user) else {
                throw GatewayError.notFound("jobNotFound", "no job with this key", field: "jobKey")
            }
            return JSONResponse.make(Reply(
                batchOperationDetails: .init(failedItems: job.failedItems, newIds: nil), jobKey: job.jobKey,
                status: job.state.rawValue, progress: job.progress))
        }
    }

    func handle(_ endpoint: Endpoint, request: Request, context: GatewayRequestContext) async throws -> Response {
        let credentials = try context.requireCredentials()
        let body: Body = try await JSONBody.decode(Body.self, from: request, limit: configuration.maxBodySize)
        let batch = try Self.validate(body, endpoint: endpoint, configuration: configuration)
        return Self.response(try await executor.submit(batch, credentials: credentials), includeNewIds: endpoint == .copy || endpoint == .move)
    }

    /// A conversation batch: the mail batch's body rules, ranges with `sourceFolderId`, conversation
    /// IDs in `failedItems`, no `newIds`.
    func handleConversations(_ endpoint: Endpoint, request: Request, context: GatewayRequestContext) async throws -> Response {
        let credentials = try context.requireCredentials()
        let body: Body = try await JSONBody.decode(Body.self, from: request, limit: configuration.maxBodySize)
        let batch = try Self.validateConversations(body, endpoint: endpoint, configuration: configuration)
        return Self.response(try await conversations.submit(batch, credentials: credentials), includeNewIds: false)
    }

    static func response(_ result: MailBatchExecutor.Result, includeNewIds: Bool) -> Response {
        switch result {
        case .completed(let outcome):
            return JSONResponse.make(
                Reply(
                    batchOperationDetails: .init(failedItems: outcome.failedItems, newIds: includeNewIds ? outcome.newIds : nil),
                    status: "completed", progress: 100))
        case .started(let job):
            return JSONResponse.make(
                Reply(
                    batchOperationDetails: .init(failedItems: job.failedItems, newIds: nil), jobKey: job.jobKey,
                    status: job.state.rawValue, progress: job.progress),
                status: .created)
        }
    }

    /// ``validate(_:endpoint:configuration:)`` for a conversation endpoint: the same rules, and
    /// every range needs a `sourceFolderId`; an update follows the conversation rule.
    static func validateConversations(_ body: Body, endpoint: Endpoint, configuration: APIConfiguration) throws -> ConversationBatchRequest {
        let mail = try validate(body, endpoint: endpoint, configuration: configuration)
        var ranges: [ConversationRange] = []
        for (index, range) in (body.ranges ?? []).enumerated() {
            guard let folder = range.sourceFolderId, !folder.isEmpty else {
                throw GatewayError.badRequest(
                    "invalidField", "a conversation range needs a \"sourceFolderId\"", field: "ranges[\(index)].sourceFolderId")
            }
            ranges.append(ConversationRange(start: range.start, limit: range.limit, sourceFolderId: folder))
        }
        var operation = mail.operation
        if case .update(let isUnread, let isFlagged) = operation { operation = .conversationUpdate(isUnread: isUnread, isFlagged: isFlagged) }
        return ConversationBatchRequest(operation: operation, ids: mail.ids, ranges: ranges, order: mail.order)
    }

    /// Schema rules beyond JSON types: SPEC §3 "Errors". Needs nothing but the limits, so it is
    /// testable without a server.
    static func validate(_ body: Body, endpoint: Endpoint, configuration: APIConfiguration) throws -> MailBatchRequest {
        let ids = body.ids ?? []
        let ranges = body.ranges ?? []
        guard !ids.isEmpty || !ranges.isEmpty else {
            throw GatewayError.badRequest("missingItems", "give at least one of a non-empty \"ids\" or \"ranges\"", field: "ids")
        }
        guard ids.count <= configuration.maxItems else {
            throw GatewayError.tooLarge(
                "tooManyItems", "at most \(configuration.maxItems) ids per request, got \(ids.count)", field: "ids")
        }
        func required(_ value: String?, _ field: String) throws -> String {
            guard let value, !value.isEmpty else {
                throw GatewayError.badRequest("invalidField", "\"\(field)\" is required", field: field)
            }
            return value
        }
        let operation: MailBatchOperation
        switch endpoint {
        case .copy: operation = .copy(destinationFolderId: try required(body.destinationFolderId, "destinationFolderId"))
        case .move: operation = .move(destinationFolderId: try required(body.destinationFolderId, "destinationFolderId"))
        case .delete: operation = .delete
        case .update:
            guard body.isUnread != nil || body.isFlagged != nil else {
                throw GatewayError.badRequest("missingUpdate", "give \"isUnread\" and/or \"isFlagged\"", field: "isUnread")
            }
            operation = .update(isUnread: body.isUnread, isFlagged: body.isFlagged)
        case .addLabel: operation = .addLabel(labelId: try required(body.labelId, "labelId"))
        case .removeLabel: operation = .removeLabel(labelId: try required(body.labelId, "labelId"))
        }
        // A sortInfo that is given is checked even when no range needs it: the schema holds for every field sent.
        let order = try body.sortInfo.map {
            try Self.sortOrder(field: $0.field, direction: $0.direction, fieldPath: "sortInfo.field", directionPath: "sortInfo.direction")
        }
        if !ranges.isEmpty {
            guard ranges.count <= configuration.maxRanges else {
                throw GatewayError.tooLarge(
                    "tooManyRanges", "at most \(configuration.maxRanges) ranges per request, got \(ranges.count)", field: "ranges")
            }
            guard order != nil else {
                throw GatewayError.badRequest("missingSortInfo", "\"sortInfo\" is required with \"ranges\"", field: "sortInfo")
            }
            for (index, range) in ranges.enumerated() {
                guard range.limit >= 1, range.limit <= configuration.maxItems else {
                    throw GatewayError.badRequest(
                        "invalidField", "a range's limit must be between 1 and \(configuration.maxItems)", field: "ranges[\(index)].limit")
                }
                guard !range.start.isEmpty else {
                    throw GatewayError.badRequest("invalidField", "a range needs a \"start\" ID", field: "ranges[\(index)].start")
                }
            }
        }
        return MailBatchRequest(
            operation: operation, ids: ids, ranges: ranges.map { MailRange(start: $0.start, limit: $0.limit) },
            order: ranges.isEmpty ? nil : order)
    }
}

extension BatchController {
    /// A sort field and direction by their API names; unknown ones are 400 on the given field.
    static func sortOrder(field: String, direction: String, fieldPath: String, directionPath: String) throws -> MailSortOrder {
        guard let sortField = SortField(rawValue: field) else {
            throw GatewayError.badRequest(
                "invalidField", "unknown sort field \"\(field)\"; use one of \(SortField.allCases.map(\.rawValue).joined(separator: ", "))",
                field: fieldPath)
        }
        guard let sortDirection = SortDirection(rawValue: direction.uppercased()) else {
            throw GatewayError.badRequest("invalidField", "sort direction must be ASC or DESC", field: directionPath)
        }
        return MailSortOrder(field: sortField, direction: sortDirection)
    }
}

/// Reads a JSON body within a size limit, turning decoding failures into 400s that name the field.
enum JSONBody {
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw gatewayError(error)
        }
    }

    static func gatewayError(_ error: DecodingError) -> GatewayError {
        func path(_ codingPath: [any CodingKey]) -> String {
            var out = ""
            for key in codingPath {
                if let index = key.intValue {
                    out += "[\(index)]"
                } else {
                    out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
                }
            }
            return out
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return .badRequest("malformedJson", "the body is not valid JSON")
        case .typeMismatch(let type, let context):
            let field = path(context.codingPath)
            if field.isEmpty { return .badRequest("malformedJson", "the body must be a JSON object") }
            return .badRequest("invalidField", "\"\(field)\" must be of type \(type)", field: field)
        case .valueNotFound(_, let context), .dataCorrupted(let context):
            let field = path(context.codingPath)
            return .badRequest("invalidField", "\"\(field)\" has an invalid value", field: field)
        case .keyNotFound(let key, let context):
            let field = path(context.codingPath + [key])
            return .badRequest("invalidField", "\"\(field)\" is required", field: field)
        @unknown default:
            return .badRequest("malformedJson", "the body could not be read")
        }
    }
}
