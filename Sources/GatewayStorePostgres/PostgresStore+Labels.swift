import GatewayCore
import PostgresNIO

// Labels: (account, labelId) <-> (IMAP keyword, display name), as in the SQLite store.
//
// Names are unique per account case-insensitively (`name_key` = the name lowercased by Swift);
// keywords too (a unique index on `lower(keyword COLLATE "C")`, ASCII folding like SQLite's NOCASE,
// exact for IMAP's ASCII atoms). Writers of an account's labels take turns (its advisory lock), and
// the unique indexes stand behind the checks: inserts use ON CONFLICT DO NOTHING and look again.
extension PostgresStore {
    /// All labels of the account, ordered by name (case-insensitively; ties and the order itself by
    /// code point, as SQLite's binary collation orders them).
    public func labels(account: String) async throws -> [Label] {
        try await Self.allLabels(client.query(Self.allLabelsQuery(account: account), logger: logger))
    }

    /// The label with this ID in this account, or `nil`.
    public func label(account: String, id: String) async throws -> Label? {
        guard RandomToken.isIdentifier(id) else { return nil }
        return try await Self.firstLabel(
            client.query("SELECT id, keyword, name FROM label WHERE account = \(account) AND id = \(id)", logger: logger))
    }

    /// The label backed by this IMAP keyword (compared case-insensitively), or `nil`.
    public func label(account: String, keyword: String) async throws -> Label? {
        try await Self.firstLabel(client.query(Self.byKeyword(account: account, keyword: keyword), logger: logger))
    }

    /// The label with this name (compared case-insensitively), or `nil`.
    public func label(account: String, name: String) async throws -> Label? {
        try await Self.firstLabel(client.query(Self.byName(account: account, name: name), logger: logger))
    }

    /// Creates a label with a new random ID.
    ///
    /// - Throws: ``LabelConflict/duplicateName(_:)`` when another label of the account has the
    ///   name, ``LabelConflict/duplicateKeyword(_:)`` when one uses the keyword.
    public func createLabel(account: String, name: String, keyword: String) async throws -> Label {
        try await transaction { connection in
            try await AdvisoryLock.labels.take(connection, account: account, logger: logger)
            // A second round only when the insert did nothing: a concurrent replica took the name
            // or keyword first (the checks then say which), or the random ID was taken.
            for _ in 0..<8 {
                if try await Self.firstLabel(connection.query(Self.byName(account: account, name: name), logger: logger)) != nil {
                    throw LabelConflict.duplicateName(name)
                }
                if try await Self.firstLabel(connection.query(Self.byKeyword(account: account, keyword: keyword), logger: logger)) != nil {
                    throw LabelConflict.duplicateKeyword(keyword)
                }
                let label = Label(id: RandomToken.identifier(), keyword: keyword, name: name)
                let inserted = try await connection.query(
                    """
                    INSERT INTO label (account, id, keyword, name, name_key)
                    VALUES (\(account), \(label.id), \(keyword), \(name), \(Self.nameKey(name)))
                    ON CONFLICT DO NOTHING RETURNING id
                    """, logger: logger)
                if try await !inserted.collect().isEmpty { return label }
            }
            throw StoreCorruption("label could not be recorded")
        }
    }

    /// Gives every server keyword that has no label yet a label named after the keyword; existing
    /// labels are left untouched. A keyword whose name (lowercased) already belongs to another label
    /// is skipped, as are system flags (`\Seen`, …) and empty strings, which are not keywords.
    /// Inserts in one transaction, and writes nothing when nothing is missing. Two replicas adding
    /// the same keywords at once end with one label each (the second insert does nothing).
    ///
    /// - Returns: all labels of the account, ordered by name.
    public func ensureLabels(account: String, keywords: [String]) async throws -> [Label] {
        let candidates = keywords.filter { !$0.isEmpty && !$0.hasPrefix("\\") }
        let existing = try await labels(account: account)
        if Self.missingKeywords(candidates, existing: existing).isEmpty { return existing }
        return try await transaction { connection in
            try await AdvisoryLock.labels.take(connection, account: account, logger: logger)
            let labels = try await Self.allLabels(connection.query(Self.allLabelsQuery(account: account), logger: logger))
            var names = Set(labels.map { Self.nameKey($0.name) })
            var ids = Set(labels.map(\.id))
            var new: [Label] = []
            for keyword in Self.missingKeywords(candidates, existing: labels) {
                guard names.insert(Self.nameKey(keyword)).inserted else { continue }
                var id = RandomToken.identifier()
                while !ids.insert(id).inserted { id = RandomToken.identifier() }
                new.append(Label(id: id, keyword: keyword, name: keyword))
            }
            if !new.isEmpty {
                let newIDs = new.map(\.id)
                let newKeywords = new.map(\.keyword)
                let newKeys = new.map { Self.nameKey($0.name) }
                try await connection.query(
                    """
                    INSERT INTO label (account, id, keyword, name, name_key)
                    SELECT \(account), t.id, t.keyword, t.keyword, t.name_key
                    FROM unnest(\(newIDs)::text[], \(newKeywords)::text[], \(newKeys)::text[]) AS t(id, keyword, name_key)
                    ON CONFLICT DO NOTHING
                    """, logger: logger)
            }
            return try await Self.allLabels(connection.query(Self.allLabelsQuery(account: account), logger: logger))
        }
    }

