import GatewayCore
import HTTPTypes
import Hummingbird

/// `GET /api/v1/conversations?folderId=&sort=&dir=&start=&limit=` (SPEC §3): a window of the
/// conversations with a member in a folder. Parameters as `GET /api/v1/mails`.
struct ConversationController {
    let listing: ConversationListing
    let configuration: APIConfiguration

    struct Reply: Encodable {
        struct Mail: Encodable {
            var mailId: String
            var folderId: String
            var isUnread: Bool
            var isFlagged: Bool
        }

        struct Item: Encodable {
            var id: String
            var subject: String
            var date: String
            var isUnread: Bool
            var isFlagged: Bool
            var hasAttachments: Bool
            var importance: String
            var labelIds: [String]
            var mailCount: Int
            var mails: [Mail]
        }

        var totalItems: Int
        var sortInfo: MailController.Reply.Sort
        var items: [Item]
    }

    func add(to group: RouterGroup<GatewayRequestContext>) {
        group.get("conversations") { request, context in
            let credentials = try context.requireCredentials()
            let query = request.uri.queryParameters
            let folderId = query["folderId"].map { String($0) } ?? ""
            guard !folderId.isEmpty else {
                throw GatewayError.badRequest("invalidField", "\"folderId\" is required", field: "folderId")
            }
            let sort: String = query["sort"].map { String($0) } ?? "date"
            let dir: String = query["dir"].map { String($0) } ?? "DESC"
            let order = try BatchController.sortOrder(field: sort, direction: dir, fieldPath: "sort", directionPath: "dir")
            let startText: String? = query["start"].map { String($0) }
            let limitText: String? = query["limit"].map { String($0) }
            let start = try MailController.integer(startText, default: 0, field: "start", range: 0...Int(Int32.max))
            let limit = try MailController.integer(limitText, default: 50, field: "limit", range: 1...configuration.maxListLimit)
            let page = try await listing.page(credentials: credentials, folderId: folderId, order: order, start: start, limit: limit)
            let items = page.items.map { conversation in
                Reply.Item(
                    id: conversation.id, subject: conversation.subject, date: conversation.date, isUnread: conversation.isUnread,
                    isFlagged: conversation.isFlagged, hasAttachments: conversation.hasAttachments,
                    importance: conversation.importance.name, labelIds: conversation.labelIds, mailCount: conversation.mails.count,
                    mails: conversation.mails.map {
                        Reply.Mail(mailId: $0.mailId, folderId: $0.folderId, isUnread: $0.isUnread, isFlagged: $0.isFlagged)
                    })
            }
            let sortInfo = MailController.Reply.Sort(field: page.order.field.rawValue, direction: page.order.direction.rawValue)
            return JSONResponse.make(Reply(totalItems: page.totalItems, sortInfo: sortInfo, items: items))
        }
    }
}
