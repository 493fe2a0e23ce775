import Foundation
import GRDB
import GatewayStore
import Testing

@Suite("Folders")
struct FolderTests {
    @Test("folder IDs are stable, well formed and distinct", arguments: StoreKind.allCases)
    func stableIDs(kind: StoreKind) async throws {
        try await withDatabase(kind) { db in
            let first = try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Sent", "Archive/2024"])
            #expect(first.count == 3)
            #expect(first.values.allSatisfy(isWellFormedID))
            #expect(Set(first.values).count == 3)

            let second = try await db.ensureFolders(account: "alice", mailboxes: ["Sent", "INBOX", "Drafts", "Sent"])
            #expect(Set(second.keys) == ["Sent", "INBOX", "Drafts"])
            #expect(second["INBOX"] == first["INBOX"])
            #expect(second["Sent"] == first["Sent"])
            let drafts = try #require(second["Drafts"])
            #expect(isWellFormedID(drafts))
            #expect(!first.values.contains(drafts))

            let inboxID = try #require(first["INBOX"])
            let inbox = try #require(try await db.folder(account: "alice", id: inboxID))
            #expect(inbox == StoredFolder(account: "alice", id: inboxID, mailbox: "INBOX", uidValidity: nil))
            #expect(try await db.folder(account: "alice", mailbox: "Archive/2024")?.id == first["Archive/2024"])
            #expect(try await db.folder(account: "alice", mailbox: "inbox") == nil)  // names are exact
            #expect(try await db.folder(account: "alice", id: "nope") == nil)
            #expect(try await db.folder(account: "alice", id: "AAAAAAAAAAAA") == nil)

            let all = try await db.folders(account: "alice")
            #expect(all.map(\.mailbox) == ["Archive/2024", "Drafts", "INBOX", "Sent"])
            #expect(try await db.ensureFolders(account: "alice", mailboxes: []) == [:])
        }
    }

    @Test("folder IDs survive reopening the file database")
    func stableAcrossReopen() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.databasePath
        let before: [String: String]
        do {
            let db = try GatewayDatabase(path: path)
            before = try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Trash"])
            try await db.setUIDValidity(account: "alice", folderId: before["INBOX"]!, uidValidity: 42)
        }
        let db = try GatewayDatabase(path: path)
        #expect(try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Trash"]) == before)
        #expect(try await db.folder(account: "alice", id: before["INBOX"]!)?.uidValidity == 42)

        let (journalMode, foreignKeys) = try await db.writer.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Bool.fetchOne(db, sql: "PRAGMA foreign_keys"))
        }
        #expect(journalMode == "wal")
        #expect(foreignKeys == true)
    }

    @Test("the same mailbox gets a different ID in each account; accounts are isolated", arguments: StoreKind.allCases)
    func accountIsolation(kind: StoreKind) async throws {
        try await withDatabase(kind) { db in
            let alice = try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Work"])
            let bob = try await db.ensureFolders(account: "bob", mailboxes: ["INBOX"])
            let aliceInbox = try #require(alice["INBOX"])
            #expect(bob["INBOX"] != aliceInbox)

            #expect(try await db.folder(account: "bob", id: aliceInbox) == nil)
            #expect(try await db.folder(account: "bob", mailbox: "Work") == nil)
            #expect(try await db.folders(account: "bob").map(\.id) == [bob["INBOX"]!])
            #expect(try await db.folders(account: "carol").isEmpty)

            await #expect(throws: GatewayStoreError.folderNotFound(aliceInbox)) {
                try await db.setUIDValidity(account: "bob", folderId: aliceInbox, uidValidity: 7)
            }
            #expect(try await db.folder(account: "alice", id: aliceInbox)?.uidValidity == nil)
        }
    }

    @Test("ensureFolders with 1,000 mailboxes is one transaction", arguments: StoreKind.allCases)
    func thousandMailboxes(kind: StoreKind) async throws {
        try await withDatabase(kind) { db in
            let counter = CommitCounter(table: "folder")
            db.writer.add(transactionObserver: counter)
            let mailboxes = (0..<1_000).map { "Archive/\($0)" }

            let ids = try await db.ensureFolders(account: "alice", mailboxes: mailboxes)

            #expect(ids.count == 1_000)
            #expect(Set(ids.values).count == 1_000)
            #expect(counter.changes == 1_000)
            #expect(counter.commits == 1)

            // Everything known: no write transaction at all.
            let again = try await db.ensureFolders(account: "alice", mailboxes: mailboxes.reversed())
            #expect(again == ids)
            #expect(counter.commits == 1)

            // One more mailbox: one more transaction, one more row.
            _ = try await db.ensureFolders(account: "alice", mailboxes: mailboxes + ["New"])
            #expect(counter.commits == 2)
            #expect(counter.changes == 1_001)
        }
    }

    @Test("UIDVALIDITY is recorded per folder", arguments: StoreKind.allCases)
    func uidValidity(kind: StoreKind) async throws {
        try await withDatabase(kind) { db in
            let ids = try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Sent"])
            let inbox = try #require(ids["INBOX"])
            #expect(try await db.folder(account: "alice", id: inbox)?.uidValidity == nil)

            try await db.setUIDValidity(account: "alice", folderId: inbox, uidValidity: 1_700_000_000)
            #expect(try await db.folder(account: "alice", id: inbox)?.uidValidity == 1_700_000_000)

            try await db.setUIDValidity(account: "alice", folderId: inbox, uidValidity: .max)
            #expect(try await db.folder(account: "alice", mailbox: "INBOX")?.uidValidity == UInt32.max)
            #expect(try await db.folder(account: "alice", mailbox: "Sent")?.uidValidity == nil)

            // Re-ensuring keeps the recorded value.
            _ = try await db.ensureFolders(account: "alice", mailboxes: ["INBOX"])
            #expect(try await db.folder(account: "alice", id: inbox)?.uidValidity == UInt32.max)

            await #expect(throws: GatewayStoreError.folderNotFound("AAAAAAAAAAAA")) {
                try await db.setUIDValidity(account: "alice", folderId: "AAAAAAAAAAAA", uidValidity: 1)
            }
        }
    }

    @Test("forgetFolders drops the mailboxes gone upstream, only in that account", arguments: StoreKind.allCases)
    func forgetFolders(kind: StoreKind) async throws {
        try await withDatabase(kind) { db in
            let alice = try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Old", "Older"])
            let bob = try await db.ensureFolders(account: "bob", mailboxes: ["INBOX", "Old"])

            try await db.forgetFolders(account: "alice", except: ["INBOX"])
            #expect(try await db.folders(account: "alice").map(\.id) == [alice["INBOX"]!])
            #expect(try await db.folder(account: "alice", id: alice["Old"]!) == nil)
            #expect(Set(try await db.folders(account: "bob").map(\.id)) == Set(bob.values))

            // A mailbox that comes back gets a new ID: old mail IDs never address it.
            let back = try await db.ensureFolders(account: "alice", mailboxes: ["Old"])
            #expect(back["Old"] != alice["Old"])

            // Nothing to forget: no change.
            try await db.forgetFolders(account: "alice", except: ["INBOX", "Old", "Unrelated"])
            #expect(try await db.folders(account: "alice").count == 2)

            // Everything gone (more than one delete chunk).
            let many = try await db.ensureFolders(account: "carol", mailboxes: (0..<1_200).map { "F\($0)" })
            #expect(many.count == 1_200)
            try await db.forgetFolders(account: "carol", except: [])
            #expect(try await db.folders(account: "carol").isEmpty)
        }
    }
}
