import Foundation
import IMAPClient
import IMAPCore
import NIOCore
import NIOPosix
import TestBedSupport
import Testing

/// Logging in and securing the connection against the real Dovecot test bed.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct DovecotLoginTests {
    @Test func passwordLoginRefreshesCapabilities() async throws {
        let bed = try TestBed.require()
        let connection = try await IMAPConnection.connect(to: try bed.server(), logger: TestBed.logger)
        defer { connection.close() }
        let before = connection.capabilities
        #expect(before.contains(.imap4rev1))
        #expect(!before.contains(.move), "Dovecot lists MOVE only after login")
        try await connection.login(bed.alice)
        let after = connection.capabilities
        for capability in [Capability.move, .uidPlus, .sort, .esort, .threadReferences, .condStore, .qresync, .specialUse] {
            #expect(after.contains(capability), "missing \(capability) after login")
        }
        #expect(connection.authenticatedUser == bed.users[0].name)
    }

    @Test func wrongPasswordIsAuthenticationFailed() async throws {
        let bed = try TestBed.require()
        let connection = try await IMAPConnection.connect(to: try bed.server(), logger: TestBed.logger)
        defer { connection.close() }
        await #expect {
            try await connection.login(IMAPCredentials(user: bed.users[0].name, password: "wrong"))
        } throws: { error in
            guard case IMAPError.authenticationFailed(let text) = error else { return false }
            return !text.isEmpty
        }
    }

    @Test func saslPlainWithInitialResponse() async throws {
        let bed = try TestBed.require()
        let connection = try await IMAPConnection.connect(to: try bed.server(), logger: TestBed.logger)
        defer { connection.close() }
        #expect(connection.capabilities.contains(.saslIR))
        try await connection.login(IMAPCredentials(user: bed.users[1].name, password: bed.users[1].password, method: .plain))
        let inbox = try await connection.select(.inbox)
        #expect(inbox.uidValidity > 0)
    }

    /// A master user acts on alice's mailbox: what it appends is found in alice's store by doveadm.
    @Test func masterUserLoginActsAsTheUser() async throws {
        let bed = try TestBed.require()
        let credentials = IMAPCredentials(user: bed.users[0].name, masterUser: bed.masterUser, masterPassword: bed.masterPassword)
        let connection = try await bed.connect(credentials)
        defer { connection.close() }
        #expect(connection.authenticatedUser == bed.users[0].name)
        let mailbox = TestBed.uniqueMailbox("Master")
        try await connection.create(MailboxName(mailbox))
        let messageID = "<master-\(UUID().uuidString)@example.com>"
        let appended = try await connection.append(TestBed.message(subject: "via master", messageID: messageID), to: MailboxName(mailbox))
        let look = try await bed.look(mailbox)
        #expect(look.count == 1)
        #expect(look[try #require(appended?.uid)]?.messageID == messageID)
        #expect(try await bed.look(mailbox, user: bed.users[1].name).isEmpty, "bob has no such mail")
    }

    @Test func masterLoginWithWrongPasswordFails() async throws {
        let bed = try TestBed.require()
        let connection = try await IMAPConnection.connect(to: try bed.server(), logger: TestBed.logger)
        defer { connection.close() }
        await #expect(throws: IMAPError.self) {
            try await connection.login(IMAPCredentials(user: bed.users[0].name, masterUser: bed.masterUser, masterPassword: "nope"))
        }
    }

    @Test func startTLSVerifiesTheServerAndRefreshesCapabilities() async throws {
        let bed = try TestBed.require()
        let connection = try await IMAPConnection.connect(to: try bed.server(tls: .startTLS), logger: TestBed.logger)
        defer { connection.close() }
        #expect(!connection.capabilities.contains(.startTLS), "capabilities must be the post-TLS ones")
        try await connection.login(bed.alice)
        _ = try await connection.select(.inbox)
    }

    @Test func implicitTLS() async throws {
        let bed = try TestBed.require()
        let connection = try await bed.connect(tls: .tls)
        defer { connection.close() }
        _ = try await connection.select(.inbox)
        #expect(connection.isUsable)
    }

    @Test(arguments: [IMAPServerConfiguration.TLSMode.tls, .startTLS])
    func untrustedCertificateIsRefusedByDefault(mode: IMAPServerConfiguration.TLSMode) async throws {
        let bed = try TestBed.require()
        await #expect {
            _ = try await IMAPConnection.connect(to: try bed.server(tls: mode, trustTestCA: false), logger: TestBed.logger)
        } throws: { error in
            guard case IMAPError.tls = error else { return false }
            return true
        }
    }

    /// A server that accepts but never greets is given up on at the connect deadline: the error is
    /// the greeting timer's own (`timeout(command: "greeting")`), so the connect did not hang and
    /// did not fail for another reason. No wall-clock bound: on a loaded 2-core machine the
    /// resumption of the awaiting task is delayed by other suites, which is not what this checks.
    @Test func silentServerTimesOut() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let server = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let configuration = IMAPServerConfiguration(host: "127.0.0.1", port: port, connectTimeout: .milliseconds(300))
        await #expect(throws: IMAPError.timeout(command: "greeting")) {
            _ = try await IMAPConnection.connect(to: configuration, eventLoopGroup: group, logger: TestBed.logger)
        }
        try await server.close()
        try await group.shutdownGracefully()
    }

    /// A connection the server drops is noticed: it reports unusable and commands fail with a typed error.
    @Test func brokenConnectionIsNoticed() async throws {
        let bed = try TestBed.require()
        // carol is kicked: no other test logs in as carol, so parallel tests are unaffected.
        let carol = IMAPCredentials(user: bed.users[2].name, password: bed.users[2].password)
        let connection = try await bed.connect(carol)
        _ = try await connection.select(.inbox)
        _ = try bed.doveadm(["kick", carol.user])
        var waited = 0
        while connection.isUsable && waited < 50 {
            try await Task.sleep(for: .milliseconds(100))
            waited += 1
        }
        #expect(!connection.isUsable)
        await #expect(throws: IMAPError.self) { try await connection.noop() }
    }
}
