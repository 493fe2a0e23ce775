import Foundation
import GatewayCore
import IMAPCore
import Synchronization

/// The commands of ``MailSession`` by kind (and the login), to count and log them and to aim
/// injected faults at them.
public enum FakeCommandKind: String, Hashable, Sendable, CaseIterable {
    case login, select, list, status, search, sort, thread, fetch, store, copy, move, expunge, append
}

/// A failure an ``InMemoryMailServer`` is told to produce: the `nth` command of `kind` counted
/// from the injection (and the `count - 1` after it) throws `error`, either before the command
/// takes effect or after it did (the answer lost with the connection, as in a crash).
public struct FakeFault: Sendable {
    public enum Timing: Sendable {
        /// The command fails without any effect.
        case before
        /// The command takes effect, then its answer is lost.
        case after
    }

    public var kind: FakeCommandKind
    public var nth: Int
    public var count: Int
    public var timing: Timing
    public var error: MailServerError

    public init(kind: FakeCommandKind, nth: Int = 1, count: Int = 1, timing: Timing, error: MailServerError) {
        precondition(nth >= 1 && count >= 1)
        self.kind = kind
        self.nth = nth
        self.count = count
        self.timing = timing
        self.error = error
    }

    /// The connection breaks at the `nth` command of `kind`; the session is unusable afterwards.
    public static func connectionBreak(on kind: FakeCommandKind, nth: Int = 1, timing: Timing = .after) -> FakeFault {
        FakeFault(kind: kind, nth: nth, timing: timing, error: MailServerError(.connectionBroken, "injected: connection reset by peer"))
    }

    /// The server answers NO to the `nth` command of `kind` (and `count - 1` more); nothing changes.
    public static func refusal(on kind: FakeCommandKind, nth: Int = 1, count: Int = 1) -> FakeFault {
        FakeFault(kind: kind, nth: nth, count: count, timing: .before, error: MailServerError(.refused, "NO [SERVERBUG] injected refusal"))
    }
}

/// One command a session ran, as the adapter would send it (logins are counted, not logged: they
/// carry passwords). Commands that failed before taking effect are logged too.
public struct LoggedCommand: Hashable, Sendable {
    public var session: Int
    public var user: String
    public var kind: FakeCommandKind
    public var command: Command
}

/// A snapshot of one mailbox of an ``InMemoryMailServer``, for tests to inspect.
public struct FakeMailboxState: Hashable, Sendable {
    public var name: String
    public var uidValidity: UInt32
    public var uidNext: UInt32
    public var highestModSeq: UInt64
    public var messages: [FakeMessage]

    public var uids: [UInt32] { messages.map(\.uid) }
    public var messageIDs: [String] { messages.compactMap(\.messageID) }
    public func message(uid: UInt32) -> FakeMessage? { messages.first { $0.uid == uid } }
    public func message(messageID: String) -> FakeMessage? { messages.first { $0.messageID == messageID } }
}

/// A ``MailServer`` with accounts and mailboxes held in memory, for engine and HTTP tests that
/// need no Dovecot. It behaves like an IMAP server as far as ``MailSession`` reaches: UIDVALIDITY,
/// UIDNEXT, HIGHESTMODSEQ, flags and keywords, SORT, COPYUID, UID EXPUNGE of `\Deleted` messages
/// only. Tests choose its capabilities and line limit, seed and inspect mailboxes without the
/// engine, and inject connection breaks and refusals.
///
/// Sendable: every piece of mutable state is behind the one `Mutex`.
public final class InMemoryMailServer: MailServer {
    /// What a Dovecot of the test bed offers (minus THREAD, which the fake does not implement).
    public static let defaultCapabilities: Set<Capability> = [
        .imap4rev1, .move, .uidPlus, .sort, .condStore, .specialUse, .listStatus, .enable, .esearch, .literalPlus,
    ]

    /// The hierarchy delimiter of every account.
    public static let delimiter: Character = "/"

    struct Mailbox {
        var name: String
        var attributes: [String]
        var uidValidity: UInt32
        var uidNext: UInt32 = 1
        var highestModSeq: UInt64 = 1
        /// Ascending by UID; a message's sequence number is its index + 1.
        var messages: [FakeMessage] = []
        /// Keywords ever used in the mailbox (FLAGS lists them).
        var keywords: [Flag] = []
        /// PERMANENTFLAGS when SELECTed read-write; nil: system flags and `\*`.
        var permanentFlags: [Flag]?
        var selectable: Bool

        mutating func nextModSeq() -> UInt64 {
            highestModSeq += 1
            return highestModSeq
        }

        mutating func noteKeywords(_ flags: [Flag]) {
            for flag in flags where !flag.isSystemFlag && !keywords.contains(flag) { keywords.append(flag) }
        }

        mutating func add(_ content: MessageSeed, flags: [Flag]) -> UInt32 {
            let uid = uidNext
            uidNext += 1
            let clean = Self.normalized(flags)
            noteKeywords(clean)
            messages.append(FakeMessage(uid: uid, flags: clean, modSeq: nextModSeq(), content: content))
            return uid
        }

