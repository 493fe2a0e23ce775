import GatewayCore
import GatewayFakes
import IMAPCore
import Testing

/// The fake itself behaves as an IMAP server would where the engine's tests rely on it; otherwise
/// the engine tests would prove nothing.
@Suite struct InMemoryMailServerTests {
    private func server(dropping dropped: Set<Capability> = [], lineLimit: Int = 8192) -> InMemoryMailServer {
        let server = InMemoryMailServer(capabilities: InMemoryMailServer.defaultCapabilities.subtracting(dropped), lineLimit: lineLimit)
        server.addStandardAccount(user, password: "secret")
        return server
    }

    @Test func aWrongPasswordIsRefusedAndOnlyAcceptedCredentialsAreVerified() async throws {
        let server = server()
        let good = AccountCredentials(user: user, password: "secret")
        let bad = AccountCredentials(user: user, password: "wrong")
        let error = await #expect(throws: MailServerError.self) { try await server.withSession(bad) { _ in } }
        #expect(error?.kind == .authenticationFailed)
        #expect(await !server.isVerified(bad))
        #expect(await !server.isVerified(good))
        try await server.withSession(good) { _ in }
        #expect(await server.isVerified(good))
        server.setPassword(user, "changed")
        #expect(await !server.isVerified(good))
        await #expect(throws: MailServerError.self) { try await server.withSession(good) { _ in } }
        #expect(server.failedLogins == 2)
    }

