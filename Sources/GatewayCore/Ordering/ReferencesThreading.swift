import IMAPCore

/// RFC 5256 §3 `THREAD REFERENCES`, computed by the gateway: for servers without THREAD, and for
/// conversations, which thread messages of several folders together (THREAD is per mailbox on
/// every server).
///
/// ``thread(_:limits:maxDepth:)`` is a pure function of the messages it is given. It follows the
/// RFC's six steps, and where the RFC leaves room it decides as Dovecot 2.3 does
/// (`index-thread-links.c`, `index-thread-finish.c`, `message-id.c`), so that on one folder it
/// answers exactly what Dovecot's `UID THREAD REFERENCES UTF-8 ALL` answers:
///
/// - Message IDs are read as Dovecot's `message_id_get_next` reads them (``messageIDs(in:)``),
///   and compared byte for byte (RFC: "Message ID comparisons are case-sensitive").
/// - Siblings, and the threads themselves, are ordered by sent date, then by sequence position
///   (Dovecot breaks the tie by UID, the same order within one folder).
/// - The thread subject of a dummy root is its oldest child's; thread subjects are found once,
///   in step (5)(B), and not again in (5)(C).
///
/// Two bounds depart from the RFC, as the test bed's Dovecot does (``Limits/dovecot``): only the
/// first 1,001 references of a message count, and a link whose parent already has more than 1,000
/// ancestors is refused as if it closed a loop. They bound step 1, whose loop check (RFC: "make
/// sure that A is not a descendent of B") otherwise climbs the whole depth of a thread for every
/// reference, quadratic in a crafted mailbox.
///
/// Work is O(n log n) plus at most `limits.ancestors` steps per link, with no recursion: a
/// thread of any depth costs no stack, and the answer nests at most `maxDepth + 1` deep.
public enum ReferencesThreading {
    /// What threading needs of one message.
    public struct Message: Hashable, Sendable {
        /// The number the answer shows for this message: its UID in a single folder, or any number
        /// the caller maps back (for example an index into its own list) across folders.
        public var uid: UInt32
        /// The message's own Message ID, normalized (without `<>`), or nil when the header is
        /// missing or holds no valid msg-id: the message then gets an ID of its own (step 1.A).
        public var messageID: String?
        /// The references of step 1, oldest first: the valid Message IDs of the References header,
        /// or, when it has none, the first valid one of In-Reply-To (RFC 5256 §3, REFERENCES).
        public var references: [String]
        /// The base subject (RFC 5256 §2.1) as `BaseSubject.extract` gives it; compared byte for
        /// byte, so it must already be case-mapped. Empty when the message has no subject.
        public var baseSubject: String
        /// Whether extracting the base subject removed a `Re:`/`Fwd:` leader, a `(fwd)` trailer or
        /// a `[fwd: …]` wrapper (RFC 5256 §3: "a reply or forward").
        public var isReplyOrForward: Bool
        /// The sent date (RFC 5256 §2.2) in seconds since 1970, UTC: the Date header, or the internal
        /// date when it is missing or unreadable, as `SortKeys.date` has it.
        public var sentDate: Int64
        /// The message's position in the mailbox (its sequence number in a single folder): the
        /// order of step 1 (a duplicated Message ID belongs to the first message) and the tie-break
        /// between equal sent dates (RFC 5256 §2.2).
        public var sequence: Int

        /// A message whose Message IDs are already parsed (``messageIDs(in:)``).
        public init(
            uid: UInt32, messageID: String?, references: [String], baseSubject: String, isReplyOrForward: Bool,
            sentDate: Int64, sequence: Int
        ) {
            self.uid = uid
            self.messageID = messageID
            self.references = references
            self.baseSubject = baseSubject
            self.isReplyOrForward = isReplyOrForward
            self.sentDate = sentDate
            self.sequence = sequence
        }