        static func normalized(_ flags: [Flag]) -> [Flag] {
            var out: [Flag] = []
            for flag in flags where flag != .recent && flag != .wildcard && !out.contains(flag) { out.append(flag) }
            return out
        }

        var snapshot: FakeMailboxState {
            FakeMailboxState(name: name, uidValidity: uidValidity, uidNext: uidNext, highestModSeq: highestModSeq, messages: messages)
        }
    }

    struct Account {
        var password: String
        var mailboxes: [String: Mailbox] = [:]
        /// Mailbox names in creation order (INBOX first): the LIST order.
        var order: [String] = []
    }

    struct SessionState {
        var user: String
        var selected: (key: String, readOnly: Bool)?
        var broken = false
    }

    struct ArmedFault {
        var fault: FakeFault
        var seen = 0
        var fired = 0
    }

    struct ArmedAction {
        var kind: FakeCommandKind
        var nth: Int
        var seen = 0
        var action: @Sendable (InMemoryMailServer) -> Void
    }

    struct State {
        var capabilities: Set<Capability>
        var lineLimit: Int
        var accounts: [String: Account] = [:]
        var masterUsers: [String: String] = [:]
        var verified: Set<AccountCredentials> = []
        var nextUIDValidity: UInt32 = 1_700_000_001
        var sessions: [Int: SessionState] = [:]
        var nextSessionID = 1
        var sessionsOpened = 0
        var failedLogins = 0
        var loginDelay: Duration?
        var misreadsSearchUIDSets = false
        var faults: [ArmedFault] = []
        var actions: [ArmedAction] = []
        var log: [LoggedCommand] = []

        mutating func newUIDValidity() -> UInt32 {
            defer { nextUIDValidity += 1 }
            return nextUIDValidity
        }
    }

    private let state: Mutex<State>

    /// - Parameters:
    ///   - capabilities: what sessions report (drop `.move`, `.uidPlus`, `.sort`, `.condStore` to
    ///     test the engine's answers to a poorer server).
    ///   - lineLimit: the longest command line the adapter sends; ``MailSession/splitToFitLine(_:_:)``
    ///     splits by it as the real adapter does.
    public init(capabilities: Set<Capability> = InMemoryMailServer.defaultCapabilities, lineLimit: Int = 8192) {
        state = Mutex(State(capabilities: capabilities, lineLimit: lineLimit))
    }

    // MARK: - MailServer

    public func withSession<R: Sendable>(
        _ credentials: AccountCredentials, _ body: (any MailSession) async throws -> R
    ) async throws -> R {
        if let delay = state.withLock({ $0.loginDelay }) { try await Task.sleep(for: delay) }
        let session = try login(credentials)
        defer { state.withLock { _ = $0.sessions.removeValue(forKey: session.id) } }
        return try await body(session)
    }

    public func isVerified(_ credentials: AccountCredentials) async -> Bool {
        state.withLock { $0.verified.contains(credentials) }
    }

    private func login(_ credentials: AccountCredentials) throws -> InMemoryMailSession {
        let actions = state.withLock { state in Self.armedActions(.login, in: &state) }
        for action in actions { action(self) }
        return try state.withLock { state in
            if let fault = Self.firingFault(.login, in: &state) { throw fault.error }
            let accepted: Bool
            if credentials.isMasterLogin {
                accepted = state.masterUsers[credentials.authenticationIdentity] == credentials.password
                    && state.accounts[credentials.user] != nil
            } else {
                accepted = state.accounts[credentials.user]?.password == credentials.password
            }
            guard accepted else {
                state.failedLogins += 1
                throw MailServerError(.authenticationFailed, "NO [AUTHENTICATIONFAILED] Authentication failed.")
            }
            state.verified.insert(credentials)
            let id = state.nextSessionID
            state.nextSessionID += 1
            state.sessionsOpened += 1
            state.sessions[id] = SessionState(user: credentials.user)
            return InMemoryMailSession(server: self, id: id, capabilities: state.capabilities, lineLimit: state.lineLimit)
        }
    }

    // MARK: - Setting up

    /// Every login from now on takes `delay` before the server answers (a slow server).
    public func delayLogins(_ delay: Duration) {
        state.withLock { $0.loginDelay = delay }
    }

    /// Adds an account with an INBOX.
    public func addAccount(_ user: String, password: String) {
        state.withLock { state in
            var account = Account(password: password)
            let inbox = Mailbox(name: "INBOX", attributes: [], uidValidity: state.newUIDValidity(), selectable: true)
            account.mailboxes["INBOX"] = inbox
            account.order = ["INBOX"]
            state.accounts[user] = account
        }
    }

