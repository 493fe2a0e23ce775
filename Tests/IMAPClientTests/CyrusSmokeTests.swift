import Foundation
import IMAPClient
import IMAPCore
import NIOSSL
import TestBedSupport
import Testing

/// The Cyrus IMAP 3.6 test bed of `integration/cyrus-start.sh`, read from its env file
/// (`CYRUS_TEST_ENV_FILE`, else `$CYRUS_TEST_DIR/env`, else /tmp/mailbox-gateway-cyrus/env) or
/// from `CYRUS_TEST_*` variables. Kept here, apart from `TestBed`, until the suites are
/// parameterised over both servers.
struct CyrusBed: Sendable {
    let host: String
    let port: Int
    let tlsPort: Int
    let caFile: String
    let envFile: String
    let stateDir: String
    let version: String
    /// `sasldb`: passwords are checked; `alwaystrue`: any password is accepted.
    let passwordCheck: String
    let seeded: Bool
    let users: [(name: String, password: String)]
    let masterUser: String
    let masterPassword: String

    static let current: CyrusBed? = load()

    /// Runs when the bed is up, and must run (fail, not skip) with `CYRUS_TEST_REQUIRED=1`.
    static let isEnabled = current != nil || ProcessInfo.processInfo.environment["CYRUS_TEST_REQUIRED"] == "1"

    struct Missing: Error, CustomStringConvertible {
        var description: String { "Cyrus test bed not found or not running: run integration/cyrus-start.sh" }
    }

    static func require() throws -> CyrusBed {
        guard let current else { throw Missing() }
        return current
    }

    private static func load() -> CyrusBed? {
        var env = ProcessInfo.processInfo.environment
        let file = env["CYRUS_TEST_ENV_FILE"] ?? ((env["CYRUS_TEST_DIR"] ?? "/tmp/mailbox-gateway-cyrus") + "/env")
        if env["CYRUS_TEST_PORT"] == nil {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return nil }
            for line in text.split(separator: "\n") where line.hasPrefix("export ") {
                let pair = line.dropFirst("export ".count).split(separator: "=", maxSplits: 1)
                if pair.count == 2 { env[String(pair[0])] = String(pair[1]) }
            }
        }
        guard let port = env["CYRUS_TEST_PORT"].flatMap(Int.init), let tlsPort = env["CYRUS_TEST_TLS_PORT"].flatMap(Int.init),
            let state = env["CYRUS_TEST_STATE_DIR"], isRunning(stateDir: state)
        else { return nil }
        var users: [(String, String)] = []
        for i in 1...13 {
            if let u = env["CYRUS_TEST_USER\(i)"], let p = env["CYRUS_TEST_PASS\(i)"] { users.append((u, p)) }
        }
        guard !users.isEmpty else { return nil }
        return CyrusBed(
            host: env["CYRUS_TEST_HOST"] ?? "127.0.0.1", port: port, tlsPort: tlsPort, caFile: env["CYRUS_TEST_CA_FILE"] ?? "",
            envFile: file, stateDir: state, version: env["CYRUS_TEST_VERSION"] ?? "?",
            passwordCheck: env["CYRUS_TEST_PWCHECK"] ?? "alwaystrue", seeded: env["CYRUS_TEST_SEEDED"] == "1", users: users,
            masterUser: env["CYRUS_TEST_MASTER_USER"] ?? "", masterPassword: env["CYRUS_TEST_MASTER_PASS"] ?? "")
    }

    /// The env file outlives a stopped (or killed) bed: only a live cyrmaster of that state dir counts.
    private static func isRunning(stateDir: String) -> Bool {
        guard let text = try? String(contentsOfFile: stateDir + "/run/master.pid", encoding: .utf8),
            let pid = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)),
            let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
        else { return false }
        return comm.trimmingCharacters(in: .whitespacesAndNewlines) == "cyrmaster"
    }

    var alice: IMAPCredentials { IMAPCredentials(user: users[0].name, password: users[0].password) }

    func server(tls: IMAPServerConfiguration.TLSMode = .none) -> IMAPServerConfiguration {
        var tlsConfiguration = TLSConfiguration.makeClientConfiguration()
        tlsConfiguration.trustRoots = .file(caFile)
        return IMAPServerConfiguration(
            host: host, port: tls == .tls ? tlsPort : port, tlsMode: tls, tlsConfiguration: tlsConfiguration,
            commandTimeout: .seconds(60))
    }

    func connect(_ credentials: IMAPCredentials? = nil, tls: IMAPServerConfiguration.TLSMode = .none) async throws -> IMAPConnection {
        let connection = try await IMAPConnection.connect(to: server(tls: tls), logger: TestBed.logger)
        try await connection.login(credentials ?? alice)
        return connection
    }

    // MARK: Independent look (integration/cyrus-admin.py: an imaplib session of the admin
    // authorised as the user, read-only; never our client)

    struct Seen: Hashable {
        var uid: UInt32
        var flags: Set<String>
        var messageID: String
    }

    func admin(_ arguments: [String]) async throws -> String {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("integration/cyrus-admin.py").path
        let env = envFile
        return try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    with: Result {
                        let process = Process()
                        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                        process.arguments = ["python3", script, "--env", env] + arguments
                        let output = Pipe()
                        process.standardOutput = output
                        process.standardError = FileHandle.nullDevice
                        try process.run()
                        let data = output.fileHandleForReading.readDataToEndOfFile()
                        process.waitUntilExit()
                        guard process.terminationStatus == 0 else { throw LookFailed(arguments: arguments) }
                        return String(decoding: data, as: UTF8.self)
                    })
            }
        }
    }

    struct LookFailed: Error, CustomStringConvertible {
        var arguments: [String]
        var description: String { "cyrus-admin.py \(arguments.joined(separator: " ")) failed" }
    }

    /// Every message of `mailbox` (UTF-8 name) by UID, as the user's own read-only session sees it.
    func look(_ mailbox: String, user: String? = nil) async throws -> [UInt32: Seen] {
        let text = try await admin(["fetch", user ?? users[0].name, mailbox])
        var out: [UInt32: Seen] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 3, let uid = UInt32(fields[0]) else { continue }
            let flags = Set(fields[1].split(separator: " ").map { String($0).lowercased() })
            out[uid] = Seen(uid: uid, flags: flags, messageID: String(fields[2]))
        }
        return out
    }
}