        /// A message from the raw values of its first Message-ID, References and In-Reply-To
        /// headers (nil for a missing header): the first valid msg-id of Message-ID is its ID; the
        /// valid msg-ids of References are its references, or, when there are none, the first
        /// valid msg-id of In-Reply-To.
        public init(
            uid: UInt32, messageIDHeader: String?, referencesHeader: String?, inReplyToHeader: String?,
            baseSubject: String, isReplyOrForward: Bool, sentDate: Int64, sequence: Int
        ) {
            var references = referencesHeader.map { ReferencesThreading.messageIDs(in: $0) } ?? []
            if references.isEmpty, let first = inReplyToHeader.flatMap({ ReferencesThreading.firstMessageID(in: $0) }) {
                references = [first]
            }
            self.init(
                uid: uid, messageID: messageIDHeader.flatMap { ReferencesThreading.firstMessageID(in: $0) },
                references: references, baseSubject: baseSubject, isReplyOrForward: isReplyOrForward,
                sentDate: sentDate, sequence: sequence)
        }

        /// A message from the text of `BODY[HEADER.FIELDS (MESSAGE-ID REFERENCES IN-REPLY-TO)]`
        /// (``headerFields``); the first header of each name counts, as in Dovecot.
        public init(
            uid: UInt32, headers: String, baseSubject: String, isReplyOrForward: Bool, sentDate: Int64, sequence: Int
        ) {
            let fields = ReferencesThreading.firstFields(in: headers)
            self.init(
                uid: uid, messageIDHeader: fields["message-id"], referencesHeader: fields["references"],
                inReplyToHeader: fields["in-reply-to"], baseSubject: baseSubject, isReplyOrForward: isReplyOrForward,
                sentDate: sentDate, sequence: sequence)
        }
    }

    /// The header fields ``Message/init(uid:headers:baseSubject:isReplyOrForward:sentDate:sequence:)``
    /// reads, as a fetch names them.
    public static let headerFields = ["Message-ID", "References", "In-Reply-To"]

    // MARK: Threading

    /// Bounds on step 1 beyond RFC 5256, for work linear in the size of the mailbox.
    public struct Limits: Hashable, Sendable {
        /// How many references of a message step 1 uses: the first ones, as given.
        public var references: Int
        /// A parent/child link is refused, as if it closed a loop, when the parent has more
        /// ancestors than this: each link climbs at most this far to look for a loop.
        public var ancestors: Int

        public init(references: Int, ancestors: Int) {
            self.references = references
            self.ancestors = ancestors
        }

        /// The bounds of the test bed's Dovecot (Debian's 2.3.19.1+deb12u7), found by experiment:
        /// the first 1,001 valid msg-ids of References count, and a reply chain delivered oldest
        /// first breaks below its 1,002nd message. Its changelog backports 2.4.5's fix of
        /// CVE-2026-40014 ("THREAD REFERENCES O(N²) CPU DoS via crafted references header");
        /// Dovecot's sources up to 2.4.4 have neither bound.
        public static let dovecot = Limits(references: 1_001, ancestors: 1_000)
    }

    /// The REFERENCES threads of `messages` (RFC 5256 §3), in THREAD's own shape: the threads
    /// ordered by sent date, each a tree whose siblings are ordered by sent date, with a nil
    /// number for a dummy root (a missing parent of several messages, or the parent made to
    /// join threads of the same subject).
    ///
    /// A thread deeper than `maxDepth` (a root is depth 1) keeps its node at that depth with all
    /// of that node's descendants hanging under it as leaves, in thread order (depth first,
    /// siblings by date), so that no answer nests deeper than `maxDepth + 1`: a `ThreadNode`'s
    /// comparison and deallocation recurse once per level. For a reply chain this is how
    /// `ResponseParser` keeps a server's THREAD answer at its default `maxDepth`;
    /// ``capped(_:maxDepth:)`` brings any parsed answer to this same shape.
    public static func thread(
        _ messages: [Message], limits: Limits = .dovecot, maxDepth: Int = ResponseParser.defaultMaxThreadDepth
    ) -> [ThreadNode] {
        var forest = Forest(messages, limits: limits)
        forest.link()
        forest.gatherRoots()
        forest.sortRoots()
        forest.mergeSubjects()
        forest.sortRoots()
        return forest.threadNodes(maxDepth: maxDepth)
    }

