import GRDB
import GatewayCore

// Labels: (account, labelId) <-> (IMAP keyword, display name).
//
// Names are unique per account case-insensitively (`nameKey` = lowercased name); keywords too
// (NOCASE collation, exact for IMAP's ASCII atoms). Policy — maximum length, refused names such
// as `junk`, generating a keyword for a name that is not a valid atom — belongs to the caller:
// the store keeps the mapping consistent and unique, nothing more.
extension GatewayDatabase: LabelStore {
    /// All labels of the account, ordered by name (case-insensitively).
    public func labels(account: String) async throws -> [Label] {
        try await writer.read { db in try Self.allLabels(db, account: account).map(\.label) }
    }

    /// The label with this ID in this account, or `nil`.
    public func label(account: String, id: String) async throws -> Label? {
        guard RandomToken.isIdentifier(id) else { return nil }
        return try await writer.read { db in
            try StoredLabel.fetchOne(db, key: ["account": account, "id": id])?.label
        }
    }

    /// The label backed by this IMAP keyword (compared case-insensitively), or `nil`.
    public func label(account: String, keyword: String) async throws -> Label? {
        try await writer.read { db in try Self.label(db, account: account, keyword: keyword)?.label }
    }

    /// The label with this name (compared case-insensitively), or `nil`.
    public func label(account: String, name: String) async throws -> Label? {
        try await writer.read { db in try Self.label(db, account: account, name: name)?.label }
    }

    /// Creates a label with a new random ID.
    ///
    /// - Throws: ``LabelConflict/duplicateName(_:)`` when another label of the account has the
    ///   name, ``LabelConflict/duplicateKeyword(_:)`` when one uses the keyword.
    public func createLabel(account: String, name: String, keyword: String) async throws -> Label {
        try await writer.write { db in
            if try Self.label(db, account: account, name: name) != nil {
                throw LabelConflict.duplicateName(name)
            }
            if try Self.label(db, account: account, keyword: keyword) != nil {
                throw LabelConflict.duplicateKeyword(keyword)
            }
            let label = StoredLabel(
                account: account, id: try Self.newLabelID(db, account: account), keyword: keyword, name: name)
            try label.insert(db)
            return label.label
        }
    }

    /// Gives every server keyword that has no label yet a label named after the keyword; existing
    /// labels are left untouched. A keyword whose name (lowercased) already belongs to another label
    /// is skipped, as are system flags (`\Seen`, …) and empty strings, which are not keywords.
    /// Inserts in one write transaction, and writes nothing when nothing is missing.
    ///
    /// - Returns: all labels of the account, ordered by name.
    public func ensureLabels(account: String, keywords: [String]) async throws -> [Label] {
        let candidates = keywords.filter { !$0.isEmpty && !$0.hasPrefix("\\") }
        let existing = try await labels(account: account)
        if Self.missingKeywords(candidates, existing: existing).isEmpty { return existing }
        return try await writer.write { db in
            var labels = try Self.allLabels(db, account: account)
            var names = Set(labels.map(\.nameKey))
            for keyword in Self.missingKeywords(candidates, existing: labels) {
                let nameKey = StoredLabel.nameKey(for: keyword)
                guard !names.contains(nameKey) else { continue }
                let label = StoredLabel(
                    account: account, id: try Self.newLabelID(db, account: account), keyword: keyword, name: keyword)
                try label.insert(db)
                labels.append(label)
                names.insert(nameKey)
            }
            return labels.sorted(by: Self.byName).map(\.label)
        }
    }

    /// Renames a label; its keyword and ID stay. Renaming to a different case of its own name is allowed.
    ///
    /// - Returns: the updated label, or `nil` when the account has no such label.
    /// - Throws: ``LabelConflict/duplicateName(_:)`` when another label has the name.
    public func renameLabel(account: String, id: String, name: String) async throws -> Label? {
        try await writer.write { db in
            guard var label = try StoredLabel.fetchOne(db, key: ["account": account, "id": id]) else {
                return nil
            }
            if let other = try Self.label(db, account: account, name: name), other.id != id {
                throw LabelConflict.duplicateName(name)
            }
            label.name = name
            try label.update(db)
            return label.label
        }
    }

    /// Deletes a label (the messages' keyword upstream is the caller's business).
    ///
    /// - Returns: the deleted label, or `nil` when the account has no such label.
    @discardableResult
    public func deleteLabel(account: String, id: String) async throws -> Label? {
        try await writer.write { db in
            guard let label = try StoredLabel.fetchOne(db, key: ["account": account, "id": id]) else {
                return nil
            }
            try label.delete(db)
            return label.label
        }
    }

    // MARK: - Helpers (inside a transaction)

    private static func allLabels(_ db: Database, account: String) throws -> [StoredLabel] {
        try StoredLabel
            .filter(StoredLabel.Columns.account == account)
            .order(StoredLabel.Columns.nameKey, StoredLabel.Columns.name)
            .fetchAll(db)
    }

    private static func label(_ db: Database, account: String, keyword: String) throws -> StoredLabel? {
        // `keyword` has NOCASE collation: this comparison is case-insensitive and uses the unique index.
        try StoredLabel
            .filter(StoredLabel.Columns.account == account && StoredLabel.Columns.keyword == keyword)
            .fetchOne(db)
    }

    private static func label(_ db: Database, account: String, name: String) throws -> StoredLabel? {
        try StoredLabel.fetchOne(db, key: ["account": account, "nameKey": StoredLabel.nameKey(for: name)])
    }

    /// A random label ID not yet used in the account.
    private static func newLabelID(_ db: Database, account: String) throws -> String {
        while true {
            let id = RandomToken.identifier()
            if try !StoredLabel.exists(db, key: ["account": account, "id": id]) { return id }
        }
    }

    /// The keywords (first spelling, in order) that no label uses, compared ASCII-case-insensitively
    /// as the `keyword` column's NOCASE collation does.
    private static func missingKeywords(_ keywords: [String], existing: [some LabelKeyword]) -> [String] {
        var seen = Set(existing.map { asciiLowercased($0.keyword) })
        return keywords.filter { seen.insert(asciiLowercased($0)).inserted }
    }

    private static func asciiLowercased(_ string: String) -> String {
        String(decoding: string.utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    private static func byName(_ lhs: StoredLabel, _ rhs: StoredLabel) -> Bool {
        (lhs.nameKey, lhs.name) < (rhs.nameKey, rhs.name)
    }
}

/// What ``GatewayDatabase/missingKeywords`` reads of a label, row or engine value alike.
protocol LabelKeyword {
    var keyword: String { get }
}

extension Label: LabelKeyword {}
extension StoredLabel: LabelKeyword {}
