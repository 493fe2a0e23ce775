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
            let query = try MailController.ListingQuery(request, maxLimit: configuration.maxListLimit)
            let page = try await listing.page(
                credentials: credentials, folderId: query.folderId, order: query.order, start: query.start, limit: query.limit)
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
