import GRDB
import GatewayCore

/// One row of the `label` table: a label of an account, backed by an IMAP keyword.
///
/// Names and keywords are each unique per account, compared case-insensitively. The stored
/// `nameKey` column (the lowercased name) is derived from ``name`` when the row is written.
struct StoredLabel: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    /// The account (IMAP user) the label belongs to.
    var account: String
    /// The gateway's label ID: 12 random URL-safe characters.
    var id: String
    /// The IMAP keyword that marks messages carrying the label.
    var keyword: String
    /// The display name, as the user spelled it.
    var name: String

    init(account: String, id: String, keyword: String, name: String) {
        self.account = account
        self.id = id
        self.keyword = keyword
        self.name = name
    }

    /// The key under which names are compared: the name lowercased.
    var nameKey: String { Self.nameKey(for: name) }

    /// The engine's view of the row.
    var label: Label { Label(id: id, keyword: keyword, name: name) }

    /// The key under which `name` is compared with other names.
    static func nameKey(for name: String) -> String { name.lowercased() }

    static let databaseTableName = "label"

    /// The columns of the `label` table, for GRDB's query interface.
    enum Columns {
        static let account = Column("account")
        static let id = Column("id")
        static let keyword = Column("keyword")
        static let name = Column("name")
        static let nameKey = Column("nameKey")
    }

    init(row: Row) throws {
        account = row[Columns.account]
        id = row[Columns.id]
        keyword = row[Columns.keyword]
        name = row[Columns.name]
    }

    func encode(to container: inout PersistenceContainer) throws {
        container[Columns.account] = account
        container[Columns.id] = id
        container[Columns.keyword] = keyword
        container[Columns.name] = name
        container[Columns.nameKey] = nameKey
    }
}