    /// `threads` reshaped as ``thread(_:limits:maxDepth:)`` shapes its answer: every node at depth
    /// `maxDepth` gets all of its descendants as leaves, in the order a depth-first walk meets
    /// them. Applied to a server's THREAD answer, it makes it comparable with ours however the
    /// parser kept a deep chain. Iterative: the depth of `threads` costs no stack.
    public static func capped(
        _ threads: [ThreadNode], maxDepth: Int = ResponseParser.defaultMaxThreadDepth
    ) -> [ThreadNode] {
        var flat = FlatTree()
        var pending: [(node: ThreadNode, parent: Int)] = threads.reversed().map { ($0, -1) }
        while let (node, parent) = pending.popLast() {
            let index = flat.add(node.number, parent: parent)
            pending.append(contentsOf: node.children.reversed().map { ($0, index) })
        }
        return flat.build(maxDepth: maxDepth)
    }

    // MARK: Message IDs

    /// The valid msg-ids of a header value, in order, normalized as Dovecot's
    /// `message_id_get_next` normalizes them (RFC 5256 §3: quoting must not make two IDs differ).
    ///
    /// From each `<`: when a `>` comes before any `"` or `(`, the text between is the ID, with
    /// spaces, tabs, CR and LF removed, provided it holds an `@` (else it is skipped). Otherwise
    /// the text is read as RFC 5322 `id-left "@" id-right ">"`, with `id-left` a quoted string
    /// (unquoted) or a dot-atom and `id-right` a dot-atom, folding whitespace and comments allowed
    /// around the parts; when that fails, the search for the next `<` resumes just after this one.
    /// A NUL ends the value, as it ends Dovecot's C string. Linear in the length of `header`
    /// except for quoted or commented IDs that fail, each of which costs one more look ahead.
    public static func messageIDs(in header: String) -> [String] {
        var scanner = MessageIDScanner(Array(header.utf8))
        var ids: [String] = []
        while let id = scanner.next() { ids.append(id) }
        return ids
    }

    /// The first valid msg-id of a header value (see ``messageIDs(in:)``).
    public static func firstMessageID(in header: String) -> String? {
        var scanner = MessageIDScanner(Array(header.utf8))
        return scanner.next()
    }

    /// The first value of each header field in a header block (`Name: value` lines ending in LF
    /// or CRLF), by lower-cased name; a folded value keeps its line breaks (as LF), as Dovecot's
    /// raw header values do.
    public static func firstFields(in headers: String) -> [String: String] {
        var fields: [String: String] = [:]
        var current: String?
        var value: [UInt8] = []
        func finish() {
            if let name = current, fields[name] == nil { fields[name] = String(decoding: value, as: UTF8.self) }
            current = nil
        }
        for rawLine in Array(headers.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            if let first = line.first, first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") {
                if current != nil {
                    value.append(UInt8(ascii: "\n"))
                    value.append(contentsOf: line)
                }
                continue
            }
            finish()
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            var name = line[..<colon]
            while let last = name.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
                name = name.dropLast()
            }
            current = String(decoding: name, as: UTF8.self).lowercased()
            value = Array(line[(colon + 1)...])
        }
        finish()
        return fields
    }
}

// MARK: - The forest

/// Nodes of step 1 (messages and dummies) linked by parent, then the thread structure of steps
/// 2–6 as child lists. All node references are indexes into the arrays; -1 is "none".
private struct Forest {
    /// A node's sort key (RFC 5256 §2.2): sent date, then sequence position.
    struct Key: Comparable {
        var date: Int64
        var sequence: Int
        var order: Int

        static func < (a: Key, b: Key) -> Bool {
            if a.date != b.date { return a.date < b.date }
            if a.sequence != b.sequence { return a.sequence < b.sequence }
            return a.order < b.order
        }
    }