    /// Adds an account with INBOX, Archive, Drafts, Sent, Trash and Junk (SPECIAL-USE marked).
    public func addStandardAccount(_ user: String, password: String) {
        addAccount(user, password: password)
        createMailbox("Archive", for: user, specialUse: "\\Archive")
        createMailbox("Drafts", for: user, specialUse: "\\Drafts")
        createMailbox("Sent", for: user, specialUse: "\\Sent")
        createMailbox("Trash", for: user, specialUse: "\\Trash")
        createMailbox("Junk", for: user, specialUse: "\\Junk")
    }

    /// A master user who may log in for any account (Dovecot master users).
    public func addMasterUser(_ name: String, password: String) {
        state.withLock { $0.masterUsers[name] = password }
    }

    /// Changes an account's password: the old one stops working at once and is no longer verified.
    public func setPassword(_ user: String, _ password: String) {
        state.withLock { state in
            state.accounts[user]?.password = password
            state.verified = state.verified.filter { $0.user != user || $0.isMasterLogin }
        }
    }

    /// Creates a mailbox (a `/`-separated name; parents are not created). `specialUse` is an
    /// attribute such as `\Trash`; `selectable: false` lists it `\Noselect`.
    public func createMailbox(
        _ name: String, for user: String, specialUse: String? = nil, selectable: Bool = true, permanentFlags: [Flag]? = nil
    ) {
        state.withLock { state in
            let key = Self.key(name)
            guard state.accounts[user] != nil, state.accounts[user]?.mailboxes[key] == nil else { return }
            var attributes: [String] = specialUse.map { [$0] } ?? []
            if !selectable { attributes.append("\\Noselect") }
            let box = Mailbox(
                name: key, attributes: attributes, uidValidity: state.newUIDValidity(), permanentFlags: permanentFlags, selectable: selectable)
            state.accounts[user]?.mailboxes[key] = box
            state.accounts[user]?.order.append(key)
        }
    }

    /// Deletes a mailbox and its messages (as another client would).
    public func deleteMailbox(_ name: String, for user: String) {
        state.withLock { state in
            let key = Self.key(name)
            state.accounts[user]?.mailboxes[key] = nil
            state.accounts[user]?.order.removeAll { $0 == key }
        }
    }

    /// Puts messages into a mailbox, as APPEND would; returns their UIDs.
    @discardableResult
    public func seed(_ user: String, _ mailbox: String, _ messages: [MessageSeed]) -> [UInt32] {
        state.withLock { state in
            let key = Self.key(mailbox)
            guard var box = state.accounts[user]?.mailboxes[key] else { preconditionFailure("no mailbox \(mailbox) for \(user)") }
            let uids = messages.map { box.add($0, flags: $0.flags) }
            state.accounts[user]?.mailboxes[key] = box
            return uids
        }
    }

    /// `count` plain messages with subjects `prefix 0`, `prefix 1`, …, one minute apart; returns their UIDs.
    @discardableResult
    public func seed(_ user: String, _ mailbox: String, count: Int, subjectPrefix: String = "Message") -> [UInt32] {
        seed(user, mailbox, (0..<count).map { MessageSeed(subject: "\(subjectPrefix) \($0)", date: 1_700_000_000 + Int64($0) * 60) })
    }

    /// Another client changes flags (no engine involved).
    public func setFlags(_ user: String, _ mailbox: String, uids: [UInt32], add: [Flag] = [], remove: [Flag] = []) {
        state.withLock { state in
            let key = Self.key(mailbox)
            guard var box = state.accounts[user]?.mailboxes[key] else { return }
            Self.store(&box, UIDSet(uids), .add, add)
            Self.store(&box, UIDSet(uids), .remove, remove)
            state.accounts[user]?.mailboxes[key] = box
        }
    }

    /// Another client removes messages at once (whatever their flags): their IDs vanish.
    public func removeMessages(_ user: String, _ mailbox: String, uids: [UInt32]) {
        state.withLock { state in
            let key = Self.key(mailbox)
            guard var box = state.accounts[user]?.mailboxes[key] else { return }
            let gone = Set(uids)
            box.messages.removeAll { gone.contains($0.uid) }
            _ = box.nextModSeq()
            state.accounts[user]?.mailboxes[key] = box
        }
    }

    /// The mailbox is recreated under the same name with a new UIDVALIDITY (its messages keep
    /// their UIDs): every mail ID minted before is stale. Returns the new UIDVALIDITY.
    @discardableResult
    public func renewUIDValidity(_ user: String, _ mailbox: String) -> UInt32 {
        state.withLock { state in
            let validity = state.newUIDValidity()
            state.accounts[user]?.mailboxes[Self.key(mailbox)]?.uidValidity = validity
            return validity
        }
    }

    // MARK: - Inspecting

    /// The mailbox as it is now; nil when it does not exist.
    public func mailbox(_ user: String, _ name: String) -> FakeMailboxState? {
        state.withLock { $0.accounts[user]?.mailboxes[Self.key(name)]?.snapshot }
    }

    /// The mailbox's messages, ascending by UID (empty when it does not exist).
    public func messages(_ user: String, _ name: String) -> [FakeMessage] {
        mailbox(user, name)?.messages ?? []
    }

