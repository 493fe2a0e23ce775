import Crypto
import IMAPCore
import Synchronization

/// The account's conversations (SPEC §2), computed by the gateway from a per-folder header cache
/// kept in step with the server, and threaded across folders by RFC 5256 REFERENCES
/// (``ReferencesThreading``): THREAD is per mailbox on every server, conversations are not.
///
/// **Scopes.** Every selectable folder but Junk and Trash (and their children) is threaded
/// together: the account's conversations. Trash with its children, and Junk with its children,
/// are each threaded on their own, so that listing Trash shows the threads of what is in Trash
/// without pulling deleted mail into the account's conversations; their IDs are derived within
/// that scope and never equal a main conversation's.
///
/// **IDs.** A conversation's ID is a hash of its root's key: the first References entry of the
/// root message (the thread's original root as its messages name it), else the root's Message
/// ID. Under a missing root (a dummy), the oldest child stands for it, whose first reference is
/// that same missing root. So the ID stays as replies arrive and as members move between folders
/// of one scope. A message without a Message ID is a conversation of its own, keyed by its mail
/// ID (it changes if that message moves).
///
/// **Keeping in step.** Per folder, only UIDs not yet known are fetched (`ENVELOPE INTERNALDATE
/// RFC822.SIZE BODY.PEEK[HEADER.FIELDS (Message-ID References In-Reply-To Subject Date)]`, in
/// pieces: ``ThreadHeaders/fetchItems``), and
/// expunged ones dropped; a folder whose UIDVALIDITY, UIDNEXT and message count are unchanged is
/// not asked again. Flags come from the listing's metadata cache (CONDSTORE where offered). With
/// CONDSTORE, a folder whose STATUS (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ) is unchanged
/// costs that one STATUS: its headers, metadata — and, when no folder changed, the whole
/// conversation set — are reused from memory (``Memo``).
public struct ConversationIndex: Sendable {
    let cache: any ConversationCache
    let ordering: MailOrdering
    let fetchBatch: Int
    private let memo: Memo

    public init(cache: any ConversationCache, ordering: MailOrdering, fetchBatch: Int = 5000) {
        self.cache = cache
        self.ordering = ordering
        self.fetchBatch = max(1, fetchBatch)
        memo = Memo()
    }

    /// The conversations of every scope of the account, as the server has them now.
    public func load(directory: MailboxDirectory, account: String, session: any MailSession) async throws -> ConversationSet {
        var entries: [(tag: String, folders: [(FolderInfo, FolderEntry)])] = []
        var tokens: [String] = []
        var exact = true
        var interner = HeaderInterner()
        for scope in Self.scopes(directory) {
            var folders: [(FolderInfo, FolderEntry)] = []
            for folder in scope.folders {
                let entry = try await folderEntry(folder, account: account, session: session, interner: &interner)
                // Without CONDSTORE a flag change cannot be seen in STATUS: nothing is reused then.
                if let token = entry.token { tokens.append("\(folder.id)=\(token)") } else { exact = false }
                folders.append((folder, entry))
            }
            tokens.append("|\(scope.tag)|")
            entries.append((scope.tag, folders))
        }
        let token = tokens.joined(separator: ",")
        if exact, let set = memo.set(account: account, token: token) {
            ordering.metrics.increment(.conversationSetHits)
            return set
        }
        ordering.metrics.increment(.conversationSetBuilds)
        // Members are addressed by (folder, UID) slots until their conversations are made, so each
        // member's headers and metadata are copied once, into its conversation (at 100,000 messages
        // a full member list beside the conversations' own was a tenth of the build's peak memory).
        // Threads depend on headers only: reused while no folder gained or lost a message. Their
        // token is a SHA-256 of every scope's tag and members (folder ID, UIDVALIDITY, UIDs).
        var digest = SHA256()
        var scopes: [ScopeSlots] = []
        for scope in entries {
            digest.update(data: Array(scope.tag.utf8) + [0])
            var slots: [Slot] = []
            slots.reserveCapacity(scope.folders.reduce(0) { $0 + $1.1.headers.count })
            for (folderIndex, (folder, entry)) in scope.folders.enumerated() {
                let uids = entry.headers.keys.sorted()
                digest.update(data: Array(folder.id.utf8) + [0])
                withUnsafeBytes(of: entry.uidValidity.bigEndian) { digest.update(bufferPointer: $0) }
                withUnsafeBytes(of: UInt32(uids.count).bigEndian) { digest.update(bufferPointer: $0) }
                uids.withUnsafeBytes { digest.update(bufferPointer: $0) }
                for uid in uids { slots.append(Slot(folder: folderIndex, uid: uid)) }
            }
            scopes.append(ScopeSlots(tag: scope.tag, folders: scope.folders, slots: slots))
        }
        let headerToken = digest.finalize().map { String($0, radix: 16) }.joined(separator: ".")
        let threads: [[[Int]]]
        if let cached = memo.threads(account: account, token: headerToken) {
            threads = cached
        } else {
            threads = scopes.map { Self.thread($0.slots.map($0.headers)) }
            memo.store(account: account, token: headerToken, threads: threads)
        }
        var conversations: [Conversation] = []
        for (scopeIndex, scope) in scopes.enumerated() {
            for thread in threads[scopeIndex] {
                let threadMembers = thread.map { scope.member($0) }
                conversations.append(Conversation(id: Conversation.id(key: Self.rootKey(threadMembers[0]), scope: scope.tag), members: threadMembers))
            }
        }
        let set = ConversationSet(conversations: conversations)
        if exact { memo.store(account: account, token: token, set: set) }
        return set
    }