    /// A child of the root (steps 2–6).
    struct Root {
        var node: Int
        var isDummy: Bool
        var key: Key
        var subject: Int = -1
        var isReplyOrForward = false
        var removed = false
    }

    let messages: [ReferencesThreading.Message]
    let limits: ReferencesThreading.Limits
    /// Message index per node, -1 for a dummy.
    var message: [Int] = []
    /// Step 1's parent per node.
    var parent: [Int] = []
    /// Children per node from step 2 on, as singly linked lists.
    var firstChild: [Int] = []
    var nextSibling: [Int] = []
    var roots: [Root] = []
    /// Messages in the order of step 1 (sequence, then given order).
    let order: [Int]
    /// Sort key per message.
    let keys: [Key]

    init(_ messages: [ReferencesThreading.Message], limits: ReferencesThreading.Limits) {
        self.messages = messages
        self.limits = limits
        order = messages.indices.sorted { a, b in
            messages[a].sequence != messages[b].sequence ? messages[a].sequence < messages[b].sequence : a < b
        }
        var rank = [Int](repeating: 0, count: messages.count)
        for (position, index) in order.enumerated() { rank[index] = position }
        keys = messages.indices.map {
            Key(date: messages[$0].sentDate, sequence: messages[$0].sequence, order: rank[$0])
        }
        message.reserveCapacity(messages.count * 2)
        parent.reserveCapacity(messages.count * 2)
    }

    mutating func newNode(message index: Int) -> Int {
        message.append(index)
        parent.append(-1)
        return message.count - 1
    }

    /// Step 1: a node per Message ID (the first message with an ID owns it; a later duplicate, or
    /// a message without a valid ID, gets a node of its own), dummies for IDs only referenced,
    /// and parent links from the references.
    mutating func link() {
        var byID: [ByteKey: Int] = [:]
        // Room for every message's ID and a quarter more for IDs only referenced (missing roots):
        // twice the messages, as before, was a 12 MB table for 100,000 messages.
        byID.reserveCapacity(messages.count + messages.count / 4)
        func node(for id: String) -> Int {
            let key = ByteKey(id)
            if let existing = byID[key] { return existing }
            let created = newNode(message: -1)
            byID[key] = created
            return created
        }
        for index in order {
            let m = messages[index]
            var own: Int
            if let id = m.messageID {
                own = node(for: id)
                if message[own] == -1 {
                    message[own] = index
                } else {
                    own = newNode(message: index)
                }
            } else {
                own = newNode(message: index)
            }
            // (A) Each reference is the parent of the next, unless the child has a parent already or
            // the link would close a loop.
            var last = -1
            for id in m.references.prefix(max(0, limits.references)) {
                let current = node(for: id)
                if last != -1 { attach(current, to: last) }
                last = current
            }
            // (B) The last reference is the parent of the message: a different parent from an
            // earlier (truncated) References header is broken first; no references, no parent.
            if parent[own] != last { parent[own] = -1 }
            if last != -1 { attach(own, to: last) }
        }
    }

    /// Makes `child` a child of `newParent` unless it has a parent already, or `child` is
    /// `newParent` or one of its ancestors (a loop), or `newParent` has more than
    /// `limits.ancestors` ancestors (Dovecot's bound: the climb stops there and counts as a loop).
    mutating func attach(_ child: Int, to newParent: Int) {
        guard child != newParent, parent[child] == -1 else { return }
        var ancestor = newParent
        var climbed = 0
        while parent[ancestor] != -1 {
            climbed += 1
            ancestor = parent[ancestor]
            if ancestor == child || climbed > limits.ancestors { return }
        }
        parent[child] = newParent
    }

