import Foundation
import GRDB
import GatewayStore
import Synchronization

/// The two kinds of database every store test runs against, as GRDB's own tests do.
enum StoreKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// `DatabaseQueue()` in memory.
    case inMemoryQueue
    /// `DatabasePool` (WAL) on a file in a fresh temporary directory.
    case filePool

    var description: String { rawValue }
}

/// A temporary directory that is removed when the test is done with it.
struct TemporaryDirectory: ~Copyable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("gatewaystore-tests-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// A database path inside a subdirectory that does not exist yet (the store must create it).
    var databasePath: String {
        url.appendingPathComponent("state", isDirectory: true).appendingPathComponent("gateway.sqlite").path
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Runs `body` with a fresh, migrated database of the given kind.
func withDatabase(_ kind: StoreKind, _ body: (GatewayDatabase) async throws -> Void) async throws {
    switch kind {
    case .inMemoryQueue:
        try await body(GatewayDatabase.inMemory())
    case .filePool:
        let directory = try TemporaryDirectory()
        try await body(GatewayDatabase(path: directory.databasePath))
        _ = consume directory
    }
}

/// Counts committed transactions that changed a given table.
final class CommitCounter: TransactionObserver, Sendable {
    private let table: String
    private let state = Mutex((commits: 0, changes: 0))

    init(table: String) { self.table = table }

    var commits: Int { state.withLock { $0.commits } }
    var changes: Int { state.withLock { $0.changes } }

    func observes(eventsOfKind eventKind: DatabaseEventKind) -> Bool { eventKind.tableName == table }
    func databaseDidChange(with event: DatabaseEvent) { state.withLock { $0.changes += 1 } }
    func databaseDidCommit(_ db: Database) { state.withLock { $0.commits += 1 } }
    func databaseDidRollback(_ db: Database) {}
}

/// Whether `id` has the documented shape: 12 characters of `[A-Za-z0-9]`.
func isWellFormedID(_ id: String) -> Bool {
    id.count == 12 && id.unicodeScalars.allSatisfy { $0.isASCII && CharacterSet.alphanumerics.contains($0) }
}
