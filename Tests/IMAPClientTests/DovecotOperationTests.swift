import Foundation
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// SORT, THREAD, FETCH, STORE, COPY, MOVE and UID EXPUNGE against the real Dovecot test bed,
/// each checked with doveadm reading the mail store directly.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct DovecotOperationTests {
    /// Creates a fresh mailbox holding `messages`, selected; returns the connection, name and UIDs in order.
    private func mailbox(
        _ prefix: String, _ messages: [[UInt8]], bed: TestBed, flags: [[Flag]] = []
    ) async throws -> (IMAPConnection, String, [UInt32]) {
        let connection = try await bed.connect()
        let name = TestBed.uniqueMailbox(prefix)
        try await connection.create(MailboxName(name))
        var uids: [UInt32] = []
        for (i, message) in messages.enumerated() {
            let appended = try await connection.append(message, to: MailboxName(name), flags: i < flags.count ? flags[i] : [])
            uids.append(try #require(appended?.uid))
        }
        try await connection.select(MailboxName(name))
        return (connection, name, uids)
    }

    private func ids(_ prefix: String, _ count: Int) -> [String] {
        let run = UUID().uuidString.prefix(8)
        return (1...count).map { "<\(prefix)-\($0)-\(run)@example.com>" }
    }

    /// SPEC §7: with ties, REVERSE reverses the key only — ties stay in ascending order.
    @Test func sortByDateWithTiesAndReverse() async throws {
        let bed = try TestBed.require()
        let dates = [
            "Mon, 01 Jan 2024 10:00:00 +0000", "Mon, 01 Jan 2024 10:00:00 +0000",
            "Tue, 02 Jan 2024 10:00:00 +0000", "Tue, 02 Jan 2024 10:00:00 +0000",
            "Wed, 03 Jan 2024 10:00:00 +0000", "Wed, 03 Jan 2024 10:00:00 +0000",
        ]
        let messageIDs = ids("sort", 6)
        let messages = zip(dates, messageIDs).map { TestBed.message(subject: "s", messageID: $1, date: $0) }
        let (connection, _, uids) = try await mailbox("Sort", messages, bed: bed)
        defer { connection.close() }
        #expect(try await connection.uidSort([SortKey(.date)]) == uids)
        #expect(try await connection.uidSort([SortKey(.date, reverse: true)]) == [uids[4], uids[5], uids[2], uids[3], uids[0], uids[1]])
        let partial = try await connection.uidSortPartial([SortKey(.date, reverse: true)], positions: 2...4)
        #expect(partial.uids == [uids[5], uids[2], uids[3]])
        #expect(partial.total == 6)
    }

    @Test func sortBySubjectAndSize() async throws {
        let bed = try TestBed.require()
        let subjects = ["Re: banana", "apple", "Fwd: cherry", "[list] date"]
        let messageIDs = ids("subj", 4)
        let messages = zip(subjects, messageIDs).enumerated().map { i, pair in
            TestBed.message(subject: pair.0, messageID: pair.1, body: String(repeating: "x", count: (4 - i) * 100) + "\r\n")
        }
        let (connection, _, uids) = try await mailbox("SortSubject", messages, bed: bed)
        defer { connection.close() }
        // RFC 5256 §2.1 base subjects: "Re:", "Fwd:" and a leading "[blob]" go: banana, apple, cherry, date.
        #expect(try await connection.uidSort([SortKey(.subject)]) == [uids[1], uids[0], uids[2], uids[3]])
        #expect(try await connection.uidSort([SortKey(.size)]) == uids.reversed())
    }

    @Test func threadByReferences() async throws {
        let bed = try TestBed.require()
        let m = ids("thread", 4)
        let messages = [
            TestBed.message(subject: "plan", messageID: m[0], date: "Mon, 01 Jan 2024 10:00:00 +0000"),
            TestBed.message(subject: "other", messageID: m[1], date: "Mon, 01 Jan 2024 11:00:00 +0000"),
            TestBed.message(
                subject: "Re: plan", messageID: m[2], date: "Mon, 01 Jan 2024 12:00:00 +0000", inReplyTo: m[0], references: [m[0]]),
            TestBed.message(
                subject: "Re: plan", messageID: m[3], date: "Mon, 01 Jan 2024 13:00:00 +0000", inReplyTo: m[2],
                references: [m[0], m[2]]),
        ]
        let (connection, _, uids) = try await mailbox("Thread", messages, bed: bed)
        defer { connection.close() }
        let threads = try await connection.uidThread()
        #expect(
            Set(threads) == [
                ThreadNode(uids[0], children: [ThreadNode(uids[2], children: [ThreadNode(uids[3])])]), ThreadNode(uids[1]),
            ])
    }

    @Test func fetchMetadata() async throws {
        let bed = try TestBed.require()
        let m = ids("fetch", 2)
        let plain = TestBed.message(
            subject: "Quarterly report", messageID: m[0], from: "Ann Example <ann@example.com>",
            extraHeaders: ["X-Priority: 1 (Highest)", "Importance: high"])
        let attached = TestBed.messageWithAttachment(subject: "With PDF", messageID: m[1])
        let (connection, _, uids) = try await mailbox("Fetch", [plain, attached], bed: bed, flags: [[.seen], []])
        defer { connection.close() }
        let fetched = try await connection.uidFetch(
            UIDSet(uids), [.flags, .rfc822Size, .internalDate, .envelope, .bodyStructure, .modSeq, .headerFields(["X-Priority", "Importance"])])
        let byUID = Dictionary(uniqueKeysWithValues: fetched.map { ($0.uid!, $0) })
        let first = try #require(byUID[uids[0]])
        #expect(first.envelope?.subject == "Quarterly report")
        #expect(first.envelope?.messageID == m[0])
        #expect(first.envelope?.from.first?.email == "ann@example.com")
        #expect(first.envelope?.from.first?.name == "Ann Example")
        #expect(first.size == UInt64(plain.count))
        #expect(first.flags?.contains(.seen) == true)
        #expect(first.modSeq != nil)
        #expect(first.internalDate != nil)
        #expect(first.bodyStructure?.hasAttachment == false)
        let headers = String(decoding: try #require(first.sections["HEADER.FIELDS (X-PRIORITY IMPORTANCE)"]), as: UTF8.self)
        #expect(headers.contains("X-Priority: 1 (Highest)"))
        #expect(headers.contains("Importance: high"))
        let second = try #require(byUID[uids[1]])
        #expect(second.bodyStructure?.hasAttachment == true)
        #expect(second.flags?.contains(Flag("$HasAttachment")) == true)
        // Fetching UIDs that do not exist answers nothing for them (SPEC §7).
        #expect(try await connection.uidFetch([uids[1] + 100], [.flags]).isEmpty)
    }

    @Test func storeFlagsAndKeywords() async throws {
        let bed = try TestBed.require()
        let (connection, name, uids) = try await mailbox("Store", ids("store", 3).map { TestBed.message(subject: "s", messageID: $0) }, bed: bed)
        defer { connection.close() }
        try await connection.uidStore([uids[0], uids[2]], .add, flags: [.seen, .flagged, Flag("$Label1")])
        try await connection.uidStore([uids[2]], .remove, flags: [.seen])
        let look = try await bed.look(name)
        #expect(look[uids[0]]?.flags.isSuperset(of: ["\\seen", "\\flagged", "$label1"]) == true)
        #expect(look[uids[1]]?.flags.isDisjoint(with: ["\\seen", "\\flagged", "$label1"]) == true)
        #expect(look[uids[2]]?.flags.contains("\\seen") == false)
        #expect(look[uids[2]]?.flags.isSuperset(of: ["\\flagged", "$label1"]) == true)

        // CONDSTORE: a store guarded by an old mod-sequence is refused for the changed message.
        let current = try await connection.uidFetch([uids[1]], [.modSeq])
        let modSeq = try #require(current.first?.modSeq)
        try await connection.uidStore([uids[1]], .add, flags: [Flag("$Changed")])
        let modified = try await connection.uidStore([uids[1]], .add, flags: [.flagged], unchangedSince: modSeq)
        #expect(modified == [uids[1]])
        #expect(try await bed.look(name)[uids[1]]?.flags.contains("\\flagged") == false)
    }

    /// A non-silent STORE names the messages whose flags it changed, checked against doveadm;
    /// Dovecot leaves out those already as asked, and a UID that does not exist is never named.
    @Test func storeReportingNamesTheMessagesItChanged() async throws {
        let bed = try TestBed.require()
        let (connection, name, uids) = try await mailbox("StoreReport", ids("report", 3).map { TestBed.message(subject: "s", messageID: $0) }, bed: bed)
        defer { connection.close() }
        try await connection.uidStore([uids[1]], .add, flags: [.flagged])
        let missing = uids[2] + 100
        let added = try await connection.uidStoreReporting(UIDSet(uids + [missing]), .add, flags: [.flagged, Flag("$Label1")])
        #expect(added == UIDSet(uids), "uids[1] gained $Label1")
        let flagged = try await connection.uidStoreReporting(UIDSet(uids + [missing]), .add, flags: [.flagged])
        #expect(flagged.isEmpty, "nothing changed")
        let removed = try await connection.uidStoreReporting([uids[0], uids[1], missing], .remove, flags: [.flagged])
        #expect(removed == [uids[0], uids[1]])
        let look = try await bed.look(name)
        #expect(look[uids[0]]?.flags.contains("\\flagged") == false)
        #expect(look[uids[1]]?.flags.contains("\\flagged") == false)
        #expect(look[uids[2]]?.flags.isSuperset(of: ["\\flagged", "$label1"]) == true)
    }

    @Test func invalidKeywordIsRefusedWithoutTouchingTheMailbox() async throws {
        let bed = try TestBed.require()
        let (connection, name, uids) = try await mailbox("BadFlag", ids("bad", 1).map { TestBed.message(subject: "s", messageID: $0) }, bed: bed)
        defer { connection.close() }
        let before = try await bed.look(name)
        await #expect(throws: IMAPError.invalidCommand(.invalidFlag("x) UID EXPUNGE 1:* (y"))) {
            try await connection.uidStore(UIDSet(uids), .add, flags: [Flag("x) UID EXPUNGE 1:* (y")])
        }
        #expect(try await bed.look(name) == before)
        #expect(connection.isUsable)
    }

    @Test func copyReportsCOPYUID() async throws {
        let bed = try TestBed.require()
        let m = ids("copy", 3)
        let (connection, name, uids) = try await mailbox("Copy", m.map { TestBed.message(subject: "c", messageID: $0) }, bed: bed)
        defer { connection.close() }
        let destination = TestBed.uniqueMailbox("CopyDest")
        try await connection.create(MailboxName(destination))
        let result = try await connection.uidCopy([uids[0], uids[2]], to: MailboxName(destination))
        #expect(result.copiedSourceUIDs == [uids[0], uids[2]])
        #expect(String(try #require(result.uidValidity)) == (try await bed.status(destination, "uidvalidity"))["uidvalidity"])
        let source = try await bed.look(name)
        let copied = try await bed.look(destination)
        #expect(source.count == 3)
        #expect(copied.count == 2)
        for (old, new) in result.newUIDs {
            #expect(copied[new]?.messageID == source[old]?.messageID)
        }
    }

    @Test func moveReportsCOPYUIDFromUntaggedOK() async throws {
        let bed = try TestBed.require()
        let m = ids("move", 4)
        let (connection, name, uids) = try await mailbox("Move", m.map { TestBed.message(subject: "m", messageID: $0) }, bed: bed)
        defer { connection.close() }
        let destination = TestBed.uniqueMailbox("MoveDest")
        try await connection.create(MailboxName(destination))
        let result = try await connection.uidMove([uids[1], uids[2]], to: MailboxName(destination))
        #expect(result.copiedSourceUIDs == [uids[1], uids[2]])
        #expect(connection.selectedMailbox?.exists == 2, "EXPUNGEs after MOVE are applied")
        let source = try await bed.look(name)
        let moved = try await bed.look(destination)
        #expect(Set(source.keys) == [uids[0], uids[3]])
        #expect(moved.count == 2)
        #expect(moved[try #require(result.newUIDs[uids[1]])]?.messageID == m[1])
        #expect(moved[try #require(result.newUIDs[uids[2]])]?.messageID == m[2])
        // A UID that is gone is not an error: the server answers OK and reports nothing moved.
        let again = try await connection.uidMove([uids[1]], to: MailboxName(destination))
        #expect(again.newUIDs.isEmpty)
        #expect(try await bed.look(destination).count == 2)
    }

    @Test func uidExpungeRemovesOnlyTheChosenMessages() async throws {
        let bed = try TestBed.require()
        let m = ids("expunge", 4)
        // The last message already carries \Deleted: it is outside the operation and must survive.
        let (connection, name, uids) = try await mailbox(
            "Expunge", m.map { TestBed.message(subject: "e", messageID: $0) }, bed: bed, flags: [[], [], [], [.deleted]])
        defer { connection.close() }
        try await connection.uidStore([uids[0], uids[1]], .add, flags: [.deleted])
        let expunged = try await connection.uidExpunge([uids[0], uids[1]])
        #expect(expunged == 2)
        let look = try await bed.look(name)
        #expect(Set(look.keys) == [uids[2], uids[3]])
        #expect(look[uids[3]]?.flags.contains("\\deleted") == true)
    }

    /// 10,000 messages; STORE and MOVE of 5,000 scattered UIDs under a 256-octet line limit, every
    /// message acted on exactly once and no line longer than the limit. Dovecot offers SEARCHRES:
    /// each is one command on `$`, after line-sized searches that save the set (RFC 5182). Behind a
    /// proxy refusing SEARCHRES, each is split into many commands.
    @Test(arguments: [false, true])
    func tenThousandUIDOperationStaysUnderTheLineLimit(withoutSearchRes: Bool) async throws {
        let bed = try TestBed.require()
        let name = TestBed.uniqueMailbox("Big")
        let dave = bed.gina  // an account of its own for very large folders (see TestBed.dave)
        try await bed.fill(name, count: 10_000, user: dave.user)
        let proxy = withoutSearchRes ? try RefusingProxy(targetPort: bed.dovecotPort, refusing: ["SEARCHRES"]) : nil
        defer { proxy?.stop() }
        var configuration = try bed.server(maxCommandLineLength: 256)
        configuration.port = proxy?.port ?? bed.dovecotPort
        let connection = try await IMAPConnection.connect(to: configuration, logger: TestBed.logger)
        defer { connection.close() }
        try await connection.login(dave)
        #expect(connection.capabilities.contains(.searchRes) == !withoutSearchRes)
        let selected = try await connection.select(MailboxName(name))
        #expect(selected.exists == 10_000)
        let all = try await connection.uidSearch(.all)
        #expect(all.count == 10_000)
        let even = UIDSet(all.values.filter { $0 % 2 == 0 })
        let odd = all.subtracting(even)
        #expect(even.ranges.count == 5_000)

        let longestTag = String(repeating: "A", count: CommandEncoder.maxTagLength)
        func commandsFor(_ command: Command) throws -> Int {
            let pieces: [Command]
            if withoutSearchRes {
                pieces = try CommandEncoder().split(command, maxLineLength: 256)
            } else {
                let set = try #require(command.uidSet)
                let saving = Command.uidSearch(.or(.savedResult, .uid(set)), returning: [.save, .all])
                pieces = try CommandEncoder().split(saving, maxLineLength: 256) + [.onSavedResult(command)]
            }
            for piece in pieces { #expect(try CommandEncoder().encode(piece, tag: longestTag).longestLineLength <= 256) }
            return pieces.count
        }
        let store = Command.uidStore(even, .add, flags: [.flagged], silent: true, unchangedSince: nil)
        let storeCommands = try commandsFor(store)
        #expect(storeCommands > 100)
        var before = connection.commandsSent
        try await connection.uidStore(even, .add, flags: [.flagged])
        #expect(connection.commandsSent - before == storeCommands)
        #expect(try await bed.search(name, ["FLAGGED"], user: dave.user) == even)

        let destination = TestBed.uniqueMailbox("BigDest")
        try await connection.create(MailboxName(destination))
        before = connection.commandsSent
        let moved = try await connection.uidMove(odd, to: MailboxName(destination))
        #expect(connection.commandsSent - before == (try commandsFor(.uidMove(odd, MailboxName(destination)))))
        #expect(moved.copiedSourceUIDs == odd)
        #expect(try await bed.search(name, user: dave.user) == even)
        #expect(try await bed.search(destination, user: dave.user).count == 5_000)
        #expect(Set(moved.newUIDs.values).count == 5_000)
    }
}
