import Crypto
import Foundation
import IMAPCore

/// One message of a conversation: where it is, and what the index keeps of it.
public struct ConversationMember: Hashable, Sendable {
    public var folderId: String
    /// The role of the member's folder (conversation rules skip Sent and Drafts for some operations).
    public var role: FolderRole
    public var uidValidity: UInt32
    public var uid: UInt32
    public var headers: ThreadHeaders
    /// Flags, importance and attachments from the metadata cache; nil when the server did not say.
    public var meta: MessageMeta?

    public var mailID: String { MailID(folderId: folderId, uidValidity: uidValidity, uid: uid).encoded }
    public var isUnread: Bool { !(meta?.flags.contains(.seen) ?? true) }
    public var isFlagged: Bool { meta?.flags.contains(.flagged) ?? false }
}

/// Messages of several folders threaded together by RFC 5256 REFERENCES (subject as the fallback),
/// with an ID derived from the thread's root (``ConversationIndex``).
public struct Conversation: Hashable, Sendable {
    public var id: String
    /// The members in thread order: parents before children, siblings by sent date. The first is
    /// the root (or, under a missing root, its oldest child).
    public var members: [ConversationMember]

    public var root: ConversationMember { members[0] }

    /// The newest member's sent date: the conversation's `date`.
    public var date: Int64 { members.map(\.headers.keys.date).max() ?? 0 }
    public var isUnread: Bool { members.contains(where: \.isUnread) }
    public var isFlagged: Bool { members.contains(where: \.isFlagged) }
    public var hasAttachments: Bool { members.contains { $0.meta?.hasAttachment ?? false } }
    public var importance: Importance { members.map { $0.meta?.importance ?? .normal }.max { $0.rawValue < $1.rawValue } ?? .normal }
    public var size: UInt64 { members.reduce(0) { $0 &+ $1.headers.keys.size } }

    /// The ID of a conversation whose root is known by `key` (``ConversationIndex/rootKey``), in
    /// threading scope `scope` (empty for the account's main scope): `c` and 22 base64url
    /// characters of its SHA-256 (132 bits), stable as the thread grows and its members move.
    static func id(key: String, scope: String) -> String {
        let digest = SHA256.hash(data: Data((scope + "\u{0}" + key).utf8))
        let encoded = Data(digest).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        return "c" + encoded.prefix(22)
    }

    /// Conversations in `order`: by the field's value, then by date, then by ID, ascending; DESC
    /// is the exact reverse. Values: `date` the newest member's; `subject`, `from`, `to` the root's
    /// RFC 5256 keys (base subject, first mailbox, `i;unicode-casemap`); `size` the sum;
    /// `isUnread`, `isFlagged`, `hasAttachments` true when any member is; `importance` the highest;
    /// `folderName` none (date, then ID).
    public static func sorted(_ conversations: [Conversation], by order: MailSortOrder) -> [Conversation] {
        sortedIndices(conversations, by: order).map { conversations[$0] }
    }

    /// The positions of `conversations` in the order ``sorted(_:by:)`` gives.
    static func sortedIndices(_ conversations: [Conversation], by order: MailSortOrder) -> [Int] {
        struct Entry {
            var conversation: Conversation
            var index: Int
            var date: Int64
        }
        let entries = conversations.enumerated().map { Entry(conversation: $1, index: $0, date: $1.date) }
        let compare: (Entry, Entry) -> Int
        func numbers<T: Comparable>(_ value: @escaping (Conversation) -> T) -> (Entry, Entry) -> Int {
            { a, b in
                let x = value(a.conversation)
                let y = value(b.conversation)
                return x < y ? -1 : x > y ? 1 : 0
            }
        }
        switch order.field {
        case .date, .folderName: compare = { _, _ in 0 }
        case .subject: compare = { Collation.compare($0.conversation.root.headers.keys.subject, $1.conversation.root.headers.keys.subject) }
        case .from: compare = { Collation.compare($0.conversation.root.headers.keys.from, $1.conversation.root.headers.keys.from) }
        case .to: compare = { Collation.compare($0.conversation.root.headers.keys.to, $1.conversation.root.headers.keys.to) }
        case .size: compare = numbers(\.size)
        case .isUnread: compare = numbers { $0.isUnread ? 1 : 0 }
        case .isFlagged: compare = numbers { $0.isFlagged ? 1 : 0 }
        case .importance: compare = numbers { $0.importance.rawValue }
        case .hasAttachments: compare = numbers { $0.hasAttachments ? 1 : 0 }
        }
        let ascending = entries.sorted { a, b in
            let result = compare(a, b)
            if result != 0 { return result < 0 }
            if a.date != b.date { return a.date < b.date }
            return a.conversation.id < b.conversation.id
        }.map(\.index)
        return order.direction == .ascending ? ascending : ascending.reversed()
    }
}