    /// Steps 2 and 3: every parentless node is a child of the root; every message hangs under its
    /// nearest ancestor that is a message, or under its topmost ancestor when all are dummies.
    /// So dummies below the root vanish with their children promoted, and a dummy child of the
    /// root keeps its children unless it has only one, which takes its place (without children it
    /// is dropped).
    mutating func gatherRoots() {
        let count = message.count
        firstChild = [Int](repeating: -1, count: count)
        nextSibling = [Int](repeating: -1, count: count)
        var holder = [Int](repeating: -1, count: count)
        var path: [Int] = []
        for node in 0..<count where parent[node] != -1 && message[node] != -1 {
            var above = parent[node]
            while message[above] == -1 && parent[above] != -1 && holder[above] == -1 {
                path.append(above)
                above = parent[above]
            }
            let target = message[above] == -1 && parent[above] != -1 ? holder[above] : above
            for dummy in path { holder[dummy] = target }
            path.removeAll(keepingCapacity: true)
            addChild(node, to: target)
        }
        for node in 0..<count where parent[node] == -1 {
            if message[node] != -1 {
                roots.append(Root(node: node, isDummy: false, key: keys[message[node]]))
            } else if firstChild[node] != -1 {
                if nextSibling[firstChild[node]] == -1 {
                    let only = firstChild[node]
                    roots.append(Root(node: only, isDummy: false, key: keys[message[only]]))
                } else {
                    roots.append(Root(node: node, isDummy: true, key: keys[message[firstChild[node]]]))
                }
            }
        }
    }

    mutating func addChild(_ child: Int, to node: Int) {
        nextSibling[child] = firstChild[node]
        firstChild[node] = child
    }

    /// The oldest child of a node (by ``Key``), -1 for none.
    func oldestChild(of node: Int) -> Int {
        var best = -1
        var child = firstChild[node]
        while child != -1 {
            if best == -1 || keys[message[child]] < keys[message[best]] { best = child }
            child = nextSibling[child]
        }
        return best
    }

    /// Steps 4 and 6 for the root's children: by sent date, a dummy by its oldest child's.
    mutating func sortRoots() {
        roots.removeAll { $0.removed }
        for i in roots.indices where roots[i].isDummy {
            roots[i].key = keys[message[oldestChild(of: roots[i].node)]]
        }
        roots.sort { $0.key < $1.key }
    }

    /// Step 5: threads whose thread subjects (a message's base subject, a dummy's oldest child's)
    /// are equal are gathered under one parent.
    mutating func mergeSubjects() {
        var subjectOf: [ByteKey: Int] = [:]
        // (B) One thread per subject in the table: a dummy wins over a message, a message that
        // is no reply or forward wins over one that is. Once a subject has a dummy it keeps one.
        var table: [Int] = []
        for i in roots.indices {
            let representative = roots[i].isDummy ? oldestChild(of: roots[i].node) : roots[i].node
            let m = messages[message[representative]]
            roots[i].isReplyOrForward = m.isReplyOrForward
            guard !m.baseSubject.isEmpty else { continue }
            let key = ByteKey(m.baseSubject)
            let subject: Int
            if let known = subjectOf[key] {
                subject = known
            } else {
                subject = table.count
                subjectOf[key] = subject
                table.append(i)
            }
            roots[i].subject = subject
            let holder = roots[table[subject]]
            if table[subject] != i && !holder.isDummy
                && (roots[i].isDummy || (holder.isReplyOrForward && !roots[i].isReplyOrForward))
            {
                table[subject] = i
            }
        }
        // (C) Every other thread of a subject joins the table's. A dummy here always meets a dummy
        // (see (B)), so the children of any node are messages.
        for i in roots.indices where roots[i].subject != -1 && !roots[i].removed {
            let subject = roots[i].subject
            let t = table[subject]
            guard t != i else { continue }
            if roots[i].isDummy && roots[t].isDummy {
                var child = firstChild[roots[i].node]
                while child != -1 {
                    let next = nextSibling[child]
                    addChild(child, to: roots[t].node)
                    child = next
                }
                firstChild[roots[i].node] = -1
                roots[i].removed = true
            } else if roots[t].isDummy || (roots[i].isReplyOrForward && !roots[t].isReplyOrForward) {
                addChild(roots[i].node, to: roots[t].node)
                roots[i].removed = true
            } else {
                let dummy = newNode(message: -1)
                firstChild.append(-1)
                nextSibling.append(-1)
                addChild(roots[t].node, to: dummy)
                addChild(roots[i].node, to: dummy)
                roots[t].removed = true
                roots[i].removed = true
                roots.append(Root(node: dummy, isDummy: true, key: roots[t].key, subject: subject))
                table[subject] = roots.count - 1
            }
        }
    }

