import IMAPCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Tracing

/// One connection to the IMAP server, with an async API over the channel handlers.
///
/// Commands may be issued concurrently (they are pipelined), but the selected-mailbox state is
/// shared: callers that SELECT should hold the connection exclusively, as ``IMAPConnectionPool`` does.
/// Every error thrown is an ``IMAPError``.
public final class IMAPConnection: Sendable {
    struct State: Sendable {
        var capabilities: Set<Capability> = []
        var selected: SelectedMailbox?
        var authenticatedAs: String?
        var broken = false
        /// Why the connection failed, as the handler first saw it.
        var failure: IMAPError?
        var commandsSent = 0
    }

    let channel: any Channel
    let server: IMAPServerConfiguration
    let logger: Logger
    let state: NIOLockedValueBox<State>
    let metrics: IMAPMetrics

    private init(
        channel: any Channel, server: IMAPServerConfiguration, state: NIOLockedValueBox<State>, metrics: IMAPMetrics, logger: Logger
    ) {
        self.channel = channel
        self.server = server
        self.state = state
        self.metrics = metrics
        self.logger = logger
    }

    /// The longest command line this connection sends (UID-set commands are split to fit).
    public var maxCommandLineLength: Int { server.maxCommandLineLength }

    /// The server's current capabilities (refreshed after STARTTLS and login).
    public var capabilities: Set<Capability> { state.withLockedValue { $0.capabilities } }

    /// The mailbox selected now, if any, as last reported by the server.
    public var selectedMailbox: SelectedMailbox? { state.withLockedValue { $0.selected } }

    /// The user logged in (the authorization identity for master logins).
    public var authenticatedUser: String? { state.withLockedValue { $0.authenticatedAs } }

    /// How many commands this connection has sent (for metrics, and for tests that prove a command was skipped).
    public var commandsSent: Int { state.withLockedValue { $0.commandsSent } }

    /// False once the connection closed, timed out, got BYE or broke the protocol.
    public var isUsable: Bool { channel.isActive && !state.withLockedValue { $0.broken } }

    // MARK: Connecting