    @Test func aMasterUserLogsInForAnAccount() async throws {
        let server = server()
        server.addMasterUser("master", password: "m")
        let uids = server.seed(user, "INBOX", count: 2)
        let seen = try await server.withSession(AccountCredentials(user: user, masterUser: "master", masterPassword: "m")) { session in
            try await session.select(.inbox)
            return try await session.uidSearch(.all)
        }
        #expect(seen == UIDSet(uids))
        await #expect(throws: MailServerError.self) {
            try await server.withSession(AccountCredentials(user: user, masterUser: "master", masterPassword: "x")) { _ in }
        }
    }

    @Test func copyReportsCopyUIDAndExpungeRemovesOnlyDeletedMessagesAmongTheGivenUIDs() async throws {
        let server = server()
        let uids = server.seed(user, "INBOX", count: 4)
        server.setFlags(user, "INBOX", uids: [uids[0], uids[3]], add: [.deleted])
        let archiveBefore = try #require(server.mailbox(user, "Archive"))
        let result = try await server.withSession(AccountCredentials(user: user, password: "secret")) { session in
            try await session.select(.inbox)
            let copy = try await session.uidCopy(UIDSet(uids[0...1]), to: MailboxName("Archive"))
            try await session.uidExpunge(UIDSet(uids[0...2]))
            return copy
        }
        let archive = try #require(server.mailbox(user, "Archive"))
        #expect(result.uidValidity == archiveBefore.uidValidity)
        #expect(result.newUIDs == [uids[0]: archiveBefore.uidNext, uids[1]: archiveBefore.uidNext + 1])
        #expect(archive.message(uid: archiveBefore.uidNext)?.has(.deleted) == true, "flags travel with the copy")
        // uids[0] carried \Deleted and was named; uids[3] carried it but was not named; uids[1...2] had no \Deleted.
        #expect(server.mailbox(user, "INBOX")?.uids == [uids[1], uids[2], uids[3]])
    }

    @Test func withoutUIDPlusThereIsNoCopyUIDAndNoUIDExpunge() async throws {
        let server = server(dropping: [.uidPlus])
        let uids = server.seed(user, "INBOX", count: 2)
        try await server.withSession(AccountCredentials(user: user, password: "secret")) { session in
            try await session.select(.inbox)
            let copy = try await session.uidCopy(UIDSet(uids), to: MailboxName("Archive"))
            #expect(copy.newUIDs.isEmpty)
            let error = await #expect(throws: MailServerError.self) { try await session.uidExpunge(UIDSet(uids)) }
            #expect(error?.kind == .unsupported)
        }
        #expect(server.mailbox(user, "Archive")?.uids.count == 2)
    }

    @Test func sortReverseReversesTheKeyButKeepsTiesAscending() async throws {
        let server = server()
        let uids = server.seed(user, "INBOX", [
            MessageSeed(date: 300), MessageSeed(date: 100), MessageSeed(date: 300), MessageSeed(date: 200),
        ])
        let (ascending, descending) = try await server.withSession(AccountCredentials(user: user, password: "secret")) { session in
            try await session.select(.inbox)
            return (try await session.uidSort([SortKey(.date)]), try await session.uidSort([SortKey(.date, reverse: true)]))
        }
        #expect(ascending == [uids[1], uids[3], uids[0], uids[2]])
        #expect(descending == [uids[0], uids[2], uids[3], uids[1]], "the tie (uids 0 and 2) stays ascending")
    }

    @Test func aFaultAfterACommandAppliesItThenBreaksTheSession() async throws {
        let server = server()
        let uids = server.seed(user, "INBOX", count: 3)
        server.inject(.connectionBreak(on: .move, nth: 1, timing: .after))
        let error = await #expect(throws: MailServerError.self) {
            try await server.withSession(AccountCredentials(user: user, password: "secret")) { session in
                try await session.select(.inbox)
                _ = try await session.uidMove(UIDSet([uids[0]]), to: MailboxName("Archive"))
            }
        }
        #expect(error?.kind == .connectionBroken)
        #expect(server.mailbox(user, "Archive")?.uids.count == 1, "the move took effect before the answer was lost")
        #expect(server.allFaultsFired)
        // A fault before the command leaves the mailboxes alone.
        server.inject(.connectionBreak(on: .move, nth: 1, timing: .before))
        await #expect(throws: MailServerError.self) {
            try await server.withSession(AccountCredentials(user: user, password: "secret")) { session in
                try await session.select(.inbox)
                _ = try await session.uidMove(UIDSet([uids[1]]), to: MailboxName("Archive"))
            }
        }
        #expect(server.mailbox(user, "Archive")?.uids.count == 1)
        #expect(server.mailbox(user, "INBOX")?.uids == [uids[1], uids[2]])
    }

    @Test func splitToFitLineKeepsEveryLineWithinTheLimit() async throws {
        let server = server(lineLimit: 60)
        let odd = UIDSet(stride(from: UInt32(1), through: 399, by: 2))
        let pieces = try await server.withSession(AccountCredentials(user: user, password: "secret")) { session in
            session.splitToFitLine(odd) { .uidMove($0, MailboxName("Archive")) }
        }
        #expect(pieces.count > 1)
        #expect(pieces.reduce(UIDSet()) { $0.union($1) } == odd)
        for piece in pieces {
            let line = try CommandEncoder().encode(.uidMove(piece, MailboxName("Archive")), tag: "A123456789").longestLineLength
            #expect(line <= 60)
        }
    }

    @Test func statusAndSelectReportTheMailboxState() async throws {
        let server = server()
        let uids = server.seed(user, "INBOX", [MessageSeed(flags: [.seen]), MessageSeed(flags: [Flag("Travel")]), MessageSeed()])
        let state = try #require(server.mailbox(user, "INBOX"))
        let (status, selected, listed) = try await server.withSession(AccountCredentials(user: user, password: "secret")) { session in
            (
                try await session.status(.inbox, [.messages, .unseen, .uidNext, .uidValidity, .highestModSeq]),
                try await session.select(.inbox), try await session.list(status: [.messages])
            )
        }
        #expect(status.messages == 3)
        #expect(status.unseen == 2)
        #expect(status.uidNext == uids[2] + 1)
        #expect(status.uidValidity == state.uidValidity)
        #expect(status.highestModSeq == state.highestModSeq)
        #expect(selected.permanentFlags.contains(.wildcard))
        #expect(selected.flags.contains(Flag("travel")))
        #expect(listed.first { $0.specialUse == "\\Trash" }?.name.name == "Trash")
        #expect(listed.first { $0.name.isInbox }?.status?.messages == 3)
    }

    @Test func appendParsesTheMessageAndReportsAppendUID() async throws {
        let server = server()
        let raw = Array("Message-ID: <a1@x>\r\nDate: Tue, 2 Jan 2024 11:00:00 +0100\r\nFrom: Bob <bob@example.com>\r\nTo: alice@example.com\r\nSubject: Hi\r\nX-Priority: 1\r\n\r\nBody\r\n".utf8)
        let appended = try await server.withSession(AccountCredentials(user: user, password: "secret")) { session in
            try await session.append(raw, to: MailboxName("Archive"), flags: [.seen])
        }
        let archive = try #require(server.mailbox(user, "Archive"))
        #expect(appended?.uidValidity == archive.uidValidity)
        let uid = try #require(appended?.uid)
        let message = try #require(archive.message(uid: uid))
        #expect(message.messageID == "<a1@x>")
        #expect(message.content.subject == "Hi")
        #expect(message.content.date == 1_704_189_600)
        #expect(message.size == UInt64(raw.count))
        #expect(message.has(.seen))
        #expect(message.content.extraHeaders == ["X-Priority: 1"])
        #expect(message.content.headerText.hasPrefix("Message-ID: <a1@x>\r\nDate: Tue, 2 Jan 2024 11:00:00 +0100\r\n"))
    }
}