    /// The threads as `ThreadNode`s, children ordered by date (step 6), capped at `maxDepth`.
    func threadNodes(maxDepth: Int) -> [ThreadNode] {
        var flat = FlatTree()
        var pending: [(node: Int, parent: Int)] = []
        for root in roots.reversed() {
            pending.append((root.node, -1))
        }
        while let (node, parentIndex) = pending.popLast() {
            let index = flat.add(message[node] == -1 ? nil : messages[message[node]].uid, parent: parentIndex)
            var children: [Int] = []
            var child = firstChild[node]
            while child != -1 {
                children.append(child)
                child = nextSibling[child]
            }
            children.sort { keys[message[$0]] < keys[message[$1]] }
            for child in children.reversed() { pending.append((child, index)) }
        }
        return flat.build(maxDepth: maxDepth)
    }
}

// MARK: - Support

/// Threads as flat arrays, filled in depth-first order, turned into `ThreadNode`s without recursion.
private struct FlatTree {
    var numbers: [UInt32?] = []
    var children: [[Int]] = []
    var roots: [Int] = []

    /// Adds a node as the last child of `parent` (-1: a root); returns its index.
    mutating func add(_ number: UInt32?, parent: Int) -> Int {
        numbers.append(number)
        children.append([])
        let index = numbers.count - 1
        if parent == -1 { roots.append(index) } else { children[parent].append(index) }
        return index
    }

    /// The `ThreadNode`s, a node at depth `maxDepth` holding all its descendants as leaves in
    /// depth-first order. A dummy root with a single child is that child (THREAD writes it so).
    func build(maxDepth: Int) -> [ThreadNode] {
        let cap = max(1, maxDepth)
        struct Frame {
            var index: Int
            var depth: Int
            var next = 0
            var built: [ThreadNode] = []
        }
        var out: [ThreadNode] = []
        for root in roots {
            var top = root
            while numbers[top] == nil && children[top].count == 1 { top = children[top][0] }
            if numbers[top] == nil && children[top].isEmpty { continue }
            var stack = [Frame(index: top, depth: 1)]
            while !stack.isEmpty {
                let frame = stack[stack.count - 1]
                if frame.depth >= cap {
                    stack.removeLast()
                    let node = ThreadNode(numbers[frame.index], children: leaves(below: frame.index))
                    finish(node, into: &stack, or: &out)
                } else if frame.next < children[frame.index].count {
                    stack[stack.count - 1].next += 1
                    stack.append(Frame(index: children[frame.index][frame.next], depth: frame.depth + 1))
                } else {
                    let done = stack.removeLast()
                    finish(ThreadNode(numbers[done.index], children: done.built), into: &stack, or: &out)
                }
            }
        }
        return out

        func finish(_ node: ThreadNode, into stack: inout [Frame], or out: inout [ThreadNode]) {
            if stack.isEmpty { out.append(node) } else { stack[stack.count - 1].built.append(node) }
        }
    }

    /// Every descendant of `index` as a leaf, depth first, dummies left out.
    func leaves(below index: Int) -> [ThreadNode] {
        var out: [ThreadNode] = []
        var pending = Array(children[index].reversed())
        while let next = pending.popLast() {
            if let number = numbers[next] { out.append(ThreadNode(number)) }
            pending.append(contentsOf: children[next].reversed())
        }
        return out
    }
}

/// A string as a dictionary key compared by its UTF-8 bytes: RFC 5256 compares Message IDs
/// case-sensitively, and Dovecot compares them (and base subjects) with `strcmp`, where Swift's
/// `String ==` would also equate canonically equivalent spellings.
private struct ByteKey: Hashable {
    let text: String

    init(_ text: String) {
        var text = text
        text.makeContiguousUTF8()
        self.text = text
    }