    /// Connects, waits for the greeting, negotiates TLS as configured, and learns the capabilities.
    /// Every command the connection sends is counted and timed on `metrics`.
    public static func connect(
        to server: IMAPServerConfiguration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        metrics: IMAPMetrics = .disabled,
        logger: Logger
    ) async throws -> IMAPConnection {
        let state = NIOLockedValueBox(State())
        let eventLoop = eventLoopGroup.next()
        let greeting = eventLoop.makePromise(of: UntaggedResponse.self)
        let sslContext: NIOSSLContext?
        do {
            sslContext = server.tlsMode == .none ? nil : try NIOSSLContext(configuration: server.tlsConfiguration)
        } catch {
            throw IMAPError.tls("\(error)")
        }
        let hostname = server.serverHostname ?? server.host
        let sniHostname = Self.isIPAddress(hostname) ? nil : hostname
        let limits = ResponseFramer.Limits(
            maxLineLength: server.maxResponseLineLength, maxLiteralSize: server.maxLiteralSize,
            maxResponseSize: server.maxResponseLineLength + server.maxLiteralSize
        )
        let untaggedLimits = CommandPipeline.Limits(
            maxResponses: server.maxUntaggedResponsesPerCommand, maxOctets: server.maxUntaggedOctetsPerCommand)
        let timeout = TimeAmount(server.commandTimeout)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(server.connectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if server.tlsMode == .tls, let sslContext {
                        try sync.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: sniHostname))
                    }
                    var startTLS: StartTLSUpgrade?
                    if server.tlsMode == .startTLS, let sslContext {
                        startTLS = StartTLSUpgrade(context: sslContext, serverHostname: sniHostname, boundary: PlaintextBoundary())
                    }
                    try sync.addHandler(ByteToMessageHandler(ResponseDecoder(limits: limits, boundary: startTLS?.boundary)))
                    try sync.addHandler(
                        IMAPClientHandler(
                            greeting: greeting, commandTimeout: timeout, logger: logger,
                            untaggedLimits: untaggedLimits, startTLS: startTLS,
                            onFailure: { error in
                                state.withLockedValue { state in
                                    state.broken = true
                                    if state.failure == nil { state.failure = error }
                                }
                            },
                            encoder: {
                                CommandEncoder(useLiteralPlus: state.withLockedValue { $0.capabilities.contains(.literalPlus) })
                            })
                    )
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: server.host, port: server.port).get()
        } catch {
            greeting.fail(IMAPError.connectFailed(host: server.host, port: server.port, reason: "\(error)"))
            throw IMAPError.connectFailed(host: server.host, port: server.port, reason: "\(error)")
        }
        let connection = IMAPConnection(channel: channel, server: server, state: state, metrics: metrics, logger: logger)
        do {
            // The greeting shares the connect deadline: a server that accepts but never speaks is dropped.
            let greetingTimeout = eventLoop.scheduleTask(in: TimeAmount(server.connectTimeout)) {
                greeting.fail(IMAPError.timeout(command: "greeting"))
            }
            defer { greetingTimeout.cancel() }
            let hello = try await Self.imapError { try await greeting.futureResult.get() }
            guard case .status(let status, let text) = hello else { throw IMAPError.protocolViolation("bad greeting") }
            if status == .bye { throw IMAPError.greetingRejected(text.text) }
            if case .capability(let caps) = text.code { state.withLockedValue { $0.capabilities = Set(caps) } }
            if status == .preauth { state.withLockedValue { $0.authenticatedAs = "" } }
            if server.tlsMode == .startTLS {
                try await connection.startTLS()
            } else if connection.capabilities.isEmpty {
                try await connection.refreshCapabilities()
            }
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    /// Upgrades with STARTTLS. The handler secures the channel as the OK arrives, and fails the
    /// connection if the server sent anything after it in plaintext (RFC 3501 §6.2.1); the
    /// capabilities are then learned again, from what arrives over TLS only.
    private func startTLS() async throws {
        if capabilities.isEmpty { try await refreshCapabilities() }
        guard capabilities.contains(.startTLS) else { throw IMAPError.unsupported("STARTTLS is not offered") }
        _ = try await execute(.startTLS)
        // Capabilities learned before TLS may have been tampered with: forget them.
        state.withLockedValue { $0.capabilities = [] }
        try await refreshCapabilities()
    }

    /// Sends CAPABILITY and records the answer.
    @discardableResult
    public func refreshCapabilities() async throws -> Set<Capability> {
        let result = try await execute(.capability)
        var caps: Set<Capability> = []
        for case .capability(let list) in result.untagged { caps.formUnion(list) }
        state.withLockedValue { $0.capabilities = caps }
        return caps
    }

    /// Logs in with LOGIN or SASL PLAIN (SASL-IR where offered); a master login always uses PLAIN
    /// with the account as authorization identity.
    public func login(_ credentials: IMAPCredentials) async throws {
        let caps = capabilities
        let usePlain = credentials.isMasterLogin || credentials.method == .plain || caps.contains(.loginDisabled)
        if usePlain && !caps.contains(.authPlain) && !caps.isEmpty {
            throw IMAPError.unsupported("AUTH=PLAIN is not offered")
        }
        let command: Command =
            usePlain
            ? .authenticatePlain(
                authorizationIdentity: credentials.isMasterLogin ? credentials.user : nil,
                username: credentials.authenticationIdentity, password: credentials.password,
                initialResponse: caps.contains(.saslIR))
            : .login(username: credentials.user, password: credentials.password)
        let result: CommandResult
        do {
            result = try await execute(command)
        } catch IMAPError.commandFailed(_, _, let text) {
            throw IMAPError.authenticationFailed(text.text)
        }
        state.withLockedValue { $0.authenticatedAs = credentials.user }
        if case .capability(let list) = result.completion.text.code {
            state.withLockedValue { $0.capabilities = Set(list) }
        } else {
            var caps: Set<Capability> = []
            for case .capability(let list) in result.untagged { caps.formUnion(list) }
            if caps.isEmpty {
                try await refreshCapabilities()
            } else {
                state.withLockedValue { $0.capabilities = caps }
            }
        }
    }

    // MARK: Commands

    /// Sends one command and waits for its completion. NO and BAD are thrown as ``IMAPError/commandFailed(command:status:text:)``.
    /// Each command is a client span (`IMAP <name>`) of the current trace, counted and timed on the metrics.
    @discardableResult
    public func execute(_ command: Command) async throws -> CommandResult {
        let name = command.name
        return try await withSpan("IMAP \(name)", ofKind: .client) { span in
            span.attributes["imap.command"] = name
            let started = ContinuousClock.now
            do {
                let answer = try await send(command)
                finished(name, result: "ok", after: ContinuousClock.now - started)
                return answer
            } catch {
                let result = Self.metricsResult(of: error)
                finished(name, result: result, after: ContinuousClock.now - started)
                span.attributes["imap.result"] = result
                throw error
            }
        }
    }

    /// Counts and times a command, and logs it (in the caller's task, so the line carries the
    /// request's metadata): its name and result only, never its arguments.
    private func finished(_ name: String, result: String, after duration: Duration) {
        metrics.record(command: name, result: result, duration: duration)
        logger.debug("imap command", metadata: ["command": "\(name)", "result": "\(result)", "duration": "\(duration)"])
    }

    /// The `result` label of a failed command: the server's NO or BAD, `refused` when the client
    /// would not send it, `failed` when no answer came (closed, timed out, protocol broken).
    static func metricsResult(of error: any Error) -> String {
        switch error {
        case IMAPError.commandFailed(_, let status, _): status == .no ? "no" : "bad"
        case IMAPError.invalidCommand: "refused"
        default: "failed"
        }
    }

    private func send(_ command: Command) async throws -> CommandResult {
        let promise = channel.eventLoop.makePromise(of: CommandResult.self)
        state.withLockedValue { $0.commandsSent += 1 }
        channel.writeAndFlush(CommandRequest(command: command, promise: promise)).whenFailure { [state] error in
            // The handler is gone with the channel: report why the connection failed, if known.
            promise.fail(state.withLockedValue { $0.failure } ?? IMAPError.connectionClosed(reason: "\(error)"))
        }
        let result: CommandResult
        do {
            result = try await Self.imapError { try await promise.futureResult.get() }
        } catch IMAPError.invalidCommand(let reason) {
            // Refused before anything was written: the connection is as good as before.
            throw IMAPError.invalidCommand(reason)
        } catch {
            state.withLockedValue { $0.broken = true }
            throw error
        }
        state.withLockedValue { state in
            for response in result.untagged {
                state.selected?.apply(response)
                if case .status(.bye, _) = response { state.broken = true }
            }
        }
        guard result.completion.status == .ok else {
            throw IMAPError.commandFailed(command: command.name, status: result.completion.status, text: result.completion.text)
        }
        return result
    }

    /// Runs a UID-set command as several commands when one line would exceed the configured limit,
    /// one after the other; returns every result. A failure stops at that piece.
    ///
    /// A command that changes messages (STORE, COPY, MOVE, EXPUNGE) stays one command where the
    /// server offers SEARCHRES (RFC 5182): its set is first kept on the server as `$` by
    /// line-sized `UID SEARCH RETURN (SAVE)` commands, then the command acts on `$`. Servers spend
    /// most of an expunging command's time per command, not per message (SPEC §7: ten `UID MOVE`s
    /// of 200 cost 5.7–8.7 times one of 2,000), and a sparse set of 10,000 UIDs needs about eight
    /// lines of 8,192 octets.
    func executeSplit(_ command: Command) async throws -> [CommandResult] {
        let pieces: [Command]
        do {
            pieces = try CommandEncoder().split(command, maxLineLength: server.maxCommandLineLength)
        } catch {
            throw IMAPError.invalidCommand(error)
        }
        if pieces.count > 1, let set = command.uidSet, sendsWholeOnSavedResult(command) {
            if let results = try await executeOnSavedResult(command, set: set) { return results }
        }
        var results: [CommandResult] = []
        results.reserveCapacity(pieces.count)
        for piece in pieces { results.append(try await execute(piece)) }
        return results
    }

    /// Whether `command`, should its UID set not fit one line, is still sent as one command, on a
    /// saved search result (it changes messages, and the server offers SEARCHRES and ESEARCH).
    public func sendsWholeOnSavedResult(_ command: Command) -> Bool {
        command.changesMessages && capabilities.contains(.searchRes) && capabilities.contains(.esearch)
    }

    /// Keeps `set` on the server as `$` (the first piece plain, each further one `OR UID $ UID <piece>`,
    /// the last returning the whole of `$`), checks that the server kept only UIDs of `set`, and runs
    /// `command` on `$`. Nothing runs when none of `set` exists. Nil when the server refused to
    /// keep the result (the caller then sends the pieces).
    private func executeOnSavedResult(_ command: Command, set: UIDSet) async throws -> [CommandResult]? {
        let saving = Command.uidSearch(.or(.savedResult, .uid(set)), returning: [.save, .all])
        let pieces: [UIDSet]
        do {
            pieces = try CommandEncoder().split(saving, maxLineLength: server.maxCommandLineLength).compactMap(\.uidSet)
        } catch {
            throw IMAPError.invalidCommand(error)
        }
        var saved = UIDSet()
        for (index, piece) in pieces.enumerated() {
            let last = index == pieces.count - 1
            let key: SearchKey = index == 0 ? .uid(piece) : .or(.savedResult, .uid(piece))
            let result: CommandResult
            do {
                result = try await execute(.uidSearch(key, returning: last ? [.save, .all] : [.save]))
            } catch IMAPError.commandFailed(let name, let status, let text) {
                logger.info(
                    "the server refused to save a search result; sending the command in pieces",
                    metadata: ["command": "\(name)", "status": "\(status)", "text": "\(text)"])
                return nil
            }
            if last {
                for case .esearch(let answer) in result.untagged { saved = saved.union(answer.all ?? UIDSet()) }
            }
        }
        guard saved.subtracting(set).isEmpty else {
            throw IMAPError.protocolViolation(
                "the server's saved search result holds UIDs that were not asked about (\(saved.subtracting(set)))")
        }
        guard !saved.isEmpty else { return [] }
        return [try await execute(.onSavedResult(command))]
    }

    public func noop() async throws { try await execute(.noop) }

    public func enable(_ capabilities: [Capability]) async throws -> [Capability] {
        let result = try await execute(.enable(capabilities))
        var enabled: [Capability] = []
        for case .enabled(let list) in result.untagged { enabled.append(contentsOf: list) }
        return enabled
    }

    /// Selects (or examines) a mailbox. When the same mailbox is already selected in the same mode the
    /// command is skipped and the tracked state returned, unless `force` is set.
    @discardableResult
    public func select(_ mailbox: MailboxName, readOnly: Bool = false, force: Bool = false) async throws -> SelectedMailbox {
        if !force, let current = selectedMailbox, current.name == mailbox, current.readOnly == readOnly {
            return current
        }
        // A failed SELECT leaves no mailbox selected (RFC 3501 §6.3.1).
        state.withLockedValue { $0.selected = nil }
        let condStore = capabilities.contains(.condStore)
        let result = try await execute(readOnly ? .examine(mailbox, condStore: condStore) : .select(mailbox, condStore: condStore))
        var selected = SelectedMailbox(name: mailbox, readOnly: readOnly)
        var permanentFlagsSent = false
        for response in result.untagged {
            selected.apply(response)
            if case .status(.ok, let text) = response, case .permanentFlags = text.code { permanentFlagsSent = true }
        }
        switch result.completion.text.code {
        case .readOnly: selected.readOnly = true
        case .readWrite: selected.readOnly = false
        default: break
        }
        // RFC 3501 §6.3.1: without PERMANENTFLAGS, all flags can be changed permanently.
        if !permanentFlagsSent { selected.permanentFlags = SelectedMailbox.allFlagsPermanent }
        state.withLockedValue { $0.selected = selected }
        return selected
    }

    /// Forgets which mailbox is selected, so the next ``select(_:readOnly:force:)`` is sent even
    /// for the same mailbox (the server's state is read afresh). Sends nothing.
    public func forgetSelection() {
        state.withLockedValue { $0.selected = nil }
    }

    /// Closes the selected mailbox without expunging (UNSELECT, or EXAMINE-free fallback not needed on Dovecot).
    public func unselect() async throws {
        guard selectedMailbox != nil else { return }
        if capabilities.contains(Capability("UNSELECT")) {
            try await execute(.unselect)
        } else {
            throw IMAPError.unsupported("UNSELECT")
        }
        state.withLockedValue { $0.selected = nil }
    }

    /// Lists mailboxes with their SPECIAL-USE attributes (and STATUS items via LIST-STATUS where offered).
    public func list(pattern: String = "*", status: [StatusItem] = []) async throws -> [MailboxListing] {
        let caps = capabilities
        let returnStatus = caps.contains(.listStatus) ? status : []
        let result = try await execute(.list(pattern: pattern, returnSpecialUse: caps.contains(.specialUse), returnStatus: returnStatus))
        var listings: [MailboxListing] = []
        var statuses: [MailboxName: MailboxStatus] = [:]
        for response in result.untagged {
            switch response {
            case .list(let entry): listings.append(MailboxListing(entry: entry))
            case .mailboxStatus(let s): statuses[s.mailbox] = s
            default: break
            }
        }
        for i in listings.indices { listings[i].status = statuses[listings[i].name] }
        if !status.isEmpty && returnStatus.isEmpty {
            for i in listings.indices where listings[i].isSelectable {
                listings[i].status = try await self.status(listings[i].name, status)
            }
        }
        return listings
    }

    /// STATUS of a mailbox. On the selected mailbox a server may answer from the session's own view
    /// (Dovecot does), missing messages that arrived since; a NOOP first brings that view up to date.
    public func status(_ mailbox: MailboxName, _ items: [StatusItem]) async throws -> MailboxStatus {
        if selectedMailbox?.name == mailbox { try await noop() }
        let result = try await execute(.status(mailbox, items))
        // Only the mailbox asked about: a server may send other mailboxes' STATUS, and must not
        // have them taken for this one's.
        for case .mailboxStatus(let s) in result.untagged where s.mailbox == mailbox || (s.mailbox.isInbox && mailbox.isInbox) {
            return s
        }
        throw IMAPError.protocolViolation("STATUS \(mailbox) answered without data for that mailbox")
    }

    public func create(_ mailbox: MailboxName) async throws { try await execute(.create(mailbox)) }

    public func delete(_ mailbox: MailboxName) async throws {
        if selectedMailbox?.name == mailbox { state.withLockedValue { $0.selected = nil } }
        try await execute(.delete(mailbox))
    }

    /// Appends a message; returns its UID when the server reports APPENDUID.
    @discardableResult
    public func append(_ message: [UInt8], to mailbox: MailboxName, flags: [Flag] = []) async throws -> (uidValidity: UInt32, uid: UInt32)? {
        let result = try await execute(.append(mailbox, flags: flags, message: message))
        if case .appendUID(let validity, let uids) = result.completion.text.code, let uid = uids.last {
            return (validity, uid)
        }
        return nil
    }

    /// UIDs matching `criteria` in the selected mailbox (ESEARCH's compact `ALL` where offered).
    /// A criterion that starts with `UID <set>` is split like other UID-set commands, so
    /// `uidSearch(.uid(set))` tells which of any number of UIDs still exist.
    public func uidSearch(_ criteria: SearchKey) async throws -> UIDSet {
        let extended = capabilities.contains(.esearch)
        var uids: [UInt32] = []
        var found = UIDSet()
        for result in try await executeSplit(.uidSearch(criteria, returning: extended ? [.all] : nil)) {
            for response in result.untagged {
                switch response {
                case .esearch(let e): found = found.union(e.all ?? UIDSet())
                case .search(let numbers, _): uids.append(contentsOf: numbers)
                default: break
                }
            }
        }
        return found.union(UIDSet(uids))
    }

    /// UIDs matching `criteria`, in the server's SORT order (RFC 5256). Requires SORT.
    public func uidSort(_ keys: [SortKey], criteria: SearchKey = .all) async throws -> [UInt32] {
        guard capabilities.contains(.sort) else { throw IMAPError.unsupported("SORT") }
        let result = try await execute(.uidSort(keys, criteria, returning: nil))
        var uids: [UInt32] = []
        for case .sort(let numbers, _) in result.untagged { uids.append(contentsOf: numbers) }
        return uids
    }

    /// One window of a sorted listing with ESORT's `PARTIAL` (RFC 5267), plus the total count.
    public func uidSortPartial(
        _ keys: [SortKey], criteria: SearchKey = .all, positions: ClosedRange<Int32>
    ) async throws -> (uids: [UInt32], total: UInt32?) {
        guard capabilities.contains(.esort) else { throw IMAPError.unsupported("ESORT") }
        let result = try await execute(.uidSort(keys, criteria, returning: [.partial(positions), .count]))
        for case .esearch(let e) in result.untagged { return (e.partial?.numbers ?? [], e.count) }
        return ([], 0)
    }

    /// Threads of the selected mailbox by `REFERENCES` (RFC 5256), with UIDs as numbers.
    public func uidThread(criteria: SearchKey = .all) async throws -> [ThreadNode] {
        guard capabilities.contains(.threadReferences) else { throw IMAPError.unsupported("THREAD=REFERENCES") }
        let result = try await execute(.uidThread(algorithm: "REFERENCES", criteria))
        var roots: [ThreadNode] = []
        for case .thread(let nodes) in result.untagged { roots.append(contentsOf: nodes) }
        return roots
    }

    /// Fetches `items` for the messages of `uids` (split to respect the line limit). Messages that
    /// no longer exist are simply absent from the answer.
    public func uidFetch(_ uids: UIDSet, _ items: [FetchItem], changedSince: UInt64? = nil) async throws -> [FetchedMessage] {
        guard !uids.isEmpty else { return [] }
        let withUID = items.contains(.uid) ? items : [.uid] + items
        var messages: [FetchedMessage] = []
        for result in try await executeSplit(.uidFetch(uids, withUID, changedSince: changedSince)) {
            for case .fetch(let seq, let attributes) in result.untagged {
                let message = FetchedMessage(sequenceNumber: seq, attributes: attributes)
                if let uid = message.uid, uids.contains(uid) { messages.append(message) }
            }
        }
        return messages
    }

    /// Changes flags with `UID STORE …FLAGS.SILENT` (split as needed). With `unchangedSince`, returns the
    /// UIDs the server refused because they changed (CONDSTORE `MODIFIED`). Missing UIDs are ignored by the server.
    @discardableResult
    public func uidStore(_ uids: UIDSet, _ operation: StoreOperation, flags: [Flag], unchangedSince: UInt64? = nil) async throws -> UIDSet {
        guard !uids.isEmpty else { return UIDSet() }
        var modified = UIDSet()
        let command = Command.uidStore(uids, operation, flags: flags, silent: true, unchangedSince: unchangedSince)
        for result in try await executeSplit(command) {
            if case .modified(let set) = result.completion.text.code { modified = modified.union(set) }
        }
        return modified
    }

    /// Changes flags with a non-silent `UID STORE ±FLAGS` (split as needed) and returns the UIDs of
    /// `uids` that the server answered with a FETCH whose FLAGS show the change: messages that exist
    /// and now carry the flags (or no longer do). Servers answer at least for every message whose
    /// flags changed (RFC 3501 §6.4.6; Dovecot for those only), so a UID not returned is missing or
    /// was unchanged: the caller tells them apart if it needs to. A FETCH for another UID, without
    /// a UID, or with FLAGS that contradict the change confirms nothing (SPEC §4).
    public func uidStoreReporting(_ uids: UIDSet, _ operation: StoreOperation, flags: [Flag]) async throws -> UIDSet {
        guard !uids.isEmpty else { return UIDSet() }
        var reported: [UInt32] = []
        for result in try await executeSplit(.uidStore(uids, operation, flags: flags, silent: false, unchangedSince: nil)) {
            for case .fetch(_, let attributes) in result.untagged {
                let message = FetchedMessage(sequenceNumber: 0, attributes: attributes)
                guard let uid = message.uid, uids.contains(uid), let now = message.flags.map(Set.init) else { continue }
                let shows: Bool =
                    switch operation {
                    case .add: flags.allSatisfy(now.contains)
                    case .remove: !flags.contains(where: now.contains)
                    case .replace: now == Set(flags)
                    }
                if shows { reported.append(uid) }
            }
        }
        return UIDSet(reported)
    }

    /// `UID COPY` (split as needed), with the COPYUID mapping of every piece.
    public func uidCopy(_ uids: UIDSet, to mailbox: MailboxName) async throws -> CopyResult {
        guard !uids.isEmpty else { return CopyResult() }
        return Self.copyResult(try await executeSplit(.uidCopy(uids, mailbox)))
    }

    /// `UID MOVE` (RFC 6851, split as needed). COPYUID arrives in an untagged OK before the EXPUNGEs.
    public func uidMove(_ uids: UIDSet, to mailbox: MailboxName) async throws -> CopyResult {
        guard capabilities.contains(.move) else { throw IMAPError.unsupported("MOVE") }
        guard !uids.isEmpty else { return CopyResult() }
        return Self.copyResult(try await executeSplit(.uidMove(uids, mailbox)))
    }

    /// `UID EXPUNGE` (RFC 4315): removes only those of `uids` that carry `\Deleted`. Returns how many went.
    @discardableResult
    public func uidExpunge(_ uids: UIDSet) async throws -> Int {
        guard capabilities.contains(.uidPlus) else { throw IMAPError.unsupported("UIDPLUS (UID EXPUNGE)") }
        guard !uids.isEmpty else { return 0 }
        var expunged = 0
        for result in try await executeSplit(.uidExpunge(uids)) {
            for response in result.untagged {
                switch response {
                case .expunge: expunged += 1
                case .vanished(false, let set): expunged += set.count
                default: break
                }
            }
        }
        return expunged
    }

    private static func copyResult(_ results: [CommandResult]) -> CopyResult {
        var copy = CopyResult()
        for result in results {
            let codes = [result.completion.text.code] + result.untagged.map { response -> ResponseCode? in
                if case .status(.ok, let text) = response { return text.code }
                return nil
            }
            for case .copyUID(let validity, let source, let destination)? in codes {
                copy.uidValidity = validity
                for (s, d) in zip(source, destination) { copy.newUIDs[s] = d }
            }
        }
        return copy
    }

    // MARK: Closing

    /// Says LOGOUT (best effort) and closes the connection.
    public func logout() async {
        if isUsable { _ = try? await execute(.logout) }
        close()
    }

    /// Closes the connection at once; pending commands fail with ``IMAPError/connectionClosed(reason:)``.
    public func close() {
        state.withLockedValue { $0.broken = true }
        channel.close(promise: nil)
    }

    // MARK: Helpers

    /// Runs `body`, turning any error into an ``IMAPError``.
    static func imapError<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as IMAPError {
            throw error
        } catch let error as NIOSSLError {
            throw IMAPError.tls("\(error)")
        } catch {
            throw IMAPError.connectionClosed(reason: "\(error)")
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
