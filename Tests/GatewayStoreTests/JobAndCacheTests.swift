import Foundation
import GatewayCore
import GatewayStore
import IMAPCore
import Testing

@Suite("Jobs and caches")
struct JobAndCacheTests {
    @Test("a job's lifecycle: plan once, chunk states, monotonic progress, completion, account scope", arguments: StoreKind.all)
    func jobLifecycle(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let job = JobRecord(
                key: "k1", account: "alice", operation: .move(destinationFolderId: "D"), state: .inProgress, totalItems: 5,
                doneItems: 1, failedItems: ["bad"], pendingItems: ["a", "b", "c", "d"])
            try await db.createJob(job)
            #expect(try await db.job(key: "k1", account: "bob") == nil, "another account's job is invisible")
            #expect(try await db.job(key: "k1", account: "alice")?.progress == 20)
            #expect(try await db.job(key: "k1", account: "alice")?.operation == .move(destinationFolderId: "D"))
            // A status poll's read: everything but the pending IDs.
            #expect(try await db.jobSummary(key: "k1", account: "bob") == nil)
            // (The full read's createdAt: a Date does not always survive seconds since 1970 bit for bit.)
            var summary = try #require(try await db.job(key: "k1", account: "alice"))
            #expect(summary.pendingItems == ["a", "b", "c", "d"])
            summary.pendingItems = []
            #expect(try await db.jobSummary(key: "k1", account: "alice") == summary)

            let chunk1 = BatchChunk(
                folderId: "F", mailbox: Array("INBOX".utf8), uidValidity: 7, uids: [1, 2],
                action: .transfer(move: true, destinationId: "D", destinationMailbox: Array("Archive".utf8), reportNewIds: true))
            let chunk2 = BatchChunk(
                folderId: "F", mailbox: Array("INBOX".utf8), uidValidity: 7, uids: [3], action: .store(add: ["\\Seen"], remove: []))
            try await db.planJob(key: "k1", chunks: [chunk1, chunk2], failed: ["d"])
            var stored = try #require(try await db.job(key: "k1", account: "alice"))
            #expect(stored.pendingItems.isEmpty)
            #expect(stored.failedItems == ["bad", "d"])
            #expect(stored.doneItems == 2)

            try await db.startJobChunk(key: "k1", seq: 0, destinationUIDNext: 4242)
            var chunks = try await db.jobChunks(key: "k1")
            #expect(chunks.map(\.state) == [.started, .planned])
            #expect(chunks.map(\.chunk) == [chunk1, chunk2], "chunks round-trip")
            #expect(chunks[0].destinationUIDNext == 4242)

            try await db.finishJobChunk(key: "k1", seq: 0, itemCount: 2, failed: ["b"])
            stored = try #require(try await db.job(key: "k1", account: "alice"))
            #expect(stored.doneItems == 4)
            #expect(stored.progress == 80)
            chunks = try await db.jobChunks(key: "k1")
            #expect(chunks.map(\.state) == [.done, .planned])
            #expect(try await db.unfinishedJobs().map(\.key) == ["k1"])
            // The same chunk recorded again (a replica that lost its lease mid-chunk) adds nothing.
            try await db.finishJobChunk(key: "k1", seq: 0, itemCount: 2, failed: ["b", "late"])
            stored = try #require(try await db.job(key: "k1", account: "alice"))
            #expect(stored.doneItems == 4)
            #expect(stored.failedItems == ["bad", "d", "b"])

            try await db.completeJob(key: "k1", failed: [])
            stored = try #require(try await db.job(key: "k1", account: "alice"))
            #expect(stored.state == .completed)
            #expect(stored.progress == 100)
            #expect(stored.failedItems == ["bad", "d", "b"])
            #expect(try await db.unfinishedJobs().isEmpty)

            #expect(try await db.purgeJobs(finishedBefore: Date().addingTimeInterval(-60)) == 0, "recent jobs are kept")
            #expect(try await db.purgeJobs(finishedBefore: Date().addingTimeInterval(60)) == 1)
            #expect(try await db.job(key: "k1", account: "alice") == nil)
            #expect(try await db.jobChunks(key: "k1").isEmpty, "chunks go with their job")
        }
    }

    @Test("sort orders and metadata round-trip", arguments: StoreKind.all)
    func caches(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let uids: [UInt32] = [5, 3, 4_294_967_295, 1]
            let desc = MailSortOrder(field: .date, direction: .descending)
            let asc = MailSortOrder(field: .date, direction: .ascending)
            try await db.storeOrder(account: "alice", folderId: "F", order: desc, cached: CachedOrder(uidValidity: 7, token: "t", uids: uids))
            #expect(try await db.cachedOrder(account: "alice", folderId: "F", order: desc)?.uids == uids)
            #expect(try await db.cachedOrder(account: "alice", folderId: "F", order: asc) == nil)
            #expect(try await db.cachedOrder(account: "bob", folderId: "F", order: desc) == nil)

            let state = FolderSyncState(uidValidity: 7, uidNext: 10, highestModSeq: 99)
            try await db.applyMetaSync(
                account: "alice", folderId: "F", reset: true, removed: [],
                changed: [
                    MessageMeta(uid: 1, flags: [.seen], modSeq: 5, importance: .high, hasAttachment: true),
                    MessageMeta(uid: 2, flags: [], modSeq: 6, importance: .normal, hasAttachment: false),
                ], state: state)
            #expect(try await db.folderSyncState(account: "alice", folderId: "F") == state)
            try await db.applyMetaSync(
                account: "alice", folderId: "F", reset: false, removed: [2],
                changed: [MessageMeta(uid: 1, flags: [.seen, .flagged], modSeq: 8, importance: .high, hasAttachment: true)],
                state: FolderSyncState(uidValidity: 7, uidNext: 10, highestModSeq: 100))
            let meta = try await db.messageMeta(account: "alice", folderId: "F")
            #expect(meta.keys.sorted() == [1])
            #expect(meta[1]?.flags == [.seen, .flagged])
            #expect(meta[1]?.importance == .high)
        }
    }

    @Test("sort keys round-trip, step by step, and go with a reset", arguments: StoreKind.all)
    func sortKeys(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            #expect(try await db.sortKeySyncState(account: "alice", folderId: "F") == nil)
            let one = SortKeys(subject: Array("HELLO".utf8), from: Array("ANN".utf8), to: [], date: -5, size: 1_234)
            let two = SortKeys(subject: [0xC3, 0xA9], from: [], to: Array("BOB".utf8), date: 1_700_000_000, size: .max)
            let state = SortKeySyncState(uidValidity: 7, uidNext: 3)
            try await db.applySortKeySync(account: "alice", folderId: "F", reset: true, removed: [], added: [1: one, 2: two], state: state)
            #expect(try await db.sortKeys(account: "alice", folderId: "F")[1] == one)
            #expect(try await db.sortKeySyncState(account: "alice", folderId: "F") == state)
            #expect(try await db.sortKeys(account: "bob", folderId: "F").isEmpty)
            // The largest size is stored clamped to SQLite's signed range, the rest exactly.
            #expect(try await db.sortKeys(account: "alice", folderId: "F")[2]?.size == UInt64(Int64.max))

            try await db.applySortKeySync(
                account: "alice", folderId: "F", reset: false, removed: [1], added: [3: one],
                state: SortKeySyncState(uidValidity: 7, uidNext: 4))
            #expect(try await db.sortKeys(account: "alice", folderId: "F").keys.sorted() == [2, 3])
            try await db.applySortKeySync(
                account: "alice", folderId: "F", reset: true, removed: [], added: [9: two],
                state: SortKeySyncState(uidValidity: 8, uidNext: 10))
            #expect(try await db.sortKeys(account: "alice", folderId: "F").keys.sorted() == [9])
            let older = SortKeySyncState(uidValidity: 8, uidNext: 10, version: 0)
            try await db.applySortKeySync(account: "alice", folderId: "F", reset: false, removed: [], added: [:], state: older)
            #expect(try await db.sortKeySyncState(account: "alice", folderId: "F") == older, "the key version is kept")
        }
    }

    @Test("thread headers round-trip with any bytes in their IDs, and go with a reset", arguments: StoreKind.all)
    func threadHeaders(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            #expect(try await db.threadHeaderSyncState(account: "alice", folderId: "F") == nil)
            let keys = SortKeys(subject: Array("PLAN".utf8), from: Array("ANN".utf8), to: [], date: 1_700_000_000, size: 42)
            let root = ThreadHeaders(keys: keys, messageID: "a1@x", references: [], isReplyOrForward: false)
            // IDs with spaces, NUL, non-ASCII, and an empty one: stored length-prefixed, read back exactly.
            let reply = ThreadHeaders(
                keys: keys, messageID: "reply@x", references: ["a1@x", "we ird\u{0}id@x", "", "é@x"], isReplyOrForward: true)
            let none = ThreadHeaders(keys: keys, messageID: nil, references: [], isReplyOrForward: false)
            let state = SortKeySyncState(uidValidity: 3, uidNext: 4, version: ThreadHeaders.version)
            try await db.applyThreadHeaderSync(
                account: "alice", folderId: "F", reset: true, removed: [], added: [1: root, 2: reply, 3: none], state: state)
            let read = try await db.threadHeaders(account: "alice", folderId: "F")
            #expect(read == [1: root, 2: reply, 3: none])
            #expect(try await db.threadHeaderSyncState(account: "alice", folderId: "F") == state)
            #expect(try await db.threadHeaders(account: "bob", folderId: "F").isEmpty)

            try await db.applyThreadHeaderSync(
                account: "alice", folderId: "F", reset: false, removed: [1], added: [:],
                state: SortKeySyncState(uidValidity: 3, uidNext: 4, version: ThreadHeaders.version))
            #expect(try await db.threadHeaders(account: "alice", folderId: "F").keys.sorted() == [2, 3])
            try await db.applyThreadHeaderSync(
                account: "alice", folderId: "F", reset: true, removed: [], added: [7: root],
                state: SortKeySyncState(uidValidity: 9, uidNext: 8, version: ThreadHeaders.version))
            #expect(try await db.threadHeaders(account: "alice", folderId: "F").keys.sorted() == [7])
        }
    }

    @Test("a job's item aliases round-trip and name its failed items", arguments: StoreKind.all)
    func jobAliases(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            let job = JobRecord(
                key: "k2", account: "alice", operation: .conversationUpdate(isUnread: nil, isFlagged: true), state: .inProgress,
                totalItems: 3, failedItems: ["cUnknown"], pendingItems: ["m1", "m2"], itemAliases: ["m1": "cA", "m2": "cA"])
            try await db.createJob(job)
            try await db.planJob(key: "k2", chunks: [], failed: ["m1", "m2"])
            let read = try #require(try await db.job(key: "k2", account: "alice"))
            #expect(read.itemAliases == ["m1": "cA", "m2": "cA"])
            #expect(read.operation == .conversationUpdate(isUnread: nil, isFlagged: true))
            #expect(read.reportedFailedItems == ["cUnknown", "cA"])
            #expect(try await db.jobSummary(key: "k2", account: "alice")?.reportedFailedItems == ["cUnknown", "cA"])
        }
    }
}
