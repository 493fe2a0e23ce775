import Foundation
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// `integration/refusing-proxy.py` in front of the Dovecot test bed: through it, `IMAPConnection`
/// sees a server that truly lacks the refused capabilities (not merely hides them, as Dovecot's
/// `imap_capability` does), while everything else passes unchanged. Effects checked with doveadm or a
/// direct connection, never through the proxy.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct RefusingProxyTests {
    /// A proxy in front of Dovecot's own plain port (not the one of an `IMAP_TEST_REFUSE` run).
    private static func proxy(_ bed: TestBed, refusing: [String], forwardRefused: Bool = false) throws -> RefusingProxy {
        try RefusingProxy(targetPort: bed.dovecotPort, refusing: refusing, forwardRefused: forwardRefused)
    }

    /// A logged-in connection through `proxy`.
    private static func connect(
        _ bed: TestBed, through proxy: RefusingProxy, _ credentials: IMAPCredentials? = nil
    ) async throws -> IMAPConnection {
        var configuration = try bed.server()
        configuration.port = proxy.port
        let connection = try await IMAPConnection.connect(to: configuration, logger: TestBed.logger)
        try await connection.login(credentials ?? bed.alice)
        return connection
    }

    /// A mailbox with `count` small messages, made over a direct connection; returns its name and UIDs.
    private static func mailbox(_ bed: TestBed, _ prefix: String, count: Int) async throws -> (String, [UInt32]) {
        let direct = try await bed.connect()
        defer { direct.close() }
        let name = TestBed.uniqueMailbox(prefix)
        try await direct.create(MailboxName(name))
        var uids: [UInt32] = []
        for i in 0..<count {
            let appended = try await direct.append(
                TestBed.message(subject: "p\(i)", messageID: "<proxy-\(i)-\(UUID().uuidString)@example.com>"), to: MailboxName(name))
            uids.append(try #require(appended?.uid))
        }
        return (name, uids)
    }

    private static func isBad(_ error: any Error, _ command: String) -> Bool {
        guard case IMAPError.commandFailed(let name, .bad, _) = error else { return false }
        return name == command
    }

    /// The capability lists a client sees: none refused, in the greeting, after LOGIN and on
    /// CAPABILITY; `NAME=…` variants go with their name, and STARTTLS always goes.
    @Test(arguments: [
        ["MOVE"], ["SORT", "ESORT", "THREAD", "CONDSTORE", "QRESYNC"], ["UIDPLUS", "SPECIAL-USE", "LIST-STATUS", "LITERAL+"],
    ])
    func refusedCapabilitiesAreNotOffered(_ refused: [String]) async throws {
        let bed = try TestBed.require()
        let direct = try await bed.connect()
        defer { direct.close() }
        let offered = Set(direct.capabilities.flatMap { [$0.rawValue, String($0.rawValue.split(separator: "=")[0])] })
        #expect(offered.isSuperset(of: refused), "Dovecot offers them (THREAD as THREAD=…), so the proxy has something to take away")

        let proxy = try Self.proxy(bed, refusing: refused)
        defer { proxy.stop() }
        func assertNoneRefused(_ capabilities: Set<Capability>, _ moment: String) {
            #expect(!capabilities.isEmpty, "\(moment)")
            for capability in capabilities {
                let name = capability.rawValue.split(separator: "=").first.map(String.init) ?? capability.rawValue
                #expect(!refused.contains(capability.rawValue) && !refused.contains(name), "\(capability) offered \(moment)")
                #expect(capability != .startTLS, "STARTTLS offered \(moment)")
            }
        }
        var configuration = try bed.server()
        configuration.port = proxy.port
        let connection = try await IMAPConnection.connect(to: configuration, logger: TestBed.logger)
        defer { connection.close() }
        assertNoneRefused(connection.capabilities, "in the greeting")
        try await connection.login(bed.alice)
        assertNoneRefused(connection.capabilities, "after LOGIN")
        #expect(connection.capabilities.contains(.sort) == !refused.contains("SORT"), "what is not refused stays")
        assertNoneRefused(try await connection.refreshCapabilities(), "on CAPABILITY")
        if refused.contains("SORT") {
            #expect(!connection.capabilities.contains(.sortDisplay) && !connection.capabilities.contains(.threadReferences))
        }
    }

    /// Commands that need a refused capability are answered BAD and never reach Dovecot; the
    /// connection stays usable, and ENABLE of a refused capability enables nothing.
    @Test func refusedCommandsAreAnsweredBadAndChangeNothing() async throws {
        let bed = try TestBed.require()
        let (box, uids) = try await Self.mailbox(bed, "ProxyBad", count: 3)
        let dest = TestBed.uniqueMailbox("ProxyBadDest")
        let direct = try await bed.connect()
        defer { direct.close() }
        try await direct.create(MailboxName(dest))
        // \Deleted on one message: a refused UID EXPUNGE must not remove it.
        try await direct.select(MailboxName(box))
        try await direct.uidStore([uids[2]], .add, flags: [.deleted])

        let proxy = try Self.proxy(bed, refusing: ["SORT", "ESORT", "THREAD", "CONDSTORE", "QRESYNC", "MOVE", "UIDPLUS"])
        defer { proxy.stop() }
        let connection = try await Self.connect(bed, through: proxy)
        defer { connection.close() }
        #expect(try await connection.enable([.condStore, .qresync]) == [], "a server without them enables nothing")
        await #expect { try await connection.execute(.select(MailboxName(box), condStore: true)) } throws: { Self.isBad($0, "SELECT") }
        let selected = try await connection.select(MailboxName(box))
        #expect(selected.highestModSeq == nil)
        let refused: [(Command, String)] = [
            (.uidSort([SortKey(.date)], .all, returning: nil), "UID SORT"),
            (.uidSort([SortKey(.date)], .all, returning: [.count]), "UID SORT"),
            (.uidThread(algorithm: "REFERENCES", .all), "UID THREAD"),
            (.uidFetch(UIDSet(uids), [.uid, .flags, .modSeq], changedSince: nil), "UID FETCH"),
            (.uidFetch(UIDSet(uids), [.uid, .flags], changedSince: 1), "UID FETCH"),
            (.uidStore([uids[0]], .add, flags: [.flagged], silent: true, unchangedSince: 1_000_000), "UID STORE"),
            (.uidSearch(.modSeq(1), returning: nil), "UID SEARCH"),
            (.status(MailboxName(box), [.messages, .highestModSeq]), "STATUS"),
            (.uidMove([uids[0]], MailboxName(dest)), "UID MOVE"),
            (.uidExpunge([uids[2]]), "UID EXPUNGE"),
        ]
        for (command, name) in refused {
            await #expect("\(name) is refused") { try await connection.execute(command) } throws: { Self.isBad($0, name) }
            #expect(connection.isUsable)
        }
        // What is not refused still works on the same connection.
        #expect(try await connection.uidSearch(.all) == UIDSet(uids))
        let fetched = try await connection.uidFetch(UIDSet(uids), [.flags])
        #expect(fetched.count == 3 && fetched.allSatisfy { $0.modSeq == nil })
        // Nothing reached Dovecot: no move, no expunge, no \Flagged.
        let left = try await bed.look(box)
        #expect(Set(left.keys) == Set(uids))
        #expect(left[uids[0]]?.flags.contains("\\flagged") == false)
        #expect(try await bed.look(dest).isEmpty)
    }

    /// Behind a proxy refusing MOVE: the client sees no MOVE, `UID MOVE` sent anyway is BAD and moves
    /// nothing, and COPY (with its COPYUID, since UIDPLUS stays) works.
    @Test func uidMoveIsRefusedWhileCopyWorks() async throws {
        let bed = try TestBed.require()
        let (box, uids) = try await Self.mailbox(bed, "ProxyMove", count: 2)
        let dest = TestBed.uniqueMailbox("ProxyMoveDest")
        let proxy = try Self.proxy(bed, refusing: ["MOVE"])
        defer { proxy.stop() }
        let connection = try await Self.connect(bed, through: proxy)
        defer { connection.close() }
        #expect(!connection.capabilities.contains(.move))
        #expect(connection.capabilities.contains(.uidPlus))
        try await connection.create(MailboxName(dest))
        try await connection.select(MailboxName(box))
        await #expect(throws: IMAPError.unsupported("MOVE")) { try await connection.uidMove([uids[0]], to: MailboxName(dest)) }
        await #expect { try await connection.execute(.uidMove([uids[0]], MailboxName(dest))) } throws: { Self.isBad($0, "UID MOVE") }
        #expect(Set(try await bed.look(box).keys) == Set(uids), "nothing moved")
        #expect(try await bed.look(dest).isEmpty)

        let copied = try await connection.uidCopy(UIDSet(uids), to: MailboxName(dest))
        #expect(copied.copiedSourceUIDs == UIDSet(uids))
        let copies = try await bed.look(dest)
        #expect(Set(copies.keys) == Set(copied.newUIDs.values))
        #expect(Set(copies.values.map(\.messageID)) == Set(try await bed.look(box).values.map(\.messageID)))
    }

    /// An APPEND literal passes byte for byte — with LITERAL+ (`{n+}`) and without it (`{n}`, where the
    /// proxy grants the client's `+` and waits for Dovecot's) — including text that looks like IMAP
    /// responses, literal announcements and MODSEQ, 8-bit octets, and more than one read of the proxy.
    @Test(arguments: [false, true])
    func appendLiteralPassesIntact(refuseLiteralPlus: Bool) async throws {
        let bed = try TestBed.require()
        let box = TestBed.uniqueMailbox("ProxyAppend")
        let proxy = try Self.proxy(bed, refusing: refuseLiteralPlus ? ["LITERAL+", "CONDSTORE", "UIDPLUS"] : ["CONDSTORE"])
        defer { proxy.stop() }
        let connection = try await Self.connect(bed, through: proxy)
        defer { connection.close() }
        #expect(connection.capabilities.contains(.literalPlus) == !refuseLiteralPlus)
        try await connection.create(MailboxName(box))
        let tricky = [
            "* 1 FETCH (UID 1 MODSEQ (42) FLAGS (\\Seen))", "a1 OK [COPYUID 1 2:3 4:5] Copy completed",
            "* OK [HIGHESTMODSEQ 9] x", "* CAPABILITY IMAP4rev1 MOVE", "+ go ahead", "a line ending in a literal {12}",
            "non-sync {3+}", "Grüße, ça va? 日本語 \u{1F600}", String(repeating: "0123456789abcdef", count: 40_000),
        ].joined(separator: "\r\n")
        let message = TestBed.message(subject: "Tricky {5}", messageID: "<proxy-append-\(UUID().uuidString)@example.com>", body: tricky + "\r\n")
        #expect(message.count > 600_000)
        let appended = try await connection.append(message, to: MailboxName(box), flags: [.flagged])
        #expect((appended == nil) == refuseLiteralPlus, "APPENDUID only when UIDPLUS is offered")

        let direct = try await bed.connect()
        defer { direct.close() }
        try await direct.select(MailboxName(box))
        let stored = try #require(try await direct.uidFetch([1], [.flags, .bodyPeek(section: "")]).first)
        #expect(stored.sections[""] == message, "Dovecot stored exactly the client's octets")
        #expect(stored.flags?.contains(.flagged) == true)
        try await connection.select(MailboxName(box))
        let through = try #require(try await connection.uidFetch([1], [.bodyPeek(section: "")]).first)
        #expect(through.sections[""] == message, "and a FETCH literal comes back through the proxy unchanged")
    }

    /// What a refused capability would add to responses is stripped: APPENDUID and COPYUID without
    /// UIDPLUS; MODSEQ in FETCH and HIGHESTMODSEQ on SELECT without CONDSTORE (made to appear here by
    /// letting the refused FETCH MODSEQ through, which turns CONDSTORE on in Dovecot's session).
    @Test func modSeqAndCopyUIDAreStrippedWhenRefused() async throws {
        let bed = try TestBed.require()
        let (box, uids) = try await Self.mailbox(bed, "ProxyStrip", count: 2)
        let dest = TestBed.uniqueMailbox("ProxyStripDest")
        let direct = try await bed.connect()
        defer { direct.close() }
        try await direct.create(MailboxName(dest))
        try await direct.select(MailboxName(box))
        // Control: Dovecot itself reports all of these.
        #expect(try await direct.uidCopy([uids[0]], to: MailboxName(dest)).newUIDs.count == 1)
        #expect(try await direct.uidFetch(UIDSet(uids), [.flags, .modSeq]).allSatisfy { $0.modSeq != nil })
        #expect(try await direct.select(MailboxName(box), force: true).highestModSeq != nil)

        let withoutUIDPlus = try Self.proxy(bed, refusing: ["UIDPLUS"])
        defer { withoutUIDPlus.stop() }
        let connection = try await Self.connect(bed, through: withoutUIDPlus)
        defer { connection.close() }
        #expect(!connection.capabilities.contains(.uidPlus))
        #expect(try await connection.append(TestBed.message(subject: "a", messageID: "<strip-a-\(UUID())@x>"), to: MailboxName(box)) == nil)
        try await connection.select(MailboxName(box))
        let copied = try await connection.uidCopy(UIDSet(uids), to: MailboxName(dest))
        #expect(copied.newUIDs.isEmpty && copied.uidValidity == nil, "no COPYUID")
        #expect(try await bed.look(dest).count == 3, "yet the copy was made")

        let withoutCondStore = try Self.proxy(bed, refusing: ["CONDSTORE"], forwardRefused: true)
        defer { withoutCondStore.stop() }
        let filtered = try await Self.connect(bed, through: withoutCondStore)
        defer { filtered.close() }
        #expect(!filtered.capabilities.contains(.condStore) && !filtered.capabilities.contains(.qresync))
        try await filtered.select(MailboxName(box))
        let fetched = try await filtered.uidFetch(UIDSet(uids), [.flags, .modSeq])
        #expect(fetched.count == 2)
        #expect(fetched.allSatisfy { $0.modSeq == nil && $0.flags != nil }, "MODSEQ (n) removed, the rest of the FETCH kept")
        let reselected = try await filtered.select(MailboxName(box), force: true)
        #expect(reselected.highestModSeq == nil, "[HIGHESTMODSEQ n] dropped")
        #expect(reselected.uidValidity > 0 && reselected.exists == 3)
    }
}
