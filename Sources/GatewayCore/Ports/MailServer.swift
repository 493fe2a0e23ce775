import IMAPCore

/// The mail server as the engine needs it: sessions logged in for an account, handed out one at a
/// time (a pool behind it), and proof that credentials were accepted recently.
///
/// The engine owns this port; the IMAP client fulfils it through an adapter in `GatewayApp`, and
/// tests fulfil it with an in-memory server. Every error a conforming type throws is a
/// ``MailServerError``.
public protocol MailServer: Sendable {
    /// Runs `body` on a session logged in with `credentials`, then gives the session back.
    /// A refused login throws ``MailServerError`` of kind `authenticationFailed`.
    func withSession<R: Sendable>(
        _ credentials: AccountCredentials, _ body: (any MailSession) async throws -> R
    ) async throws -> R

    /// Whether the server accepted exactly these credentials within the verify interval, so that
    /// a request may pass without a fresh login (SPEC §3).
    func isVerified(_ credentials: AccountCredentials) async -> Bool
}

/// One logged-in session: the commands the engine uses, in the server's own terms (IMAPCore's
/// value types), UID-based throughout. Nothing here expunges anything but the UIDs it is given.
public protocol MailSession: Sendable {
    /// What the server offers now (after login).
    var capabilities: Set<Capability> { get }

    /// SELECT (or EXAMINE with `readOnly`); a no-op when the mailbox is already selected that way.
    @discardableResult
    func select(_ mailbox: MailboxName, readOnly: Bool) async throws -> SelectedMailbox

    /// LIST of every mailbox, with STATUS items where the server can return them in the same command.
    func list(status: [StatusItem]) async throws -> [MailboxListing]

    func status(_ mailbox: MailboxName, _ items: [StatusItem]) async throws -> MailboxStatus

    /// `UID SEARCH` in the selected mailbox.
    func uidSearch(_ criteria: SearchKey) async throws -> UIDSet

    /// `UID SORT` of the whole selected mailbox (RFC 5256).
    func uidSort(_ keys: [SortKey]) async throws -> [UInt32]

    /// `UID THREAD REFERENCES` of the whole selected mailbox (RFC 5256).
    func uidThread() async throws -> [ThreadNode]

    /// `UID FETCH`, with `CHANGEDSINCE` (CONDSTORE) when given.
    func uidFetch(_ uids: UIDSet, _ items: [FetchItem], changedSince: UInt64?) async throws -> [FetchedMessage]

    /// `UID STORE ±FLAGS.SILENT`.
    func uidStore(_ uids: UIDSet, _ operation: StoreOperation, flags: [Flag]) async throws

    /// `UID STORE ±FLAGS` (not silent): the UIDs of `uids` the server answered with FLAGS showing the
    /// change. Servers answer at least for each message whose flags changed, so a UID not returned
    /// is missing or was already as asked.
    func uidStoreReporting(_ uids: UIDSet, _ operation: StoreOperation, flags: [Flag]) async throws -> UIDSet

    func uidCopy(_ uids: UIDSet, to mailbox: MailboxName) async throws -> CopyResult

    func uidMove(_ uids: UIDSet, to mailbox: MailboxName) async throws -> CopyResult

    /// `UID EXPUNGE` (UIDPLUS) of exactly these UIDs.
    func uidExpunge(_ uids: UIDSet) async throws

    /// APPEND; the new message's UIDVALIDITY and UID when the server reports APPENDUID.
    func append(_ message: [UInt8], to mailbox: MailboxName, flags: [Flag]) async throws -> (uidValidity: UInt32, uid: UInt32)?

    /// Cuts `uids` into the sets `command` is sent as, one command each: sets that each fit one
    /// command line, or the whole set where the adapter sends a long one as one command (on a saved
    /// search result). The server's line limit is the adapter's business, not the engine's.
    func splitToFitLine(_ uids: UIDSet, _ command: (UIDSet) -> Command) -> [UIDSet]
}

extension MailSession {
    @discardableResult
    public func select(_ mailbox: MailboxName) async throws -> SelectedMailbox {
        try await select(mailbox, readOnly: false)
    }

    public func uidFetch(_ uids: UIDSet, _ items: [FetchItem]) async throws -> [FetchedMessage] {
        try await uidFetch(uids, items, changedSince: nil)
    }
}