    /// A member before it is made: its folder (an index into its scope's folders) and UID.
    struct Slot {
        var folder: Int
        var uid: UInt32
    }

    /// One threading scope's folders and its members in threading order (folder, then UID).
    struct ScopeSlots {
        var tag: String
        var folders: [(FolderInfo, FolderEntry)]
        var slots: [Slot]

        /// (Every slot is made from a key of its folder's headers: the fallback is never used.)
        func headers(_ slot: Slot) -> ThreadHeaders { folders[slot.folder].1.headers[slot.uid] ?? .undescribed }

        func member(_ index: Int) -> ConversationMember {
            let slot = slots[index]
            let (folder, entry) = folders[slot.folder]
            return ConversationMember(
                folderId: folder.id, role: folder.role, uidValidity: entry.uidValidity, uid: slot.uid, headers: headers(slot),
                meta: entry.meta[slot.uid])
        }
    }

    /// One folder's headers and metadata: from memory while its STATUS (UIDVALIDITY, UIDNEXT,
    /// MESSAGES, HIGHESTMODSEQ) is unchanged, else brought up to date from the server and the store.
    func folderEntry(
        _ folder: FolderInfo, account: String, session: any MailSession, interner: inout HeaderInterner
    ) async throws -> FolderEntry {
        let condStore = session.capabilities.contains(.condStore)
        var items: [StatusItem] = [.uidValidity, .uidNext, .messages]
        if condStore { items.append(.highestModSeq) }
        let status = try await session.status(folder.mailbox, items)
        var token: String?
        if condStore, let validity = status.uidValidity, let next = status.uidNext, let messages = status.messages,
            let modSeq = status.highestModSeq
        {
            token = "\(validity):\(next):\(messages):\(modSeq)"
        }
        if let token, let entry = memo.folder(account: account, folderId: folder.id), entry.token == token {
            ordering.metrics.increment(.conversationFolderHits)
            return entry
        }
        // The folder changed, so the account's set will be made again: what the memo held of both
        // goes first, not after the new copies are made beside them (at 60,000 messages in the
        // folder, the old headers, metadata and members were 50 MB of the rebuild's peak).
        memo.forget(account: account, folderId: folder.id)
        var (validity, headers) = try await syncHeaders(folder: folder, account: account, session: session, status: status)
        interner.intern(&headers)
        let meta = try await ordering.syncMetadata(folder: folder, account: account, session: session)
        let entry = FolderEntry(token: token, uidValidity: validity, headers: headers, meta: meta)
        if token != nil { memo.store(account: account, folderId: folder.id, entry: entry) }
        return entry
    }

    /// One copy of each distinct Message ID, and of each distinct sort key (base subject, From and
    /// To address), for the headers read in one ``load``: a reply names its thread's IDs again in
    /// References and repeats its subject, senders write again, and each was decoded as a value
    /// of its own (at 100,000 messages, a sixth of the index's memory was such ID copies).
    struct HeaderInterner {
        private var strings: Set<String> = []
        private var keys: Set<[UInt8]> = []