    /// The account's mailbox names, in LIST order.
    public func mailboxNames(_ user: String) -> [String] {
        state.withLock { $0.accounts[user]?.order ?? [] }
    }

    /// What sessions report (future sessions only; a session keeps what it saw at login).
    public var capabilities: Set<Capability> {
        get { state.withLock { $0.capabilities } }
        set { state.withLock { $0.capabilities = newValue } }
    }

    /// The longest command line (future sessions only).
    public var lineLimit: Int {
        get { state.withLock { $0.lineLimit } }
        set { state.withLock { $0.lineLimit = newValue } }
    }

    /// GNU Mailutils imap4d 3.15's defect: `UID SEARCH UID <set>` reads the set as sequence
    /// numbers and answers the UIDs of those messages.
    public var misreadsSearchUIDSets: Bool {
        get { state.withLock { $0.misreadsSearchUIDSets } }
        set { state.withLock { $0.misreadsSearchUIDSets = newValue } }
    }

    /// Every command run so far, in order.
    public var commandLog: [LoggedCommand] { state.withLock { $0.log } }

    /// The commands of one kind run so far.
    public func commands(_ kind: FakeCommandKind) -> [Command] { commandLog.filter { $0.kind == kind }.map(\.command) }

    /// Forgets the commands logged so far (e.g. those a test's own setup caused).
    public func clearCommandLog() { state.withLock { $0.log = [] } }

    /// Sessions opened (successful logins) so far.
    public var sessionsOpened: Int { state.withLock { $0.sessionsOpened } }

    /// Logins refused for wrong credentials so far.
    public var failedLogins: Int { state.withLock { $0.failedLogins } }

    /// Sessions handed out and not given back yet.
    public var openSessions: Int { state.withLock { $0.sessions.count } }

    // MARK: - Faults

    /// Arms a fault; it fires once its command comes (see ``FakeFault``).
    public func inject(_ fault: FakeFault) {
        state.withLock { $0.faults.append(ArmedFault(fault: fault)) }
    }

    /// Runs `action` (e.g. another client's change, through this server's helpers) just before the
    /// `nth` command of `kind` from now takes effect.
    public func interpose(on kind: FakeCommandKind, nth: Int = 1, _ action: @escaping @Sendable (InMemoryMailServer) -> Void) {
        state.withLock { $0.actions.append(ArmedAction(kind: kind, nth: nth, action: action)) }
    }

    /// Disarms every fault and interposed action.
    public func clearFaults() {
        state.withLock { state in
            state.faults = []
            state.actions = []
        }
    }

    /// Whether every armed fault has fired as often as asked.
    public var allFaultsFired: Bool { state.withLock { $0.faults.allSatisfy { $0.fired >= $0.fault.count } } }

    private static func armedActions(_ kind: FakeCommandKind, in state: inout State) -> [@Sendable (InMemoryMailServer) -> Void] {
        var due: [@Sendable (InMemoryMailServer) -> Void] = []
        for index in state.actions.indices where state.actions[index].kind == kind {
            state.actions[index].seen += 1
            if state.actions[index].seen == state.actions[index].nth { due.append(state.actions[index].action) }
        }
        return due
    }

    private static func firingFault(_ kind: FakeCommandKind, in state: inout State) -> FakeFault? {
        var firing: FakeFault?
        for index in state.faults.indices where state.faults[index].fault.kind == kind {
            state.faults[index].seen += 1
            let armed = state.faults[index]
            if firing == nil, armed.seen >= armed.fault.nth, armed.fired < armed.fault.count {
                state.faults[index].fired += 1
                firing = armed.fault
            }
        }
        return firing
    }

    // MARK: - Running commands

    /// Runs one command of session `id`: interposed actions first, then the fault check, then
    /// `body` on the state. A connection-breaking fault leaves the session unusable.
    func execute<T: Sendable>(
        session id: Int, _ kind: FakeCommandKind, _ command: Command,
        _ body: (inout State, inout SessionState) throws -> T
    ) throws -> T {
        let actions = try state.withLock { state in
            guard let session = state.sessions[id] else {
                throw MailServerError(.connectionBroken, "the session was used after it was given back")
            }
            guard !session.broken else { throw MailServerError(.connectionBroken, "the connection is broken") }
            return Self.armedActions(kind, in: &state)
        }
        for action in actions { action(self) }
        return try state.withLock { state in
            guard var session = state.sessions[id], !session.broken else {
                throw MailServerError(.connectionBroken, "the connection is broken")
            }
            state.log.append(LoggedCommand(session: id, user: session.user, kind: kind, command: command))
            let fault = Self.firingFault(kind, in: &state)
            if let fault, fault.timing == .before {
                if fault.error.brokeConnection { state.sessions[id]?.broken = true }
                throw fault.error
            }
            defer { state.sessions[id] = session }
            let result = try body(&state, &session)
            if let fault {
                if fault.error.brokeConnection { session.broken = true }
                throw fault.error
            }
            return result
        }
    }