    static func == (a: ByteKey, b: ByteKey) -> Bool {
        var x = a.text
        var y = b.text
        return x.withUTF8 { p in y.withUTF8 { q in p.elementsEqual(q) } }
    }

    func hash(into hasher: inout Hasher) {
        var x = text
        x.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }
}

/// Dovecot's `message_id_get_next` over UTF-8 bytes (see ``ReferencesThreading/messageIDs(in:)``),
/// with its look-aheads remembered so that a crafted header costs linear time (Dovecot's own loop
/// can rescan the rest of the header from every `<`): the quick look's stop, a quoted string that
/// never ends, and where every comment ends.
private struct MessageIDScanner {
    let bytes: [UInt8]
    var position = 0
    /// The last quick look: from where, where it stopped (a `>`, `"`, `(` or the end), and the last
    /// `@` before that stop. A look from inside that range stops at the same place.
    private var quick = (from: Int.max, stop: -1, lastAt: -1)
    /// A quoted string opened here ran to the end; so does every one opened after it (a `"` inside
    /// it was escaped there, and from its next byte both readings agree).
    private var openQuote = Int.max
    /// Per byte index `i`, the first index `j > i` where the count of unescaped `(` minus `)` before
    /// `j` falls below that before `i`, or -1: a comment opened at `i - 1` ends at `j`. Built when
    /// the value has a `(`; whether a byte is escaped in a comment does not depend on where the
    /// comment began (a backslash run never spans its `(`).
    private var commentEnds: [Int] = []

    init(_ bytes: [UInt8]) {
        // A NUL ends the value, as it ends a C string.
        self.bytes = Array(bytes.prefix { $0 != 0 })
        if self.bytes.contains(Self.open) { commentEnds = Self.commentEnds(self.bytes) }
    }

    private static let lt = UInt8(ascii: "<")
    private static let gt = UInt8(ascii: ">")
    private static let at = UInt8(ascii: "@")
    private static let quote = UInt8(ascii: "\"")
    private static let open = UInt8(ascii: "(")
    private static let close = UInt8(ascii: ")")
    private static let dot = UInt8(ascii: ".")
    private static let backslash = UInt8(ascii: "\\")
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")

    mutating func next() -> String? {
        while true {
            guard let lt = bytes[position...].firstIndex(of: Self.lt) else {
                position = bytes.count
                return nil
            }
            let start = lt + 1
            // The quick look: bytes from "A" up (letters, brackets, 8-bit) never stop it.
            if start < quick.from || start > quick.stop {
                var p = start
                var lastAt = -1
                while p < bytes.count {
                    let c = bytes[p]
                    if c < UInt8(ascii: "A") {
                        if c == Self.at { lastAt = p }
                        if c == Self.gt || c == Self.quote || c == Self.open { break }
                    }
                    p += 1
                }
                quick = (start, p, lastAt)
            }
            let p = quick.stop
            guard p < bytes.count else {
                position = bytes.count
                return nil
            }
            if bytes[p] == Self.gt {
                position = p + 1
                if quick.lastAt >= start {
                    let id = bytes[start..<p].filter { !Self.isSpace($0) }
                    return String(decoding: id, as: UTF8.self)
                }
                continue
            }
            if let (id, end) = untokenized(from: start) {
                position = end
                return id
            }
            position = start
        }
    }

    /// `[CFWS] (quoted-string / dot-atom) [CFWS] "@" [CFWS] dot-atom [CFWS] ">"` from `start`:
    /// the ID (quotes, whitespace and comments removed) and the index after `>`.
    private mutating func untokenized(from start: Int) -> (String, Int)? {
        var i = skipSpaceAndComments(from: start)
        var id: [UInt8] = []
        let left: Int?
        if i < bytes.count && bytes[i] == Self.quote {
            left = quotedString(from: i, into: &id)
        } else {
            left = dotAtom(from: i, into: &id)
        }
        guard let afterLeft = left, afterLeft < bytes.count, bytes[afterLeft] == Self.at else { return nil }
        id.append(Self.at)
        i = skipSpaceAndComments(from: afterLeft + 1)
        guard let afterRight = dotAtom(from: i, into: &id), afterRight < bytes.count, bytes[afterRight] == Self.gt
        else { return nil }
        return (String(decoding: id, as: UTF8.self), afterRight + 1)
    }

