import Foundation
import GatewayCore
import GatewayStore
import IMAPCore
import Logging

/// A ``MailboxEngine`` over an ``InMemoryMailServer`` and an in-memory SQLite store, with one
/// account logged in: the engine as the HTTP layer sees it, with no Dovecot and no disk.
public struct EngineHarness: Sendable {
    public let server: InMemoryMailServer
    public let database: GatewayDatabase
    public let sessions: InMemorySessionStore
    public let engine: MailboxEngine
    public let credentials: AccountCredentials

    /// Quiet: engine logs are dropped unless `GATEWAY_FAKES_LOG` is set in the environment.
    public static var logger: Logger {
        if ProcessInfo.processInfo.environment["GATEWAY_FAKES_LOG"] != nil {
            var logger = Logger(label: "GatewayFakes")
            logger.logLevel = .debug
            return logger
        }
        return Logger(label: "GatewayFakes", factory: { _ in SwiftLogNoOpLogHandler() })
    }

    /// Settings for tests: small pauses between job attempts, no wait before resuming a started chunk
    /// (the fake carries out each command whole: nothing of an interrupted attempt runs on), the rest
    /// as in the gateway.
    public static func configuration(
        batch: MailBatchExecutor.Configuration = .init(),
        jobs: JobService.Configuration = .init(retryDelay: .milliseconds(10), resumeGuard: .zero)
    ) -> MailboxEngine.Configuration {
        MailboxEngine.Configuration(batch: batch, jobs: jobs)
    }

    /// - Parameters:
    ///   - server: the mail server; by default a new one with the default capabilities.
    ///   - user, password: the account acted for; added to `server` (with INBOX, Archive, Drafts,
    ///     Sent, Trash and Junk) unless `addAccount` is false.
    public init(
        server: InMemoryMailServer = InMemoryMailServer(), user: String = "alice", password: String = "secret",
        addAccount: Bool = true, configuration: MailboxEngine.Configuration = EngineHarness.configuration()
    ) throws {
        if addAccount { server.addStandardAccount(user, password: password) }
        let database = try GatewayDatabase.inMemory()
        let sessions = InMemorySessionStore(limits: .init(idleTimeout: .seconds(600), lifetime: .seconds(3600), maxPerAccount: 10))
        self.server = server
        self.database = database
        self.sessions = sessions
        self.credentials = AccountCredentials(user: user, password: password)
        self.engine = MailboxEngine(
            ports: .init(
                mailServer: server, folders: database, labels: database, listingCache: database, conversationCache: database,
                jobs: database, sessions: sessions),
            configuration: configuration, logger: Self.logger)
    }

    /// The account's folders by mailbox name (decoded, e.g. `Trash/Old`), as the engine lists them.
    public func folders() async throws -> [String: FolderInfo] {
        let folders = try await engine.folders.folders(credentials: credentials)
        return Dictionary(folders.map { ($0.mailbox.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The folder ID of a mailbox.
    public func folderId(_ mailbox: String) async throws -> String {
        guard let folder = try await folders()[mailbox] else { throw HarnessError("no folder \(mailbox)") }
        return folder.id
    }

    /// The mail ID of a message (at the mailbox's current UIDVALIDITY unless one is given).
    public func mailID(_ mailbox: String, uid: UInt32, uidValidity: UInt32? = nil) async throws -> String {
        let folderId = try await folderId(mailbox)
        guard let validity = uidValidity ?? server.mailbox(credentials.user, mailbox)?.uidValidity else {
            throw HarnessError("no mailbox \(mailbox)")
        }
        return MailID(folderId: folderId, uidValidity: validity, uid: uid).encoded
    }

    /// The mail IDs of messages of one mailbox, in the order of `uids`.
    public func mailIDs(_ mailbox: String, uids: [UInt32]) async throws -> [String] {
        let folderId = try await folderId(mailbox)
        guard let validity = server.mailbox(credentials.user, mailbox)?.uidValidity else { throw HarnessError("no mailbox \(mailbox)") }
        return uids.map { MailID(folderId: folderId, uidValidity: validity, uid: $0).encoded }
    }

    /// Runs a batch that must complete at once (below the async threshold).
    public func run(
        _ operation: MailBatchOperation, ids: [String], ranges: [MailRange] = [], order: MailSortOrder? = nil
    ) async throws -> BatchOutcome {
        let result = try await engine.batches.submit(
            MailBatchRequest(operation: operation, ids: ids, ranges: ranges, order: order), credentials: credentials)
        guard case .completed(let outcome) = result else { throw HarnessError("the batch became a job") }
        return outcome
    }

    /// Submits a batch that must become a job; returns its key.
    public func startJob(_ operation: MailBatchOperation, ids: [String]) async throws -> String {
        let result = try await engine.batches.submit(MailBatchRequest(operation: operation, ids: ids), credentials: credentials)
        guard case .started(let status) = result else { throw HarnessError("the batch ran synchronously") }
        return status.jobKey
    }

    /// Polls a job until it completes (or `timeout` passes); returns its last status.
    public func waitForJob(_ key: String, timeout: Duration = .seconds(5)) async throws -> JobStatus {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while true {
            guard let status = try await engine.jobs.status(key: key, account: credentials.user) else { throw HarnessError("no job \(key)") }
            if status.state == .completed || clock.now >= deadline { return status }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}

/// A test setup step that could not be done.
public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