    static func key(_ name: String) -> String { name.uppercased() == "INBOX" ? "INBOX" : name }
    static func key(_ name: MailboxName) -> String { name.isInbox ? "INBOX" : name.name }

    static func refused(_ text: String) -> MailServerError { MailServerError(.refused, text) }

    /// Applies a STORE to the messages of `uids` that exist; bumps the mod-sequence of those changed.
    /// Returns the UIDs whose flags changed (what Dovecot answers a non-silent STORE with).
    @discardableResult
    static func store(_ box: inout Mailbox, _ uids: UIDSet, _ operation: StoreOperation, _ flags: [Flag]) -> UIDSet {
        let flags = Mailbox.normalized(flags)
        guard !flags.isEmpty || operation == .replace else { return UIDSet() }
        box.noteKeywords(flags)
        var changed: [UInt32] = []
        for index in box.messages.indices where uids.contains(box.messages[index].uid) {
            let before = box.messages[index].flags
            var after = before
            switch operation {
            case .add: for flag in flags where !after.contains(flag) { after.append(flag) }
            case .remove: after.removeAll { flags.contains($0) }
            case .replace: after = flags
            }
            if Set(after) != Set(before) {
                box.messages[index].flags = after
                box.messages[index].modSeq = box.nextModSeq()
                changed.append(box.messages[index].uid)
            }
        }
        return UIDSet(changed)
    }
}

/// A session of an ``InMemoryMailServer``: what ``MailSession`` declares, acting on the server's
/// mailboxes under its lock.
///
/// Sendable: immutable; its mutable state (selection, broken) lives in the server's `Mutex`.
final class InMemoryMailSession: MailSession {
    typealias State = InMemoryMailServer.State
    typealias SessionState = InMemoryMailServer.SessionState
    typealias Mailbox = InMemoryMailServer.Mailbox

    let server: InMemoryMailServer
    let id: Int
    let capabilities: Set<Capability>
    let lineLimit: Int

    init(server: InMemoryMailServer, id: Int, capabilities: Set<Capability>, lineLimit: Int) {
        self.server = server
        self.id = id
        self.capabilities = capabilities
        self.lineLimit = lineLimit
    }

    private var condStore: Bool { capabilities.contains(.condStore) }

    /// The account's mailbox `key`, or NO.
    private static func mailbox(_ state: State, _ user: String, _ key: String) throws -> Mailbox {
        guard let box = state.accounts[user]?.mailboxes[key] else {
            throw InMemoryMailServer.refused("NO [NONEXISTENT] Mailbox doesn't exist: \(key)")
        }
        return box
    }

    /// The selected mailbox's key (NO/BAD when nothing is selected or it was deleted), and whether
    /// it was selected read-only.
    private static func selected(_ state: State, _ session: SessionState) throws -> (key: String, readOnly: Bool) {
        guard let selected = session.selected else { throw InMemoryMailServer.refused("BAD No mailbox selected") }
        _ = try mailbox(state, session.user, selected.key)
        return selected
    }

    private static func writable(_ state: State, _ session: SessionState) throws -> String {
        let selected = try selected(state, session)
        guard !selected.readOnly else { throw InMemoryMailServer.refused("NO Mailbox is read-only") }
        return selected.key
    }

    func select(_ mailbox: MailboxName, readOnly: Bool) async throws -> SelectedMailbox {
        let key = InMemoryMailServer.key(mailbox)
        let condStore = condStore
        let describe = { (box: Mailbox) -> SelectedMailbox in
            var selected = SelectedMailbox(name: mailbox, readOnly: readOnly)
            selected.exists = UInt32(box.messages.count)
            selected.uidValidity = box.uidValidity
            selected.uidNext = box.uidNext
            selected.highestModSeq = condStore ? box.highestModSeq : nil
            selected.flags = [.answered, .flagged, .deleted, .seen, .draft] + box.keywords
            selected.permanentFlags = readOnly ? [] : (box.permanentFlags ?? SelectedMailbox.allFlagsPermanent)
            return selected
        }
        // Already selected that way: no command is sent (as the real connection skips it).
        let current: SelectedMailbox? = try server.peek(session: id) { state, session in
            guard let selected = session.selected, selected.key == key, selected.readOnly == readOnly,
                let box = state.accounts[session.user]?.mailboxes[key]
            else { return nil }
            return describe(box)
        }
        if let current { return current }
        return try server.execute(session: id, .select, readOnly ? .examine(mailbox, condStore: false) : .select(mailbox, condStore: false)) {
            state, session in
            session.selected = nil
            let box = try Self.mailbox(state, session.user, key)
            guard box.selectable else { throw InMemoryMailServer.refused("NO Mailbox isn't selectable") }
            session.selected = (key, readOnly)
            return describe(box)
        }
    }

