import GatewayCore
import IMAPClient
import IMAPCore

/// The engine's ``MailServer`` port over the IMAP connection pool: sessions are pooled
/// connections, credentials map to IMAP logins, and every ``IMAPError`` becomes a
/// ``MailServerError`` of the matching kind with the server's own words.
public struct IMAPMailServer: MailServer {
    public let pool: IMAPConnectionPool

    public init(pool: IMAPConnectionPool) { self.pool = pool }

    public func withSession<R: Sendable>(
        _ credentials: AccountCredentials, _ body: (any MailSession) async throws -> R
    ) async throws -> R {
        try await Self.mapping {
            try await pool.withConnection(Self.imap(credentials)) { connection in
                do {
                    let result = try await body(IMAPMailSession(connection: connection))
                    await Self.leaveMailboxWithoutCondStore(connection)
                    return result
                } catch {
                    await Self.leaveMailboxWithoutCondStore(connection)
                    throw error
                }
            }
        }
    }

    /// On a server without CONDSTORE a session leaves its mailbox before its connection goes back
    /// to the pool: UNSELECT (RFC 3691) where offered, else the next session selects afresh.
    /// GNU Mailutils imap4d 3.15 writes a session's flag changes only when the session leaves the
    /// mailbox (so a change would not be seen, or would be lost with the connection, after its
    /// 200), and shows a selected session no other session's flag changes (so a listing would be
    /// stale and a later STORE lost). With CONDSTORE the mailbox stays selected: the next
    /// request's STATUS (HIGHESTMODSEQ) says whether anything changed.
    static func leaveMailboxWithoutCondStore(_ connection: IMAPConnection) async {
        guard !connection.capabilities.contains(.condStore), connection.selectedMailbox != nil, connection.isUsable else { return }
        if connection.capabilities.contains(Capability("UNSELECT")) {
            do {
                try await connection.unselect()
                return
            } catch {
                // Refused or broken: the pool drops a broken connection; otherwise select afresh next time.
            }
        }
        connection.forgetSelection()
    }

    public func isVerified(_ credentials: AccountCredentials) async -> Bool {
        await pool.isVerified(Self.imap(credentials))
    }

    /// The IMAP login for the engine's credentials: the account's own LOGIN, or SASL PLAIN as a
    /// master user acting for the account.
    public static func imap(_ credentials: AccountCredentials) -> IMAPCredentials {
        credentials.isMasterLogin
            ? IMAPCredentials(user: credentials.user, masterUser: credentials.authenticationIdentity, masterPassword: credentials.password)
            : IMAPCredentials(user: credentials.user, password: credentials.password)
    }

    /// Runs `body`, turning IMAP client errors into the port's errors (others pass unchanged).
    static func mapping<R>(_ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let error as IMAPError {
            throw MailServerError(error)
        }
    }
}

extension MailServerError {
    /// The port's view of an IMAP client error.
    public init(_ error: IMAPError) {
        let kind: Kind
        switch error {
        case .authenticationFailed: kind = .authenticationFailed
        case .connectFailed, .greetingRejected: kind = .unavailable
        case .timeout: kind = .timeout
        case .unsupported: kind = .unsupported
        case .commandFailed: kind = .refused
        case .invalidCommand: kind = .invalidCommand
        case .connectionClosed, .protocolViolation, .tls, .untaggedLimitExceeded: kind = .connectionBroken
        }
        self.init(kind, error.description)
    }
}

/// One pooled IMAP connection as the engine's ``MailSession``.
public struct IMAPMailSession: MailSession {
    public let connection: IMAPConnection

    public init(connection: IMAPConnection) { self.connection = connection }

    public var capabilities: Set<Capability> { connection.capabilities }

    @discardableResult
    public func select(_ mailbox: MailboxName, readOnly: Bool) async throws -> SelectedMailbox {
        try await IMAPMailServer.mapping { try await connection.select(mailbox, readOnly: readOnly) }
    }

    public func list(status: [StatusItem]) async throws -> [MailboxListing] {
        try await IMAPMailServer.mapping { try await connection.list(status: status) }
    }

    public func status(_ mailbox: MailboxName, _ items: [StatusItem]) async throws -> MailboxStatus {
        try await IMAPMailServer.mapping { try await connection.status(mailbox, items) }
    }

    public func uidSearch(_ criteria: SearchKey) async throws -> UIDSet {
        try await IMAPMailServer.mapping { try await connection.uidSearch(criteria) }
    }

    public func uidSort(_ keys: [SortKey]) async throws -> [UInt32] {
        try await IMAPMailServer.mapping { try await connection.uidSort(keys) }
    }

    public func uidThread() async throws -> [ThreadNode] {
        try await IMAPMailServer.mapping { try await connection.uidThread() }
    }

    public func uidFetch(_ uids: UIDSet, _ items: [FetchItem], changedSince: UInt64?) async throws -> [FetchedMessage] {
        try await IMAPMailServer.mapping { try await connection.uidFetch(uids, items, changedSince: changedSince) }
    }

    public func uidStore(_ uids: UIDSet, _ operation: StoreOperation, flags: [Flag]) async throws {
        _ = try await IMAPMailServer.mapping { try await connection.uidStore(uids, operation, flags: flags) }
    }

    public func uidStoreReporting(_ uids: UIDSet, _ operation: StoreOperation, flags: [Flag]) async throws -> UIDSet {
        try await IMAPMailServer.mapping { try await connection.uidStoreReporting(uids, operation, flags: flags) }
    }

    public func uidCopy(_ uids: UIDSet, to mailbox: MailboxName) async throws -> CopyResult {
        try await IMAPMailServer.mapping { try await connection.uidCopy(uids, to: mailbox) }
    }

    public func uidMove(_ uids: UIDSet, to mailbox: MailboxName) async throws -> CopyResult {
        try await IMAPMailServer.mapping { try await connection.uidMove(uids, to: mailbox) }
    }

    public func uidExpunge(_ uids: UIDSet) async throws {
        _ = try await IMAPMailServer.mapping { try await connection.uidExpunge(uids) }
    }

    public func append(_ message: [UInt8], to mailbox: MailboxName, flags: [Flag]) async throws -> (uidValidity: UInt32, uid: UInt32)? {
        try await IMAPMailServer.mapping { try await connection.append(message, to: mailbox, flags: flags) }
    }

    public func splitToFitLine(_ uids: UIDSet, _ command: (UIDSet) -> Command) -> [UIDSet] {
        let whole = command(uids)
        if connection.sendsWholeOnSavedResult(whole) { return [uids] }
        guard let pieces = try? CommandEncoder().split(whole, maxLineLength: connection.maxCommandLineLength) else { return [uids] }
        return pieces.compactMap(\.uidSet)
    }
}