        /// Rewrites `headers` in place. Walked by index value, not by `headers.indices`: that view
        /// holds a reference to the storage, so the first write copied the whole dictionary (at
        /// 60,000 messages, 26 MB beside the original, the largest item of the build's peak).
        mutating func intern(_ headers: inout [UInt32: ThreadHeaders]) {
            var index = headers.startIndex
            while index != headers.endIndex {
                if let id = headers.values[index].messageID { headers.values[index].messageID = strings.insert(id).memberAfterInsert }
                for position in headers.values[index].references.indices {
                    headers.values[index].references[position] = strings.insert(headers.values[index].references[position]).memberAfterInsert
                }
                intern(&headers.values[index].keys.subject)
                intern(&headers.values[index].keys.from)
                intern(&headers.values[index].keys.to)
                headers.formIndex(after: &index)
            }
        }

        private mutating func intern(_ key: inout [UInt8]) {
            if !key.isEmpty { key = keys.insert(key).memberAfterInsert }
        }
    }

    /// What the index holds of one folder, and the STATUS it was read at (nil: not comparable).
    struct FolderEntry: Sendable {
        var token: String?
        var uidValidity: UInt32
        var headers: [UInt32: ThreadHeaders]
        var meta: [UInt32: MessageMeta]
    }

    /// The folders threaded together: the main scope (tag ""), then Trash's and Junk's subtrees,
    /// each tagged with its top folder's ID.
    static func scopes(_ directory: MailboxDirectory) -> [(tag: String, folders: [FolderInfo])] {
        let tops = directory.folders.filter { $0.role == .trash || $0.role == .junk }
        func top(of folder: FolderInfo) -> FolderInfo? {
            tops.first { top in
                folder.id == top.id || (top.delimiter.map { folder.mailbox.name.hasPrefix(top.mailbox.name + String($0)) } ?? false)
            }
        }
        var main: [FolderInfo] = []
        var separate: [String: [FolderInfo]] = [:]
        for folder in directory.folders where folder.selectable {
            if let top = top(of: folder) { separate[top.id, default: []].append(folder) } else { main.append(folder) }
        }
        return [("", main)] + tops.compactMap { top in separate[top.id].map { (top.id, $0) } }
    }

    /// The threads of `members` as lists of their indices, in thread order; members without a
    /// Message ID are threads of their own.
    static func thread(_ members: [ThreadHeaders]) -> [[Int]] {
        var inputs: [ReferencesThreading.Message] = []
        inputs.reserveCapacity(members.count)
        var alone: [[Int]] = []
        for (index, headers) in members.enumerated() {
            guard headers.messageID != nil else {
                alone.append([index])
                continue
            }
            inputs.append(
                ReferencesThreading.Message(
                    uid: UInt32(index), messageID: headers.messageID, references: headers.references, baseSubject: headers.baseSubject,
                    isReplyOrForward: headers.isReplyOrForward, sentDate: headers.keys.date, sequence: index))
        }
        // Deep threads flattened below this depth keep every member, in thread order.
        let threads = ReferencesThreading.thread(inputs, maxDepth: 64).map { $0.allNumbers.map(Int.init) }
        return threads.filter { !$0.isEmpty } + alone
    }

    /// What a conversation's ID is derived from (see the type's documentation).
    static func rootKey(_ root: ConversationMember) -> String {
        if let first = root.headers.references.first { return first }
        if let messageID = root.headers.messageID { return messageID }
        return "\u{1}mail:" + root.mailID
    }

    /// Brings a folder's header cache up to date; returns its UIDVALIDITY and headers by UID.
    func syncHeaders(
        folder: FolderInfo, account: String, session: any MailSession, status: MailboxStatus
    ) async throws -> (UInt32, [UInt32: ThreadHeaders]) {
        let previous = try await cache.threadHeaderSyncState(account: account, folderId: folder.id)
        guard let validity = status.uidValidity else { throw GatewayError.upstreamRefused("STATUS lacked UIDVALIDITY") }
        let reset = previous?.uidValidity != validity || previous?.version != ThreadHeaders.version
        let headers = reset ? [:] : try await cache.threadHeaders(account: account, folderId: folder.id)
        if !reset, let previous, previous.uidNext == status.uidNext, status.messages.map({ Int($0) == headers.count }) ?? false {
            return (validity, headers)
        }
        try await session.select(folder.mailbox)
        let synced = try await MailOrdering.syncOncePerMessage(
            session: session, uidNext: status.uidNext, validity: validity, version: ThreadHeaders.version, previous: previous,
            reset: reset, known: consume headers, items: ThreadHeaders.fetchItems, batch: fetchBatch, value: { ThreadHeaders($0) },
            // A message the server did not describe is still a member: a conversation of its own.
            placeholder: .undescribed,
            apply: { reset, removed, added, state in
                try await cache.applyThreadHeaderSync(
                    account: account, folderId: folder.id, reset: reset, removed: removed, added: added, state: state)
            })
        return (validity, synced)
    }