    func list(status items: [StatusItem]) async throws -> [MailboxListing] {
        let withStatus = !items.isEmpty && capabilities.contains(.listStatus)
        return try server.execute(session: id, .list, .list(pattern: "*", returnSpecialUse: true, returnStatus: withStatus ? items : [])) {
            state, session in
            guard let account = state.accounts[session.user] else { return [] }
            return account.order.compactMap { key -> MailboxListing? in
                guard let box = account.mailboxes[key] else { return nil }
                let prefix = key + String(InMemoryMailServer.delimiter)
                let hasChildren = account.order.contains { $0.hasPrefix(prefix) }
                let entry = ListEntry(
                    attributes: box.attributes + [hasChildren ? "\\HasChildren" : "\\HasNoChildren"], delimiter: InMemoryMailServer.delimiter,
                    name: MailboxName(key))
                let status = withStatus && box.selectable ? try? self.status(of: box, items) : nil
                return MailboxListing(entry: entry, status: status)
            }
        }
    }

    func status(_ mailbox: MailboxName, _ items: [StatusItem]) async throws -> MailboxStatus {
        try server.execute(session: id, .status, .status(mailbox, items)) { state, session in
            try self.status(of: try Self.mailbox(state, session.user, InMemoryMailServer.key(mailbox)), items)
        }
    }

    private func status(of box: Mailbox, _ items: [StatusItem]) throws -> MailboxStatus {
        var status = MailboxStatus(mailbox: MailboxName(box.name))
        for item in items {
            switch item {
            case .messages: status.messages = UInt32(box.messages.count)
            case .recent: status.recent = 0
            case .uidNext: status.uidNext = box.uidNext
            case .uidValidity: status.uidValidity = box.uidValidity
            case .unseen: status.unseen = UInt32(box.messages.count { !$0.has(.seen) })
            case .highestModSeq:
                guard condStore else { throw InMemoryMailServer.refused("BAD Unknown STATUS item HIGHESTMODSEQ") }
                status.highestModSeq = box.highestModSeq
            case .size:
                guard capabilities.contains(Capability("STATUS=SIZE")) else { throw InMemoryMailServer.refused("BAD Unknown STATUS item SIZE") }
                status.size = box.messages.reduce(0) { $0 + $1.size }
            }
        }
        return status
    }

    func uidSearch(_ criteria: SearchKey) async throws -> UIDSet {
        try server.execute(session: id, .search, .uidSearch(criteria, returning: nil)) { state, session in
            let box = try Self.mailbox(state, session.user, try Self.selected(state, session).key)
            if state.misreadsSearchUIDSets, case .uid(let set) = criteria {
                return UIDSet(box.messages.enumerated().filter { set.contains(UInt32($0.offset + 1)) }.map(\.element.uid))
            }
            return UIDSet(box.messages.filter { Self.matches($0, criteria, box) }.map(\.uid))
        }
    }

    static func matches(_ message: FakeMessage, _ key: SearchKey, _ box: Mailbox) -> Bool {
        switch key {
        case .all: true
        case .uid(let set): set.contains(message.uid)
        case .savedResult: false  // only the IMAP client sends `UID $`, below this port; the fake keeps none
        case .seen: message.has(.seen)
        case .unseen: !message.has(.seen)
        case .flagged: message.has(.flagged)
        case .unflagged: !message.has(.flagged)
        case .deleted: message.has(.deleted)
        case .undeleted: !message.has(.deleted)
        case .keyword(let flag): message.has(flag)
        case .unkeyword(let flag): !message.has(flag)
        case .header(let name, let value):
            String(decoding: message.headerFields([name]), as: UTF8.self).lowercased().contains(value.lowercased())
        case .larger(let n): message.size > UInt64(n)
        case .smaller(let n): message.size < UInt64(n)
        case .modSeq(let n): message.modSeq >= n
        case .not(let inner): !matches(message, inner, box)
        case .or(let a, let b): matches(message, a, box) || matches(message, b, box)
        case .and(let keys): keys.allSatisfy { matches(message, $0, box) }
        }
    }

    func uidSort(_ keys: [SortKey]) async throws -> [UInt32] {
        guard capabilities.contains(.sort) else { throw MailServerError(.unsupported, "the server lacks SORT") }
        return try server.execute(session: id, .sort, .uidSort(keys, .all, returning: nil)) { state, session in
            let box = try Self.mailbox(state, session.user, try Self.selected(state, session).key)
            // RFC 5256: keys in turn, REVERSE reversing only its key; ties by sequence number.
            let rows = box.messages.enumerated().map { seq, message in
                (seq: seq, uid: message.uid, keys: keys.map { key in Self.sortValue(message, key.criterion) })
            }
            return rows.sorted { a, b in
                for (index, key) in keys.enumerated() where a.keys[index] != b.keys[index] {
                    return (a.keys[index] < b.keys[index]) != key.reverse
                }
                return a.seq < b.seq
            }.map(\.uid)
        }
    }

    /// One message's value for a sort criterion.
    enum SortValue: Comparable {
        case number(Int64)
        case text(String)
    }

