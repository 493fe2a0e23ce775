import GRDB

/// One row of the `folder` table: the stable gateway ID of an upstream mailbox of an account.
/// (The `uidValidity` column of migration v1 is no longer written: stale IDs are recognised by the
/// UIDVALIDITY inside each mail ID.)
struct StoredFolder: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    var account: String
    var id: String
    /// The mailbox name as it is sent on the wire (as the server's LIST returned it).
    var mailbox: String
    /// When the row was written (seconds since 1970), so a LIST sent earlier cannot forget it.
    var createdAt: Double?

    static let databaseTableName = "folder"

    /// The columns of the `folder` table, for GRDB's query interface.
    enum Columns {
        static let account = Column("account")
        static let id = Column("id")
        static let mailbox = Column("mailbox")
        static let createdAt = Column("createdAt")
    }
}