    /// What the index keeps in memory: per folder its headers and metadata, per account its last
    /// threads and conversation set, each with the state it belongs to. Bounded: at most
    /// ``Memo/maxAccounts`` accounts and ``Memo/maxMessages`` messages in all (the benchmark's
    /// RSS grew by about 125 MB for 100,000); the account used longest ago goes first, the one in
    /// use stays.
    final class Memo: Sendable {
        static let maxAccounts = 16
        static let maxMessages = 300_000

        private struct Account {
            var folders: [String: FolderEntry] = [:]
            var threads: (token: String, threads: [[[Int]]])?
            var set: (token: String, set: ConversationSet)?

            var messages: Int { folders.values.reduce(0) { $0 + $1.headers.count } }
        }

        private struct State {
            var accounts: [String: Account] = [:]
            var recent: [String] = []

            mutating func touch(_ account: String) {
                recent.removeAll { $0 == account }
                recent.append(account)
                while recent.count > 1,
                    recent.count > Memo.maxAccounts || accounts.values.reduce(0, { $0 + $1.messages }) > Memo.maxMessages
                {
                    accounts[recent.removeFirst()] = nil
                }
            }
        }

        private let state = Mutex(State())

        func folder(account: String, folderId: String) -> FolderEntry? {
            state.withLock { $0.accounts[account]?.folders[folderId] }
        }

        func store(account: String, folderId: String, entry: FolderEntry) {
            state.withLock {
                $0.accounts[account, default: Account()].folders[folderId] = entry
                $0.touch(account)
            }
        }

        /// Drops a folder's entry and the account's conversation set (not its threads, which
        /// are reused while the headers' digest is the same).
        func forget(account: String, folderId: String) {
            state.withLock {
                $0.accounts[account]?.folders[folderId] = nil
                $0.accounts[account]?.set = nil
            }
        }

        func threads(account: String, token: String) -> [[[Int]]]? {
            state.withLock { $0.accounts[account]?.threads.flatMap { $0.token == token ? $0.threads : nil } }
        }

        func store(account: String, token: String, threads: [[[Int]]]) {
            state.withLock {
                $0.accounts[account, default: Account()].threads = (token, threads)
                $0.touch(account)
            }
        }

        func set(account: String, token: String) -> ConversationSet? {
            state.withLock { $0.accounts[account]?.set.flatMap { $0.token == token ? $0.set : nil } }
        }

        func store(account: String, token: String, set: ConversationSet) {
            state.withLock {
                $0.accounts[account, default: Account()].set = (token, set)
                $0.touch(account)
            }
        }
    }
}

/// Every conversation of an account at one moment, with the folder listings computed from it
/// (kept with the set, which the index reuses while no folder changes).
public struct ConversationSet: Sendable {
    public let conversations: [Conversation]
    private let byId: [String: Int]
    private let listings = Listings()

    public init(conversations: [Conversation]) {
        self.conversations = conversations
        byId = Dictionary(conversations.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { a, _ in a })
    }

    public func conversation(id: String) -> Conversation? { byId[id].map { conversations[$0] } }

    /// The conversations with at least one member in the folder.
    public func conversations(inFolder folderId: String) -> [Conversation] {
        conversations.filter { $0.members.contains { $0.folderId == folderId } }
    }

    /// The folder's conversations in `order` (``Conversation/sorted(_:by:)``), computed once per set.
    public func sorted(inFolder folderId: String, by order: MailSortOrder) -> [Conversation] {
        let key = "\(folderId)|\(order.field.rawValue)|\(order.direction.rawValue)"
        if let positions = listings.positions(key) { return positions.map { conversations[$0] } }
        let inFolder = conversations.indices.filter { conversations[$0].members.contains { $0.folderId == folderId } }
        let positions = Conversation.sortedIndices(inFolder.map { conversations[$0] }, by: order).map { inFolder[$0] }
        listings.store(key, positions)
        return positions.map { conversations[$0] }
    }

    /// Listing orders by folder, field and direction: positions in `conversations`.
    final class Listings: Sendable {
        private let orders = Mutex<[String: [Int]]>([:])

        func positions(_ key: String) -> [Int]? { orders.withLock { $0[key] } }
        func store(_ key: String, _ positions: [Int]) { orders.withLock { $0[key] = positions } }
    }
}