    static func sortValue(_ message: FakeMessage, _ criterion: SortKey.Criterion) -> SortValue {
        let envelope = message.envelope
        switch criterion {
        case .arrival: return .number(message.content.internalDate)
        case .date: return .number(message.content.date ?? message.content.internalDate)
        case .size: return .number(Int64(message.size))
        case .subject: return .text(message.baseSubject)
        case .from, .displayFrom: return .text(envelope.from.first?.mailbox?.lowercased() ?? "")
        case .to, .displayTo: return .text(envelope.to.first?.mailbox?.lowercased() ?? "")
        case .cc: return .text(envelope.cc.first?.mailbox?.lowercased() ?? "")
        }
    }

    func uidThread() async throws -> [ThreadNode] {
        throw MailServerError(.unsupported, "the in-memory server does not implement THREAD")
    }

    func uidFetch(_ uids: UIDSet, _ items: [FetchItem], changedSince: UInt64?) async throws -> [FetchedMessage] {
        let condStore = condStore
        return try server.execute(session: id, .fetch, .uidFetch(uids, items, changedSince: changedSince)) { state, session in
            if changedSince != nil, !condStore { throw InMemoryMailServer.refused("BAD CHANGEDSINCE needs CONDSTORE") }
            // Without CONDSTORE, MODSEQ is no fetch attribute the server knows (RFC 7162 §3.1.4).
            if items.contains(.modSeq), !condStore { throw InMemoryMailServer.refused("BAD Unknown FETCH attribute MODSEQ") }
            let box = try Self.mailbox(state, session.user, try Self.selected(state, session).key)
            var out: [FetchedMessage] = []
            for (index, message) in box.messages.enumerated() where uids.contains(message.uid) {
                if let since = changedSince, message.modSeq <= since { continue }
                var attributes: [FetchAttribute] = [.uid(message.uid)]
                for item in items {
                    switch item {
                    case .uid: break
                    case .flags: attributes.append(.flags(message.flags))
                    case .rfc822Size: attributes.append(.rfc822Size(message.size))
                    case .internalDate: attributes.append(.internalDate(InternalDate(secondsSince1970: message.content.internalDate)))
                    case .envelope: attributes.append(.envelope(message.envelope))
                    case .bodyStructure: attributes.append(.bodyStructure(message.bodyStructure))
                    case .modSeq: attributes.append(.modSeq(message.modSeq))
                    case .headerFields(let names):
                        let section = "HEADER.FIELDS (\(names.map { $0.uppercased() }.joined(separator: " ")))"
                        attributes.append(.bodySection(section: section, origin: nil, data: message.headerFields(names)))
                    case .bodyPeek(let section):
                        let raw = message.content.raw
                        let data: [UInt8] =
                            switch section.uppercased() {
                            case "HEADER": Array((message.content.headerText + "\r\n").utf8)
                            case "TEXT": Array(message.content.body.utf8)
                            default: raw
                            }
                        attributes.append(.bodySection(section: section.uppercased(), origin: nil, data: data))
                    }
                }
                if changedSince != nil, !items.contains(.modSeq) { attributes.append(.modSeq(message.modSeq)) }
                out.append(FetchedMessage(sequenceNumber: UInt32(index + 1), attributes: attributes))
            }
            return out
        }
    }

    func uidStore(_ uids: UIDSet, _ operation: StoreOperation, flags: [Flag]) async throws {
        _ = try store(uids, operation, flags: flags, silent: true)
    }

    /// Answers for the messages whose flags changed, as Dovecot does.
    func uidStoreReporting(_ uids: UIDSet, _ operation: StoreOperation, flags: [Flag]) async throws -> UIDSet {
        try store(uids, operation, flags: flags, silent: false)
    }

    private func store(_ uids: UIDSet, _ operation: StoreOperation, flags: [Flag], silent: Bool) throws -> UIDSet {
        try server.execute(session: id, .store, .uidStore(uids, operation, flags: flags, silent: silent, unchangedSince: nil)) { state, session in
            let key = try Self.writable(state, session)
            var box = try Self.mailbox(state, session.user, key)
            let permanent = box.permanentFlags ?? SelectedMailbox.allFlagsPermanent
            for flag in flags where !(permanent.contains(flag) || (!flag.isSystemFlag && permanent.contains(.wildcard))) {
                throw InMemoryMailServer.refused("NO Flag \(flag) cannot be stored permanently in \(key)")
            }
            let changed = InMemoryMailServer.store(&box, uids, operation, flags)
            state.accounts[session.user]?.mailboxes[key] = box
            return changed
        }
    }

    func uidCopy(_ uids: UIDSet, to mailbox: MailboxName) async throws -> CopyResult {
        let uidPlus = capabilities.contains(.uidPlus)
        return try server.execute(session: id, .copy, .uidCopy(uids, mailbox)) { state, session in
            try Self.transfer(&state, session, uids, to: mailbox, move: false, reportCopyUID: uidPlus)
        }
    }

