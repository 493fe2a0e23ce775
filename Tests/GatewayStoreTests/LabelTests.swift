import GatewayCore
import GatewayStore
import Testing

@Suite("Labels")
struct LabelTests {
    @Test("create, then look up by ID, name and keyword case-insensitively", arguments: StoreKind.all)
    func createAndLookUp(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let work = try await db.createLabel(account: "alice", name: "Work", keyword: "Work")
            #expect(isWellFormedID(work.id))
            #expect(work == Label(id: work.id, keyword: "Work", name: "Work"))

            #expect(try await db.label(account: "alice", id: work.id) == work)
            #expect(try await db.label(account: "alice", name: "wORK") == work)
            #expect(try await db.label(account: "alice", keyword: "WORK") == work)
            #expect(try await db.label(account: "alice", keyword: "Play") == nil)
            #expect(try await db.label(account: "alice", name: "Play") == nil)
            #expect(try await db.label(account: "alice", id: "AAAAAAAAAAAA") == nil)

            // Non-ASCII names fold too.
            let cafe = try await db.createLabel(account: "alice", name: "CAFÉ", keyword: "$cafe")
            #expect(try await db.label(account: "alice", name: "café") == cafe)

            await #expect(throws: LabelConflict.duplicateName("WORK")) {
                try await db.createLabel(account: "alice", name: "WORK", keyword: "Other")
            }
            await #expect(throws: LabelConflict.duplicateKeyword("work")) {
                try await db.createLabel(account: "alice", name: "Job", keyword: "work")
            }

            let zed = try await db.createLabel(account: "alice", name: "zed", keyword: "zed")
            let apple = try await db.createLabel(account: "alice", name: "Apple", keyword: "apple")
            #expect(try await db.labels(account: "alice") == [apple, cafe, work, zed])
        }
    }

    @Test("ensureLabels adds server keywords and keeps existing labels", arguments: StoreKind.all)
    func ensureLabels(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let mine = try await db.createLabel(account: "alice", name: "My Work", keyword: "MyWork")
            let urgent = try await db.createLabel(account: "alice", name: "Urgent", keyword: "X-Urgent-1")

            let labels = try await db.ensureLabels(
                account: "alice",
                keywords: ["mywork", "$Later", "\\Seen", "urgent", "", "$later", "Receipts"])
            // "mywork" is MyWork's keyword (case-insensitively): untouched. "urgent" as a name belongs
            // to another label: skipped. "\Seen" and "" are not keywords. "$later" repeats "$Later".
            #expect(labels.map(\.name) == ["$Later", "My Work", "Receipts", "Urgent"])
            #expect(labels.contains(mine))
            #expect(labels.contains(urgent))
            let later = try #require(try await db.label(account: "alice", keyword: "$LATER"))
            #expect(later.keyword == "$Later")
            #expect(later.name == "$Later")
            #expect(isWellFormedID(later.id))
            #expect(try await db.label(account: "alice", keyword: "urgent") == nil)

            // Idempotent: same IDs the second time.
            let again = try await db.ensureLabels(account: "alice", keywords: ["$Later", "Receipts"])
            #expect(again == labels)
            #expect(try await db.ensureLabels(account: "alice", keywords: []) == labels)
        }
    }

    @Test("rename keeps ID and keyword; a clash is refused", arguments: StoreKind.all)
    func rename(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let work = try await db.createLabel(account: "alice", name: "Work", keyword: "Work")
            let home = try await db.createLabel(account: "alice", name: "Home", keyword: "Home")

            let renamed = try #require(try await db.renameLabel(account: "alice", id: work.id, name: "Office"))
            #expect(renamed == Label(id: work.id, keyword: "Work", name: "Office"))
            #expect(try await db.label(account: "alice", name: "office") == renamed)
            #expect(try await db.label(account: "alice", name: "Work") == nil)

            // A different case of its own name is fine.
            #expect(try await db.renameLabel(account: "alice", id: work.id, name: "OFFICE")?.name == "OFFICE")

            await #expect(throws: LabelConflict.duplicateName("home")) {
                try await db.renameLabel(account: "alice", id: work.id, name: "home")
            }
            #expect(try await db.label(account: "alice", id: home.id) == home)
            #expect(try await db.renameLabel(account: "alice", id: "AAAAAAAAAAAA", name: "X") == nil)
        }
    }

    @Test("delete returns the row and frees the name", arguments: StoreKind.all)
    func delete(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let work = try await db.createLabel(account: "alice", name: "Work", keyword: "Work")
            #expect(try await db.deleteLabel(account: "alice", id: work.id) == work)
            #expect(try await db.deleteLabel(account: "alice", id: work.id) == nil)
            #expect(try await db.label(account: "alice", id: work.id) == nil)
            #expect(try await db.labels(account: "alice").isEmpty)

            let again = try await db.createLabel(account: "alice", name: "work", keyword: "WORK")
            #expect(again.id != work.id)
        }
    }

    @Test("labels are isolated per account", arguments: StoreKind.all)
    func accountIsolation(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let alice = try await db.createLabel(account: "alice", name: "Work", keyword: "Work")
            #expect(try await db.label(account: "bob", id: alice.id) == nil)
            #expect(try await db.label(account: "bob", name: "Work") == nil)
            #expect(try await db.label(account: "bob", keyword: "Work") == nil)
            #expect(try await db.labels(account: "bob").isEmpty)
            #expect(try await db.renameLabel(account: "bob", id: alice.id, name: "Mine") == nil)
            #expect(try await db.deleteLabel(account: "bob", id: alice.id) == nil)

            // The same name and keyword are free in another account.
            let bob = try await db.createLabel(account: "bob", name: "Work", keyword: "Work")
            #expect(bob.id != alice.id)
            #expect(try await db.ensureLabels(account: "bob", keywords: ["Extra"]).map(\.name) == ["Extra", "Work"])
            #expect(try await db.labels(account: "alice") == [alice])
        }
    }
}
