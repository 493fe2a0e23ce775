import Foundation
import GRDB
import GatewayCore
import GatewayStore
import Testing

@Suite("Folders")
struct FolderTests {
    @Test("folder IDs are stable, well formed and distinct", arguments: StoreKind.all)
    func stableIDs(kind: StoreKind) async throws {
        try await withStore(kind) { db in
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

            let all = try await db.folderIDs(account: "alice")
            #expect(all.keys.sorted() == ["Archive/2024", "Drafts", "INBOX", "Sent"])  // names are exact: no "inbox"
            #expect(all["Archive/2024"] == first["Archive/2024"])
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
        }
        let db = try GatewayDatabase(path: path)
        #expect(try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Trash"]) == before)

        let (journalMode, foreignKeys) = try await db.writer.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try Bool.fetchOne(db, sql: "PRAGMA foreign_keys"))
        }
        #expect(journalMode == "wal")
        #expect(foreignKeys == true)
    }

    @Test("the same mailbox gets a different ID in each account; accounts are isolated", arguments: StoreKind.all)
    func accountIsolation(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let alice = try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Work"])
            let bob = try await db.ensureFolders(account: "bob", mailboxes: ["INBOX"])
            let aliceInbox = try #require(alice["INBOX"])
            #expect(bob["INBOX"] != aliceInbox)

            #expect(try await db.folderIDs(account: "bob") == ["INBOX": bob["INBOX"]!])
            #expect(try await db.folderIDs(account: "carol").isEmpty)
        }
    }

    @Test("ensureFolders with 1,000 mailboxes is one transaction", arguments: StoreKind.sqlite)
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

    @Test("a LIST sent before a folder was recorded cannot forget it", arguments: StoreKind.all)
    func forgetSparesNewerFolders(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let listedAt = Date()
            // Another request recorded "Fresh" after this request's LIST went out without it.
            try await Task.sleep(for: .milliseconds(5))
            let fresh = try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Fresh"])
            try await db.forgetFolders(account: "alice", except: ["INBOX"], listedAt: listedAt)
            #expect(try await db.folderIDs(account: "alice") == fresh, "both kept: the LIST is older than Fresh's row")
            try await db.forgetFolders(account: "alice", except: ["INBOX"], listedAt: Date())
            #expect(try await db.folderIDs(account: "alice") == ["INBOX": fresh["INBOX"]!], "a later LIST without it forgets it")
        }
    }

    @Test("forgetFolders drops the mailboxes gone upstream, only in that account", arguments: StoreKind.all)
    func forgetFolders(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let alice = try await db.ensureFolders(account: "alice", mailboxes: ["INBOX", "Old", "Older"])
            let bob = try await db.ensureFolders(account: "bob", mailboxes: ["INBOX", "Old"])

            let old = try #require(alice["Old"])
            let order = MailSortOrder(field: .date, direction: .ascending)
            try await db.storeOrder(account: "alice", folderId: old, order: order, cached: CachedOrder(uidValidity: 1, token: "t", uids: [1]))
            try await db.applyMetaSync(
                account: "alice", folderId: old, reset: true, removed: [],
                changed: [MessageMeta(uid: 1, flags: [.seen], modSeq: 1, importance: .normal, hasAttachment: false)],
                state: FolderSyncState(uidValidity: 1, uidNext: 2, highestModSeq: 1))

            try await db.forgetFolders(account: "alice", except: ["INBOX"], listedAt: Date())
            #expect(try await db.folderIDs(account: "alice") == ["INBOX": alice["INBOX"]!])
            #expect(try await db.folderIDs(account: "bob") == bob)
            #expect(try await db.cachedOrder(account: "alice", folderId: old, order: order) == nil, "its caches go with it")
            #expect(try await db.folderSyncState(account: "alice", folderId: old) == nil)
            #expect(try await db.messageMeta(account: "alice", folderId: old).isEmpty)

            // A mailbox that comes back gets a new ID: old mail IDs never address it.
            let back = try await db.ensureFolders(account: "alice", mailboxes: ["Old"])
            #expect(back["Old"] != alice["Old"])

            // Nothing to forget: no change.
            try await db.forgetFolders(account: "alice", except: ["INBOX", "Old", "Unrelated"], listedAt: Date())
            #expect(try await db.folderIDs(account: "alice").count == 2)

            // Everything gone (more than one delete chunk).
            let many = try await db.ensureFolders(account: "carol", mailboxes: (0..<1_200).map { "F\($0)" })
            #expect(many.count == 1_200)
            try await db.forgetFolders(account: "carol", except: [], listedAt: Date())
            #expect(try await db.folderIDs(account: "carol").isEmpty)
        }
    }
}