    /// Renames a label; its keyword and ID stay. Renaming to a different case of its own name is allowed.
    ///
    /// - Returns: the updated label, or `nil` when the account has no such label.
    /// - Throws: ``LabelConflict/duplicateName(_:)`` when another label has the name.
    public func renameLabel(account: String, id: String, name: String) async throws -> Label? {
        do {
            return try await transaction { connection in
                try await AdvisoryLock.labels.take(connection, account: account, logger: logger)
                let current = try await Self.firstLabel(
                    connection.query(
                        "SELECT id, keyword, name FROM label WHERE account = \(account) AND id = \(id) FOR UPDATE", logger: logger))
                guard var label = current else { return nil }
                if let other = try await Self.firstLabel(connection.query(Self.byName(account: account, name: name), logger: logger)),
                    other.id != id
                {
                    throw LabelConflict.duplicateName(name)
                }
                try await connection.query(
                    "UPDATE label SET name = \(name), name_key = \(Self.nameKey(name)) WHERE account = \(account) AND id = \(id)",
                    logger: logger)
                label.name = name
                return label
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == Self.uniqueViolation {
            // A concurrent replica gave another label the name between the check and the update.
            throw LabelConflict.duplicateName(name)
        }
    }

    /// Deletes a label (the messages' keyword upstream is the caller's business).
    ///
    /// - Returns: the deleted label, or `nil` when the account has no such label.
    @discardableResult
    public func deleteLabel(account: String, id: String) async throws -> Label? {
        try await Self.firstLabel(
            client.query("DELETE FROM label WHERE account = \(account) AND id = \(id) RETURNING id, keyword, name", logger: logger))
    }

    // MARK: - Helpers

    /// SQLSTATE of a unique index violated.
    static let uniqueViolation = "23505"

    private static func allLabelsQuery(account: String) -> PostgresQuery {
        #"SELECT id, keyword, name FROM label WHERE account = \#(account) ORDER BY name_key COLLATE "C", name COLLATE "C""#
    }

    private static func byName(account: String, name: String) -> PostgresQuery {
        "SELECT id, keyword, name FROM label WHERE account = \(account) AND name_key = \(nameKey(name))"
    }

    /// Uses the unique index on `lower(keyword COLLATE "C")`: ASCII letters compared case-insensitively.
    private static func byKeyword(account: String, keyword: String) -> PostgresQuery {
        #"SELECT id, keyword, name FROM label WHERE account = \#(account) AND lower(keyword COLLATE "C") = \#(asciiLowercased(keyword))"#
    }

    private static func allLabels(_ rows: PostgresRowSequence) async throws -> [Label] {
        var labels: [Label] = []
        for try await (id, keyword, name) in rows.decode((String, String, String).self) {
            labels.append(Label(id: id, keyword: keyword, name: name))
        }
        return labels
    }

    private static func firstLabel(_ rows: PostgresRowSequence) async throws -> Label? {
        try await allLabels(rows).first
    }

    /// The key under which names are compared: the name lowercased (as the SQLite store's `nameKey`).
    static func nameKey(_ name: String) -> String { name.lowercased() }

    /// The keywords (first spelling, in order) that no label uses, compared ASCII-case-insensitively
    /// as the keyword index does.
    private static func missingKeywords(_ keywords: [String], existing: [Label]) -> [String] {
        var seen = Set(existing.map { asciiLowercased($0.keyword) })
        return keywords.filter { seen.insert(asciiLowercased($0)).inserted }
    }

    /// ASCII letters lowercased, everything else kept: what `lower(… COLLATE "C")` does.
    static func asciiLowercased(_ string: String) -> String {
        String(decoding: string.utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}
