import Foundation
import GatewayCore
import Testing

/// Two replicas (two tasks here) seeing the same new mailboxes or keywords at once.
@Suite("Concurrent writers")
struct ConcurrencyTests {
    @Test("concurrent ensureFolders of the same mailboxes give both callers the same IDs", arguments: StoreKind.all)
    func concurrentFolders(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            for round in 0..<10 {
                let account = "user\(round)"
                // Overlapping, not equal, lists in different orders: the shared ones must agree.
                let first = (0..<200).map { "Box\($0)" }
                let second = (100..<300).map { "Box\($0)" }.reversed()
                async let a = db.ensureFolders(account: account, mailboxes: first)
                async let b = db.ensureFolders(account: account, mailboxes: Array(second))
                let (idsA, idsB) = try await (a, b)
                #expect(idsA.count == 200)
                #expect(idsB.count == 200)
                for mailbox in (100..<200).map({ "Box\($0)" }) {
                    #expect(idsA[mailbox] == idsB[mailbox], "round \(round): \(mailbox) got two IDs")
                }
                let all = try await db.folderIDs(account: account)
                #expect(all.count == 300)
                #expect(Set(all.values).count == 300)
                #expect(all.filter { idsA[$0.key] != nil } == idsA)
                #expect(all.filter { idsB[$0.key] != nil } == idsB)
            }
        }
    }

    @Test("concurrent ensureLabels of the same keywords make one label each", arguments: StoreKind.all)
    func concurrentLabels(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            for round in 0..<10 {
                let account = "user\(round)"
                let keywords = (0..<30).map { "$Key\($0)" }
                async let a = db.ensureLabels(account: account, keywords: keywords)
                async let b = db.ensureLabels(account: account, keywords: keywords.reversed().map { $0.uppercased() })
                let (labelsA, labelsB) = try await (a, b)
                #expect(labelsA == labelsB, "round \(round): both callers see the same labels")
                #expect(labelsA.count == 30)
                #expect(try await db.labels(account: account) == labelsA)
            }
        }
    }

    @Test("concurrent createLabel of one name: one label, one conflict", arguments: StoreKind.all)
    func concurrentCreate(kind: StoreKind) async throws {
        try await withStore(kind) { db in
            for round in 0..<10 {
                let account = "user\(round)"
                let outcomes = await withTaskGroup(of: Result<Label, any Error>.self) { group in
                    for keyword in ["Work", "work-\(round)"] {
                        group.addTask {
                            do { return .success(try await db.createLabel(account: account, name: "Work", keyword: keyword)) } catch {
                                return .failure(error)
                            }
                        }
                    }
                    return await group.reduce(into: []) { $0.append($1) }
                }
                let created = outcomes.compactMap { try? $0.get() }
                #expect(created.count == 1, "round \(round)")
                let conflicts = outcomes.compactMap { outcome -> LabelConflict? in
                    if case .failure(let error) = outcome { return error as? LabelConflict }
                    return nil
                }
                #expect(conflicts == [.duplicateName("Work")], "round \(round): the loser learns why")
                let stored = try await db.labels(account: account)
                #expect(stored == created)
            }
        }
    }
}
