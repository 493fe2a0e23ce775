import Foundation
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// LIST, SELECT and STATUS against the real Dovecot test bed.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct DovecotMailboxTests {
    @Test func listShowsSpecialUseAndNonASCIINames() async throws {
        let bed = try TestBed.require()
        let connection = try await bed.connect()
        defer { connection.close() }
        let root = TestBed.uniqueMailbox("List")
        let nested = "\(root)/Société/Été"
        try await connection.create(MailboxName(root))
        try await connection.create(MailboxName("\(root)/Société"))
        try await connection.create(MailboxName(nested))
        let listings = try await connection.list(status: [.messages, .unseen, .uidNext])
        let byName = Dictionary(listings.map { ($0.name.name, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byName["Trash"]?.specialUse == "\\Trash")
        #expect(byName["Sent"]?.specialUse == "\\Sent")
        #expect(byName["Drafts"]?.specialUse == "\\Drafts")
        #expect(byName["Junk"]?.specialUse == "\\Junk")
        #expect(byName["INBOX"]?.status?.messages != nil)
        let entry = try #require(byName[nested])
        #expect(entry.entry.delimiter == "/")
        #expect(String(decoding: entry.name.wire, as: UTF8.self) == "\(root)/Soci&AOk-t&AOk-/&AMk-t&AOk-")
        // doveadm lists the same folder, decoded, from the mail store.
        let doveadmList = try bed.doveadm(["mailbox", "list", "-u", bed.users[0].name])
        #expect(doveadmList.split(separator: "\n").contains { $0 == nested })
        // And the wire name selects.
        let selected = try await connection.select(entry.name)
        #expect(selected.exists == 0)
    }

    @Test func selectReportsStateAndIsSkippedWhenRepeated() async throws {
        let bed = try TestBed.require()
        let connection = try await bed.connect()
        defer { connection.close() }
        let mailbox = TestBed.uniqueMailbox("Select")
        try await connection.create(MailboxName(mailbox))
        for i in 1...3 {
            try await connection.append(TestBed.message(subject: "m\(i)", messageID: "<sel-\(i)-\(mailbox)@x>"), to: MailboxName(mailbox))
        }
        let selected = try await connection.select(MailboxName(mailbox))
        let truth = try await bed.status(mailbox, "messages uidvalidity uidnext highestmodseq")
        #expect(selected.exists == 3)
        #expect(String(selected.uidValidity) == truth["uidvalidity"])
        #expect(selected.uidNext.map(String.init) == truth["uidnext"])
        #expect(selected.highestModSeq.map(String.init) == truth["highestmodseq"])
        #expect(selected.permanentFlags.contains(.wildcard))
        #expect(selected.allowsPermanent(Flag("$Label1")))
        #expect(!selected.readOnly)

        let sent = connection.commandsSent
        let again = try await connection.select(MailboxName(mailbox))
        #expect(connection.commandsSent == sent, "a repeated SELECT of the same mailbox is skipped")
        #expect(again == selected)
        _ = try await connection.select(MailboxName(mailbox), force: true)
        #expect(connection.commandsSent == sent + 1)
        let examined = try await connection.select(MailboxName(mailbox), readOnly: true)
        #expect(examined.readOnly)

        let status = try await connection.status(MailboxName(mailbox), [.messages, .uidNext, .uidValidity, .highestModSeq])
        #expect(status.messages == 3)
        #expect(status.uidValidity == selected.uidValidity)
    }

    @Test func selectingAMissingMailboxFailsWithTheServerText() async throws {
        let bed = try TestBed.require()
        let connection = try await bed.connect()
        defer { connection.close() }
        _ = try await connection.select(.inbox)
        await #expect {
            try await connection.select(MailboxName(TestBed.uniqueMailbox("Missing")))
        } throws: { error in
            guard case IMAPError.commandFailed(let command, .no, let text) = error else { return false }
            return command == "SELECT" && !text.text.isEmpty
        }
        #expect(connection.selectedMailbox == nil, "a failed SELECT leaves nothing selected")
        #expect(connection.isUsable)
    }

    @Test func enableQResync() async throws {
        let bed = try TestBed.require()
        let connection = try await bed.connect()
        defer { connection.close() }
        let enabled = try await connection.enable([.qresync])
        #expect(enabled.contains(.qresync))
    }
}