    static func isSpace(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == cr || c == lf
    }

    /// RFC 5322 atext, 8-bit bytes included (Dovecot's `rfc822_atext_chars`).
    static func isAtext(_ c: UInt8) -> Bool {
        if c >= 0x80 { return true }
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-/=?^_`{|}~".utf8.contains(c)
        }
    }

    /// ``commentEnds`` for `bytes`. In a comment a backslash takes the next byte literally, unless
    /// that byte is a CR or LF (Dovecot's `rfc822_skip_comment`).
    private static func commentEnds(_ bytes: [UInt8]) -> [Int] {
        var depth = [Int](repeating: 0, count: bytes.count + 1)
        var escaping = false
        for (x, c) in bytes.enumerated() {
            let escaped = escaping && c != cr && c != lf
            depth[x + 1] = depth[x] + (escaped ? 0 : c == open ? 1 : c == close ? -1 : 0)
            escaping = !escaped && c == backslash
        }
        var ends = [Int](repeating: -1, count: depth.count)
        var rising: [Int] = []
        for i in depth.indices.reversed() {
            while let top = rising.last, depth[top] >= depth[i] { rising.removeLast() }
            ends[i] = rising.last ?? -1
            rising.append(i)
        }
        return ends
    }

    /// Whitespace and (nested) comments from `start`; the index of the next other byte (the end
    /// when a comment is not closed).
    private func skipSpaceAndComments(from start: Int) -> Int {
        var i = start
        while i < bytes.count {
            if Self.isSpace(bytes[i]) {
                i += 1
            } else if bytes[i] == Self.open {
                let end = commentEnds[i + 1]
                if end == -1 { return bytes.count }
                i = end
            } else {
                return i
            }
        }
        return i
    }

    /// A dot-atom from `start` (whitespace and comments allowed around each dot, as RFC 822
    /// allowed), appended to `id`; the index of the next byte after trailing CFWS, or nil when
    /// there is no dot-atom or the value ends in it (Dovecot then finds no `@` or `>` either).
    private func dotAtom(from start: Int, into id: inout [UInt8]) -> Int? {
        var i = start
        guard i < bytes.count, Self.isAtext(bytes[i]) else { return nil }
        while true {
            let begin = i
            while i < bytes.count && Self.isAtext(bytes[i]) { i += 1 }
            guard i > begin else { return nil }
            id.append(contentsOf: bytes[begin..<i])
            i = skipSpaceAndComments(from: i)
            guard i < bytes.count else { return nil }
            guard bytes[i] == Self.dot else { return i }
            id.append(Self.dot)
            i = skipSpaceAndComments(from: i + 1)
            guard i < bytes.count else { return nil }
        }
    }

    /// A quoted string from `start` (at its `"`): its content, quoted pairs unescaped and line
    /// breaks removed, appended to `id`; the index after trailing CFWS, nil when unterminated.
    private mutating func quotedString(from start: Int, into id: inout [UInt8]) -> Int? {
        guard start < openQuote else { return nil }
        var i = start + 1
        // Where the current piece of text began in `id`: a CR is dropped before a LF only within it.
        var piece = id.count
        while i < bytes.count {
            let c = bytes[i]
            if c == Self.quote {
                return skipSpaceAndComments(from: i + 1)
            } else if c == Self.lf {
                if id.count > piece && id.last == Self.cr { id.removeLast() }
                piece = id.count
            } else if c == Self.backslash && i + 1 < bytes.count && bytes[i + 1] != Self.cr && bytes[i + 1] != Self.lf {
                i += 1
                piece = id.count
                id.append(bytes[i])
            } else {
                id.append(c)
            }
            i += 1
        }
        openQuote = start
        return nil
    }
}
