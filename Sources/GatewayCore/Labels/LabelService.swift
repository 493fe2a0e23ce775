import Foundation
import IMAPCore
import Logging

/// Labels as IMAP keywords: names the client sees, keywords the server stores, IDs the store keeps.
///
/// A name that is a plain IMAP atom of at most 50 octets becomes its own keyword (`Work` → `Work`);
/// any other name gets a generated keyword (`$gw_…`), so user text never reaches the command line
/// as anything but a validated atom. Keywords already on the server show up as labels named after
/// themselves.
public struct LabelService: Sendable {
    let mailServer: any MailServer
    let folders: any FolderStore
    let store: any LabelStore
    let logger: Logger

    /// Names the reference server refuses.
    static let reservedNames: Set<String> = ["junk", "notjunk", "nonjunk"]
    /// The longest name used as its own keyword: Dovecot refuses longer keywords by default
    /// (`mail_max_keyword_length = 50`, "Keyword length too long"), so a longer name, valid as a
    /// label, gets a generated keyword instead.
    static let maxNameKeywordLength = 50
    /// Keywords that are server or client bookkeeping, not labels.
    static let systemKeywords: Set<String> = [
        "$hasattachment", "$hasnoattachment", "$forwarded", "$mdnsent", "$junk", "$notjunk", "junk", "notjunk",
        "nonjunk", "$phishing", "$submitpending", "$submitted",
    ]

    public init(mailServer: any MailServer, folders: any FolderStore, store: any LabelStore, logger: Logger) {
        self.mailServer = mailServer
        self.folders = folders
        self.store = store
        self.logger = logger
    }

    /// Whether a flag on a message is a label's keyword: a keyword (not a system flag) that is
    /// not server or client bookkeeping (``systemKeywords``).
    public static func isLabelKeyword(_ flag: Flag) -> Bool {
        !flag.isSystemFlag && !systemKeywords.contains(flag.rawValue.lowercased())
    }

    /// Label ID by lower-cased keyword for every label keyword among `flags`, recording keywords no
    /// label has yet (what a listing shows as `labelIds`).
    static func labelIds(
        for flags: some Sequence<Flag>, account: String, store: any LabelStore
    ) async throws -> [String: String] {
        let keywords = Set(flags.filter(isLabelKeyword).map(\.rawValue))
        let known = try await store.ensureLabels(account: account, keywords: keywords.sorted())
        return Dictionary(known.map { ($0.keyword.lowercased(), $0.id) }, uniquingKeysWith: { a, _ in a })
    }

    /// The account's labels, after adding the keywords messages carry on the server. A keyword
    /// in a folder's FLAGS that no label has yet is adopted only if a message of that folder
    /// carries it (`UID SEARCH KEYWORD`): servers keep a keyword in FLAGS after the last message
    /// loses it, so a deleted label's keyword would otherwise come back as a label.
    public func list(credentials: AccountCredentials) async throws -> [Label] {
        let known = Set(try await store.labels(account: credentials.user).map { $0.keyword.lowercased() })
        let keywords = try await mailServer.withSession(credentials) { session in
            let directory = try await MailboxDirectory.load(session: session, store: folders, account: credentials.user)
            var found = Set<String>()
            for folder in directory.folders where folder.selectable {
                // A folder deleted since the LIST is skipped, not an error.
                guard let selected = try await Self.selectIfPresent(folder, readOnly: true, on: session) else { continue }
                for flag in selected.flags where Self.isLabelKeyword(flag) {
                    let lowered = flag.rawValue.lowercased()
                    guard !known.contains(lowered), !found.contains(where: { $0.lowercased() == lowered }) else { continue }
                    if try await !session.uidSearch(.keyword(flag)).isEmpty { found.insert(flag.rawValue) }
                }
            }
            return found
        }
        let labels = try await store.ensureLabels(account: credentials.user, keywords: keywords.sorted())
        return labels.filter { Self.isLabelKeyword(Flag($0.keyword)) }
    }

