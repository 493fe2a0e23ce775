import IMAPCore
import Tracing

/// The ten sort fields of listings and ranges (SPEC §3).
public enum SortField: String, CaseIterable, Hashable, Sendable {
    case subject, from, to, date, size, isUnread, isFlagged, importance, hasAttachments, folderName

    /// The IMAP SORT criterion for fields the server sorts itself (RFC 5256); nil for the others.
    public var nativeCriterion: SortKey.Criterion? {
        switch self {
        case .subject: .subject
        case .from: .from
        case .to: .to
        case .date: .date
        case .size: .size
        case .isUnread, .isFlagged, .importance, .hasAttachments, .folderName: nil
        }
    }

    /// Whether the order depends on flags (so flag changes invalidate it).
    var dependsOnFlags: Bool { self == .isUnread || self == .isFlagged || self == .hasAttachments }
}

/// ASC or DESC.
public enum SortDirection: String, Hashable, Sendable {
    case ascending = "ASC"
    case descending = "DESC"
}

/// A field and a direction: what `sortInfo` and the listing's `sort`/`dir` name.
public struct MailSortOrder: Hashable, Sendable {
    public var field: SortField
    public var direction: SortDirection

    public init(field: SortField, direction: SortDirection) {
        self.field = field
        self.direction = direction
    }
}

extension MailSortOrder {
    /// Runs one page of a listing as a span of the request's trace (`listing mails`), with its sort field.
    static func withListingSpan<Page: Sendable>(_ name: String, _ order: MailSortOrder, _ body: () async throws -> Page) async throws -> Page {
        try await withSpan(name) { span in
            span.attributes["listing.sort"] = order.field.rawValue
            return try await body()
        }
    }
}
