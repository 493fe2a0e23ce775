import Foundation
import GatewayStore
import IMAPClient
import IMAPCore
import Logging

/// Labels as IMAP keywords: names the client sees, keywords the server stores, IDs the store keeps.
///
/// A name that is a plain IMAP atom of at most 50 octets becomes its own keyword (`Work` → `Work`);
/// any other name gets a generated keyword (`$gw_…`), so user text never reaches the command line
/// as anything but a validated atom. Keywords already on the server show up as labels named after
/// themselves.
public struct LabelService: Sendable {
    let pool: IMAPConnectionPool
    let database: GatewayDatabase
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

    public init(pool: IMAPConnectionPool, database: GatewayDatabase, logger: Logger) {
        self.pool = pool
        self.database = database
        self.logger = logger
    }

    /// The account's labels, after adding the keywords found on the server (FLAGS of each folder).
    public func list(credentials: IMAPCredentials) async throws -> [StoredLabel] {
        let keywords = try await pool.withConnection(credentials) { connection in
            let directory = try await MailboxDirectory.load(connection: connection, database: database, account: credentials.user)
            var found = Set<String>()
            for folder in directory.folders where folder.selectable {
                // A folder deleted since the LIST is skipped, not an error.
                guard let selected = try await Self.selectIfPresent(folder, readOnly: true, on: connection) else { continue }
                for flag in selected.flags where !flag.isSystemFlag { found.insert(flag.rawValue) }
            }
            return found
        }
        let labels = try await database.ensureLabels(
            account: credentials.user, keywords: keywords.filter { !Self.systemKeywords.contains($0.lowercased()) }.sorted())
        return labels.filter { !Self.systemKeywords.contains($0.keyword.lowercased()) }
    }

    public func create(credentials: IMAPCredentials, name: String) async throws -> StoredLabel {
        try Self.validate(name)
        var keyword = "$gw_" + RandomKeyword.make()
        let lowered = name.lowercased()
        if Flag.isValidKeyword(name), name.utf8.count <= Self.maxNameKeywordLength, !name.hasPrefix("$"),
            !Self.systemKeywords.contains(lowered),
            try await database.label(account: credentials.user, keyword: name) == nil
        {
            keyword = name
        }
        do {
            return try await insert(credentials: credentials, name: name, keyword: keyword)
        } catch let error as GatewayError where error.code == Self.keywordConflictCode && keyword == name {
            // Another request gave the keyword `name` a label since the check above (a label listing
            // adopting it from the server): the name is still free, so use a generated keyword.
            return try await insert(credentials: credentials, name: name, keyword: "$gw_" + RandomKeyword.make())
        }
    }

    /// Stores a new label, turning the store's conflicts into 409 answers.
    private func insert(credentials: IMAPCredentials, name: String, keyword: String) async throws -> StoredLabel {
        do {
            return try await database.createLabel(account: credentials.user, name: name, keyword: keyword)
        } catch GatewayStoreError.duplicateLabelName {
            throw GatewayError.conflict("labelExists", "a label named \"\(name)\" already exists", field: "name")
        } catch GatewayStoreError.duplicateLabelKeyword {
            throw Self.keywordConflict(keyword)
        }
    }

    static let keywordConflictCode = "labelKeywordExists"

    /// `409 labelKeywordExists`: another label already uses the IMAP keyword; trying again may succeed.
    public static func keywordConflict(_ keyword: String) -> GatewayError {
        GatewayError.conflict(
            keywordConflictCode, "another label already uses the IMAP keyword \"\(keyword)\"; try again", field: "name")
    }

    public func rename(credentials: IMAPCredentials, id: String, name: String) async throws -> StoredLabel {
        try Self.validate(name)
        do {
            guard let label = try await database.renameLabel(account: credentials.user, id: id, name: name) else {
                throw GatewayError.notFound("labelNotFound", "no label with id \(id)", field: "labelId")
            }
            return label
        } catch GatewayStoreError.duplicateLabelName {
            throw GatewayError.conflict("labelExists", "a label named \"\(name)\" already exists", field: "name")
        }
    }

    /// Removes the label's keyword from every message of the account, then forgets the label.
    public func delete(credentials: IMAPCredentials, id: String) async throws {
        guard let label = try await database.label(account: credentials.user, id: id) else {
            throw GatewayError.notFound("labelNotFound", "no label with id \(id)", field: "labelId")
        }
        let keyword = Flag(label.keyword)
        try await pool.withConnection(credentials) { connection in
            let directory = try await MailboxDirectory.load(connection: connection, database: database, account: credentials.user)
            for folder in directory.folders where folder.selectable {
                guard try await Self.selectIfPresent(folder, readOnly: false, on: connection) != nil else { continue }
                let tagged = try await connection.uidSearch(.keyword(keyword))
                try await connection.uidStore(tagged, .remove, flags: [keyword])
            }
        }
        _ = try await database.deleteLabel(account: credentials.user, id: id)
    }

    /// SELECT (or EXAMINE) a listed folder; nil when the server refuses it, e.g. because another
    /// client deleted it after the LIST.
    static func selectIfPresent(_ folder: FolderInfo, readOnly: Bool, on connection: IMAPConnection) async throws -> SelectedMailbox? {
        do {
            return try await connection.select(folder.mailbox, readOnly: readOnly)
        } catch IMAPError.commandFailed {
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

/// Random keyword suffixes (lower-case letters and digits, 16 characters).
enum RandomKeyword {
    static func make() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }
}