    public func create(credentials: AccountCredentials, name: String) async throws -> Label {
        try Self.validate(name)
        var keyword = Self.generatedKeyword()
        if Flag.isValidKeyword(name), name.utf8.count <= Self.maxNameKeywordLength, !name.hasPrefix("$"),
            Self.isLabelKeyword(Flag(name)),
            try await store.label(account: credentials.user, keyword: name) == nil
        {
            keyword = name
        }
        do {
            return try await store.createLabel(account: credentials.user, name: name, keyword: keyword)
        } catch LabelConflict.duplicateKeyword where keyword == name {
            // Another request gave the keyword `name` a label since the check above (a label listing
            // adopting it from the server): the name is still free, so use a generated keyword.
            return try await store.createLabel(account: credentials.user, name: name, keyword: Self.generatedKeyword())
        }
    }

    /// A keyword for a name that cannot be its own: `$gw_` and 16 random characters.
    static func generatedKeyword() -> String { "$gw_" + RandomToken.keywordSuffix() }

    /// The answer to a label store's conflict: `409 labelExists` for a name, `409
    /// labelKeywordExists` for a keyword (trying again may succeed).
    public static func conflictError(_ conflict: LabelConflict) -> GatewayError {
        switch conflict {
        case .duplicateName(let name):
            GatewayError.conflict("labelExists", "a label named \"\(name)\" already exists", field: "name")
        case .duplicateKeyword(let keyword):
            GatewayError.conflict(
                "labelKeywordExists", "another label already uses the IMAP keyword \"\(keyword)\"; try again", field: "name")
        }
    }

    public func rename(credentials: AccountCredentials, id: String, name: String) async throws -> Label {
        try Self.validate(name)
        guard let label = try await store.renameLabel(account: credentials.user, id: id, name: name) else {
            throw GatewayError.notFound("labelNotFound", "no label with id \(id)", field: "labelId")
        }
        return label
    }

    /// Removes the label's keyword from every message of the account, then forgets the label.
    public func delete(credentials: AccountCredentials, id: String) async throws {
        guard let label = try await store.label(account: credentials.user, id: id) else {
            throw GatewayError.notFound("labelNotFound", "no label with id \(id)", field: "labelId")
        }
        let keyword = Flag(label.keyword)
        try await mailServer.withSession(credentials) { session in
            let directory = try await MailboxDirectory.load(session: session, store: folders, account: credentials.user)
            for folder in directory.folders where folder.selectable {
                guard try await Self.selectIfPresent(folder, readOnly: false, on: session) != nil else { continue }
                let tagged = try await session.uidSearch(.keyword(keyword))
                try await session.uidStore(tagged, .remove, flags: [keyword])
            }
        }
        try await store.deleteLabel(account: credentials.user, id: id)
    }

    /// SELECT (or EXAMINE) a listed folder; nil when the server refuses it, e.g. because another
    /// client deleted it after the LIST.
    static func selectIfPresent(_ folder: FolderInfo, readOnly: Bool, on session: any MailSession) async throws -> SelectedMailbox? {
        do {
            return try await session.select(folder.mailbox, readOnly: readOnly)
        } catch let error as MailServerError where error.kind == .refused {
            return nil
        }
    }

    static func validate(_ name: String) throws {
        guard !name.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw GatewayError.badRequest("invalidLabelName", "a label name must not be empty", field: "name")
        }
        // Counted in Unicode code points, as JSON Schema's maxLength counts them (not grapheme clusters).
        guard name.unicodeScalars.count <= 128 else {
            throw GatewayError.badRequest(
                "invalidLabelName", "a label name has at most 128 characters (Unicode code points)", field: "name")
        }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw GatewayError.badRequest("invalidLabelName", "a label name must not contain control characters", field: "name")
        }
        guard !reservedNames.contains(name.lowercased()) else {
            throw GatewayError.badRequest("invalidLabelName", "\"\(name)\" is a reserved name", field: "name")
        }
    }
}
