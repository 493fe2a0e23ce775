import GatewayCore
import HTTPTypes
import Hummingbird

/// `GET /api/v1/mails?folderId=&sort=&dir=&start=&limit=` (SPEC §3): a window of a folder's listing.
/// `start` is the 0-based position, `limit` 1…`maxListLimit` (default 50); `sort` defaults to
/// `date`, `dir` to `DESC`.
struct MailController {
    let listing: MailListing
    let configuration: APIConfiguration

    struct Reply: Encodable {
        struct Sort: Encodable {
            var field: String
            var direction: String
        }

        struct Item: Encodable {
            var id: String
            var folderId: String
            var subject: String
            var from: String
            var to: String
            var date: String
            var size: UInt64
            var isUnread: Bool
            var isFlagged: Bool
            var importance: String
            var hasAttachments: Bool
            var labelIds: [String]
            var messageId: String
        }

        var totalItems: Int
        var sortInfo: Sort
        var items: [Item]
    }

    /// `folderId`, `sort`, `dir`, `start` and `limit` of a listing request, checked (400 naming the parameter).
    struct ListingQuery {
        var folderId: String
        var order: MailSortOrder
        var start: Int
        var limit: Int

        init(_ request: Request, maxLimit: Int) throws {
            let query = request.uri.queryParameters
            folderId = query["folderId"].map { String($0) } ?? ""
            guard !folderId.isEmpty else {
                throw GatewayError.badRequest("invalidField", "\"folderId\" is required", field: "folderId")
            }
            let sort: String = query["sort"].map { String($0) } ?? "date"
            let dir: String = query["dir"].map { String($0) } ?? "DESC"
            order = try BatchController.sortOrder(field: sort, direction: dir, fieldPath: "sort", directionPath: "dir")
            let startText: String? = query["start"].map { String($0) }
            let limitText: String? = query["limit"].map { String($0) }
            start = try MailController.integer(startText, default: 0, field: "start", range: 0...Int(Int32.max))
            limit = try MailController.integer(limitText, default: 50, field: "limit", range: 1...maxLimit)
        }
    }

    func add(to group: RouterGroup<GatewayRequestContext>) {
        group.get("mails") { request, context in
            let credentials = try context.requireCredentials()
            let query = try ListingQuery(request, maxLimit: configuration.maxListLimit)
            let page = try await listing.page(
                credentials: credentials, folderId: query.folderId, order: query.order, start: query.start, limit: query.limit)
            let items = page.items.map(Self.item)
            let sortInfo = Reply.Sort(field: page.order.field.rawValue, direction: page.order.direction.rawValue)
            return JSONResponse.make(Reply(totalItems: page.totalItems, sortInfo: sortInfo, items: items))
        }
    }

    static func item(_ mail: MailSummary) -> Reply.Item {
        Reply.Item(
            id: mail.id, folderId: mail.folderId, subject: mail.subject, from: mail.from, to: mail.to, date: mail.date,
            size: mail.size, isUnread: mail.isUnread, isFlagged: mail.isFlagged, importance: mail.importance.name,
            hasAttachments: mail.hasAttachments, labelIds: mail.labelIds, messageId: mail.messageId)
    }

    static func integer(_ text: String?, default value: Int, field: String, range: ClosedRange<Int>) throws -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw GatewayError.badRequest(
                "invalidField", "\"\(field)\" must be an integer from \(range.lowerBound) to \(range.upperBound)", field: field)
        }
        return number
    }
}