/// Our IMAP client against Cyrus IMAP 3.6: login, LIST with SPECIAL-USE, SELECT, UID
/// SEARCH/FETCH/STORE/COPY/MOVE/EXPUNGE, SORT and THREAD, each checked with an independent look.
/// Findings and differences from Dovecot: integration/CYRUS.md.
@Suite(.enabled(if: CyrusBed.isEnabled, "needs the Cyrus test bed (integration/cyrus-start.sh)"))
struct CyrusSmokeTests {
    private func ids(_ prefix: String, _ count: Int) -> [String] {
        let run = UUID().uuidString.prefix(8)
        return (1...count).map { "<cyrus-\(prefix)-\($0)-\(run)@example.com>" }
    }

    /// Creates a fresh mailbox holding `messages`, selected; returns the connection, name and UIDs (from APPENDUID).
    private func mailbox(
        _ prefix: String, _ messages: [[UInt8]], bed: CyrusBed, flags: [[Flag]] = []
    ) async throws -> (IMAPConnection, String, [UInt32]) {
        let connection = try await bed.connect()
        let name = TestBed.uniqueMailbox("Cyrus\(prefix)")
        try await connection.create(MailboxName(name))
        var uids: [UInt32] = []
        for (i, message) in messages.enumerated() {
            let appended = try await connection.append(message, to: MailboxName(name), flags: i < flags.count ? flags[i] : [])
            uids.append(try #require(appended?.uid, "APPENDUID"))
        }
        try await connection.select(MailboxName(name))
        return (connection, name, uids)
    }

    @Test func capabilitiesAreRecorded() async throws {
        let bed = try CyrusBed.require()
        let connection = try await IMAPConnection.connect(to: bed.server(), logger: TestBed.logger)
        defer { connection.close() }
        let greeting = connection.capabilities
        // Unlike Dovecot, Cyrus lists every extension before login too; the greeting carries a short list.
        let before = try await connection.refreshCapabilities()
        try await connection.login(bed.alice)
        let after = connection.capabilities
        func line(_ caps: Set<Capability>) -> String { caps.map(\.rawValue).sorted().joined(separator: " ") }
        print("cyrus \(bed.version) capabilities in the greeting: \(line(greeting))")
        print("cyrus \(bed.version) capabilities before login: \(line(before))")
        print("cyrus \(bed.version) capabilities after login: \(line(after))")
        #expect(greeting.isSuperset(of: [.imap4rev1, .startTLS, .authPlain, .saslIR]))
        let used: [Capability] = [.literalPlus, .uidPlus, .move, .sort, .sortDisplay, .esort, .esearch, .threadReferences]
            + [.condStore, .qresync, .specialUse, .listStatus, .enable, .idle, Capability("CONTEXT=SORT"), Capability("CONTEXT=SEARCH")]
        print("cyrus: after login, of the extensions the client knows, missing: \(used.filter { !after.contains($0) }.map(\.rawValue))")
        for capability in [Capability.imap4rev1, .uidPlus, .move, .sort, .threadReferences, .condStore, .specialUse] {
            #expect(after.contains(capability), "missing \(capability) after login")
        }
        #expect(after.contains(Capability("OBJECTID")), "Cyrus offers OBJECTID (RFC 8474)")
        #expect(connection.authenticatedUser == bed.users[0].name)
    }

    @Test func startTLSAndImplicitTLSVerifyTheTestCA() async throws {
        let bed = try CyrusBed.require()
        for mode in [IMAPServerConfiguration.TLSMode.startTLS, .tls] {
            let connection = try await bed.connect(tls: mode)
            defer { connection.close() }
            #expect(!connection.capabilities.contains(.startTLS), "capabilities must be the post-TLS ones")
            let inbox = try await connection.select(.inbox, readOnly: true)
            #expect(inbox.uidValidity > 0)
        }
    }

    /// With a sasldb a wrong password fails like on Dovecot; with SPEC §7's `alwaystrue` any
    /// password logs in (the gateway's 401 tests cannot run there).
    @Test func wrongPassword() async throws {
        let bed = try CyrusBed.require()
        let connection = try await IMAPConnection.connect(to: bed.server(), logger: TestBed.logger)
        defer { connection.close() }
        let wrong = IMAPCredentials(user: bed.users[0].name, password: "wrong")
        if bed.passwordCheck == "sasldb" {
            await #expect {
                try await connection.login(wrong)
            } throws: { error in
                guard case IMAPError.authenticationFailed(let text) = error else { return false }
                return !text.isEmpty
            }
            // SASL PLAIN too, and the connection stays usable for the right password.
            await #expect(throws: IMAPError.self) {
                try await connection.login(IMAPCredentials(user: bed.users[0].name, password: "wrong", method: .plain))
            }
            try await connection.login(bed.alice)
        } else {
            try await connection.login(wrong)
        }
        #expect(connection.authenticatedUser == bed.users[0].name)
    }

    /// Cyrus `proxyservers`: the master user authenticates and is authorised as alice (SASL PLAIN authzid).
    @Test func masterUserActsAsTheUser() async throws {
        let bed = try CyrusBed.require()
        let credentials = IMAPCredentials(user: bed.users[0].name, masterUser: bed.masterUser, masterPassword: bed.masterPassword)
        let connection = try await bed.connect(credentials)
        defer { connection.close() }
        #expect(connection.authenticatedUser == bed.users[0].name)
        let mailbox = TestBed.uniqueMailbox("CyrusMaster")
        try await connection.create(MailboxName(mailbox))
        let messageID = "<cyrus-master-\(UUID().uuidString)@example.com>"
        let appended = try await connection.append(TestBed.message(subject: "via master", messageID: messageID), to: MailboxName(mailbox))
        let look = try await bed.look(mailbox)
        #expect(look.count == 1)
        #expect(look[try #require(appended?.uid)]?.messageID == messageID)
        try await connection.delete(MailboxName(mailbox))
        if bed.passwordCheck == "sasldb" {
            let other = try await IMAPConnection.connect(to: bed.server(), logger: TestBed.logger)
            defer { other.close() }
            await #expect(throws: IMAPError.self) {
                try await other.login(IMAPCredentials(user: bed.users[0].name, masterUser: bed.masterUser, masterPassword: "nope"))
            }
        }
    }

    @Test func listShowsSpecialUseAndNames() async throws {
        let bed = try CyrusBed.require()
        let connection = try await bed.connect()
        defer { connection.close() }
        let listings = try await connection.list(status: [.messages, .uidNext])
        print("cyrus LIST: " + listings.map { "\($0.entry.attributes) \(String(decoding: $0.name.wire, as: UTF8.self))" }.joined(separator: "; "))
        let byName = Dictionary(listings.map { ($0.name.name, $0) }, uniquingKeysWith: { a, _ in a })
        for (name, use) in [("Drafts", "\\Drafts"), ("Sent", "\\Sent"), ("Trash", "\\Trash"), ("Junk", "\\Junk"), ("Archive", "\\Archive")] {
            #expect(byName[name]?.specialUse?.lowercased() == use.lowercased(), "\(name) should be \(use)")
        }
        let inbox = try #require(byName["INBOX"])
        #expect(inbox.entry.delimiter == "/")
        #expect(inbox.status?.messages != nil)
        // altnamespace: personal folders sit beside INBOX, not under it.
        #expect(!listings.contains { $0.name.name.hasPrefix("INBOX/") })
        if bed.seeded {
            #expect(inbox.status?.messages == 12)
            let nested = try #require(byName["Société/Été"])
            #expect(String(decoding: nested.name.wire, as: UTF8.self) == "Soci&AOk-t&AOk-/&AMk-t&AOk-")
            #expect(byName["Projects/2024"] != nil)
            #expect(byName["日本語"] != nil)
        }
        // The same folders, seen by the independent look.
        let looked = try await bed.admin(["list", bed.users[0].name])
        #expect(looked.split(separator: "\n").contains { $0 == "Drafts\t\\Drafts" })
    }

    @Test func selectInboxSearchAndFetchTheSeededMail() async throws {
        let bed = try CyrusBed.require()
        let connection = try await bed.connect()
        defer { connection.close() }
        let inbox = try await connection.select(.inbox, readOnly: true)
        #expect(inbox.uidValidity > 0)
        #expect(inbox.highestModSeq != nil, "CONDSTORE mod-sequences")
        let all = try await connection.uidSearch(.all)
        #expect(all.count == Int(inbox.exists))
        let fetched = try await connection.uidFetch(all, [.flags, .rfc822Size, .internalDate, .envelope, .bodyStructure, .modSeq])
        #expect(fetched.count == all.count)
        let look = try await bed.look("INBOX")
        #expect(Set(look.keys) == Set(fetched.compactMap(\.uid)))
        for message in fetched {
            let uid = try #require(message.uid)
            #expect(message.envelope?.messageID == look[uid]?.messageID)
        }
        if bed.seeded {
            #expect(all.count == 12)
            let seen = try await connection.uidSearch(.seen)
            #expect(!seen.isEmpty)
        }
    }

    /// Ties under REVERSE (SPEC §7): recorded for Cyrus, compared with Dovecot's answer.
    @Test func sortByDateWithTiesAndReverse() async throws {
        let bed = try CyrusBed.require()
        let dates = [
            "Mon, 01 Jan 2024 10:00:00 +0000", "Mon, 01 Jan 2024 10:00:00 +0000",
            "Tue, 02 Jan 2024 10:00:00 +0000", "Tue, 02 Jan 2024 10:00:00 +0000",
            "Wed, 03 Jan 2024 10:00:00 +0000", "Wed, 03 Jan 2024 10:00:00 +0000",
        ]
        let messages = zip(dates, ids("sort", 6)).map { TestBed.message(subject: "s", messageID: $1, date: $0) }
        let (connection, name, uids) = try await mailbox("Sort", messages, bed: bed)
        defer { connection.close() }
        let ascending = try await connection.uidSort([SortKey(.date)])
        let descending = try await connection.uidSort([SortKey(.date, reverse: true)])
        print("cyrus UID SORT (DATE): \(ascending); (REVERSE DATE): \(descending); appended \(uids)")
        #expect(ascending == uids)
        #expect(descending == [uids[4], uids[5], uids[2], uids[3], uids[0], uids[1]], "as Dovecot: REVERSE reverses the key only")
        let subjects = ["Re: banana", "apple", "Fwd: cherry", "[list] date"]
        let second = TestBed.uniqueMailbox("CyrusSortSubject")
        try await connection.create(MailboxName(second))
        var subjectUIDs: [UInt32] = []
        for (subject, id) in zip(subjects, ids("subj", 4)) {
            let appended = try await connection.append(TestBed.message(subject: subject, messageID: id), to: MailboxName(second))
            subjectUIDs.append(try #require(appended?.uid))
        }
        try await connection.select(MailboxName(second))
        #expect(try await connection.uidSort([SortKey(.subject)]) == [subjectUIDs[1], subjectUIDs[0], subjectUIDs[2], subjectUIDs[3]])
        try await connection.delete(MailboxName(second))
        try await connection.delete(MailboxName(name))
    }

    @Test func threadByReferences() async throws {
        let bed = try CyrusBed.require()
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
        let (connection, name, uids) = try await mailbox("Thread", messages, bed: bed)
        defer { connection.close() }
        let threads = try await connection.uidThread()
        print("cyrus UID THREAD REFERENCES: \(threads)")
        #expect(
            Set(threads) == [
                ThreadNode(uids[0], children: [ThreadNode(uids[2], children: [ThreadNode(uids[3])])]), ThreadNode(uids[1]),
            ])
        try await connection.delete(MailboxName(name))
    }

    @Test func storeCopyMoveAndUIDExpunge() async throws {
        let bed = try CyrusBed.require()
        let m = ids("ops", 6)
        // The last message already carries \Deleted: it is outside every operation and must survive.
        let (connection, name, uids) = try await mailbox(
            "Ops", m.map { TestBed.message(subject: "o", messageID: $0) }, bed: bed, flags: [[], [], [], [], [], [.deleted]])
        defer { connection.close() }
        let selected = try #require(connection.selectedMailbox)
        #expect(selected.exists == 6)
        #expect(selected.allowsPermanent(Flag("$Label1")), "keywords can be created")

        // UID SEARCH / FETCH
        #expect(try await connection.uidSearch(.all) == UIDSet(uids))
        #expect(try await connection.uidSearch(.deleted) == [uids[5]])
        let fetched = try await connection.uidFetch(UIDSet(uids), [.flags, .envelope, .modSeq])
        #expect(fetched.count == 6)
        #expect(fetched.allSatisfy { $0.modSeq != nil })
        #expect(try await connection.uidFetch([uids[5] + 100], [.flags]).isEmpty, "missing UIDs answer nothing")

        // UID STORE: system flags and a keyword, checked by the independent look.
        try await connection.uidStore([uids[0], uids[2]], .add, flags: [.seen, .flagged, Flag("$Label1")])
        try await connection.uidStore([uids[2]], .remove, flags: [.seen])
        var look = try await bed.look(name)
        #expect(look[uids[0]]?.flags.isSuperset(of: ["\\seen", "\\flagged", "$label1"]) == true)
        #expect(look[uids[1]]?.flags.isDisjoint(with: ["\\seen", "\\flagged", "$label1"]) == true)
        #expect(look[uids[2]]?.flags.contains("\\seen") == false)
        #expect(look[uids[2]]?.flags.isSuperset(of: ["\\flagged", "$label1"]) == true)
        // The second look reads cyrus.index itself (mbexamine, no imapd): the same rows.
        let viaIndex = try await bed.admin(["index", bed.users[0].name, name])
        #expect(viaIndex == (try await bed.admin(["fetch", bed.users[0].name, name])))
        // CONDSTORE: a store guarded by an old mod-sequence is refused for the changed message.
        let modSeq = try #require(try await connection.uidFetch([uids[1]], [.modSeq]).first?.modSeq)
        try await connection.uidStore([uids[1]], .add, flags: [Flag("$Changed")])
        #expect(try await connection.uidStore([uids[1]], .add, flags: [.flagged], unchangedSince: modSeq) == [uids[1]])

        // UID COPY with COPYUID
        let copyDestination = TestBed.uniqueMailbox("CyrusCopyDest")
        try await connection.create(MailboxName(copyDestination))
        let copied = try await connection.uidCopy([uids[0], uids[2]], to: MailboxName(copyDestination))
        #expect(copied.copiedSourceUIDs == [uids[0], uids[2]])
        let copies = try await bed.look(copyDestination)
        #expect(copies.count == 2)
        for (old, new) in copied.newUIDs { #expect(copies[new]?.messageID == look[old]?.messageID) }

        // UID MOVE with COPYUID; the EXPUNGEs are applied to the selected state.
        let moveDestination = TestBed.uniqueMailbox("CyrusMoveDest")
        try await connection.create(MailboxName(moveDestination))
        let moved = try await connection.uidMove([uids[1], uids[3]], to: MailboxName(moveDestination))
        #expect(moved.copiedSourceUIDs == [uids[1], uids[3]])
        #expect(connection.selectedMailbox?.exists == 4)
        let arrived = try await bed.look(moveDestination)
        #expect(arrived[try #require(moved.newUIDs[uids[1]])]?.messageID == m[1])
        #expect(arrived[try #require(moved.newUIDs[uids[3]])]?.messageID == m[3])
        let again = try await connection.uidMove([uids[1]], to: MailboxName(moveDestination))
        #expect(again.newUIDs.isEmpty, "a UID that is gone is not an error")

        // UID EXPUNGE removes only the chosen \Deleted messages.
        try await connection.uidStore([uids[0], uids[4]], .add, flags: [.deleted])
        let expunged = try await connection.uidExpunge([uids[0], uids[4]])
        #expect(expunged == 2)
        look = try await bed.look(name)
        #expect(Set(look.keys) == [uids[2], uids[5]], "the message deleted outside the batch survives")
        #expect(connection.selectedMailbox?.exists == 2)

        try await connection.unselect()
        for mailbox in [copyDestination, moveDestination, name] { try await connection.delete(MailboxName(mailbox)) }
    }
}
