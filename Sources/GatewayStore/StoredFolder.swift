import GRDB

/// One row of the `folder` table: the stable gateway ID of an upstream mailbox of an account.
public struct StoredFolder: Codable, Sendable, Hashable, FetchableRecord, PersistableRecord {
    /// The account (IMAP user) the folder belongs to.
    public var account: String
    /// The gateway's folder ID: 12 random URL-safe characters, stable for the mailbox.
    public var id: String
    /// The mailbox name as it is sent on the wire (as the server's LIST returned it).
    public var mailbox: String
    /// The UIDVALIDITY last seen for the mailbox, `nil` until the mailbox has been selected.
    public var uidValidity: UInt32?

    public init(account: String, id: String, mailbox: String, uidValidity: UInt32? = nil) {
        self.account = account
        self.id = id
        self.mailbox = mailbox
        self.uidValidity = uidValidity
    }

    public static let databaseTableName = "folder"

    /// The columns of the `folder` table, for GRDB's query interface.
    public enum Columns {
        public static let account = Column("account")
        public static let id = Column("id")
        public static let mailbox = Column("mailbox")
        public static let uidValidity = Column("uidValidity")
    }
}