    func uidMove(_ uids: UIDSet, to mailbox: MailboxName) async throws -> CopyResult {
        guard capabilities.contains(.move) else { throw MailServerError(.unsupported, "the server lacks MOVE") }
        let uidPlus = capabilities.contains(.uidPlus)
        return try server.execute(session: id, .move, .uidMove(uids, mailbox)) { state, session in
            try Self.transfer(&state, session, uids, to: mailbox, move: true, reportCopyUID: uidPlus)
        }
    }

    /// COPY or MOVE of the existing messages among `uids`, in UID order, to new UIDs of the
    /// destination; COPYUID (with UIDPLUS) maps each source UID to its copy.
    private static func transfer(
        _ state: inout State, _ session: SessionState, _ uids: UIDSet, to mailbox: MailboxName, move: Bool, reportCopyUID: Bool
    ) throws -> CopyResult {
        let sourceKey = move ? try writable(state, session) : try selected(state, session).key
        let destinationKey = InMemoryMailServer.key(mailbox)
        guard var destination = state.accounts[session.user]?.mailboxes[destinationKey], destination.selectable else {
            throw InMemoryMailServer.refused("NO [TRYCREATE] Mailbox doesn't exist: \(destinationKey)")
        }
        var source = try Self.mailbox(state, session.user, sourceKey)
        let chosen = source.messages.filter { uids.contains($0.uid) }
        guard !chosen.isEmpty else { return CopyResult() }
        if sourceKey == destinationKey { destination = source }
        var newUIDs: [UInt32: UInt32] = [:]
        for message in chosen { newUIDs[message.uid] = destination.add(message.content, flags: message.flags) }
        if sourceKey == destinationKey { source = destination }
        if move {
            // The originals (their copies have new, higher UIDs, even within one mailbox).
            source.messages.removeAll { newUIDs[$0.uid] != nil }
            _ = source.nextModSeq()
        }
        state.accounts[session.user]?.mailboxes[sourceKey] = source
        if sourceKey != destinationKey { state.accounts[session.user]?.mailboxes[destinationKey] = destination }
        return reportCopyUID ? CopyResult(uidValidity: destination.uidValidity, newUIDs: newUIDs) : CopyResult()
    }

    func uidExpunge(_ uids: UIDSet) async throws {
        guard capabilities.contains(.uidPlus) else { throw MailServerError(.unsupported, "UID EXPUNGE needs UIDPLUS") }
        try server.execute(session: id, .expunge, .uidExpunge(uids)) { state, session in
            let key = try Self.writable(state, session)
            var box = try Self.mailbox(state, session.user, key)
            let before = box.messages.count
            box.messages.removeAll { uids.contains($0.uid) && $0.has(.deleted) }
            if box.messages.count != before { _ = box.nextModSeq() }
            state.accounts[session.user]?.mailboxes[key] = box
        }
    }

    func append(_ message: [UInt8], to mailbox: MailboxName, flags: [Flag]) async throws -> (uidValidity: UInt32, uid: UInt32)? {
        let uidPlus = capabilities.contains(.uidPlus)
        let result: AppendUID? = try server.execute(session: id, .append, .append(mailbox, flags: flags, message: message)) { state, session in
            let key = InMemoryMailServer.key(mailbox)
            guard var box = state.accounts[session.user]?.mailboxes[key], box.selectable else {
                throw InMemoryMailServer.refused("NO [TRYCREATE] Mailbox doesn't exist: \(key)")
            }
            let seed = MessageSeed(raw: message, flags: flags, internalDate: Int64(Date().timeIntervalSince1970))
            let uid = box.add(seed, flags: flags)
            state.accounts[session.user]?.mailboxes[key] = box
            return uidPlus ? AppendUID(uidValidity: box.uidValidity, uid: uid) : nil
        }
        return result.map { ($0.uidValidity, $0.uid) }
    }

    private struct AppendUID: Sendable {
        var uidValidity: UInt32
        var uid: UInt32
    }

    /// Splits as the real adapter does: IMAPCore's encoder cuts the command's set so each line fits
    /// `lineLimit` octets (CRLF included). An impossible limit leaves the set whole (the command
    /// then fails when sent, as it would upstream).
    func splitToFitLine(_ uids: UIDSet, _ command: (UIDSet) -> Command) -> [UIDSet] {
        guard !uids.isEmpty else { return [] }
        guard let pieces = try? CommandEncoder().split(command(uids), maxLineLength: lineLimit) else { return [uids] }
        return pieces.map { $0.uidSet ?? uids }
    }
}

extension InMemoryMailServer {
    /// Reads the session's state without running a command (no log, no fault): for the SELECT
    /// shortcut, which sends nothing when the mailbox is already selected that way.
    func peek<T: Sendable>(session id: Int, _ body: (State, SessionState) throws -> T) throws -> T {
        try state.withLock { state in
            guard let session = state.sessions[id], !session.broken else {
                throw MailServerError(.connectionBroken, "the connection is broken")
            }
            return try body(state, session)
        }
    }
}
