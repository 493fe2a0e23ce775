import Foundation
import IMAPCore
import Logging
import NIOCore
import NIOEmbedded
import NIOSSL
import TestBedSupport
import Testing

@testable import IMAPClient

/// IMAPConnection against a server that is wrong on purpose (SPEC §4, "the server may be wrong"):
/// every answer ends in a typed error or a correct result, never a crash, a hang or unbounded memory.
@Suite struct HostileUpstreamTests {
    private let logger = TestBed.logger

    @Test func nestedParenthesesFailTheCommandWithATypedError() async throws {
        try await HostileIMAPServer.run("nested-parens") { server in
            let connection = try await IMAPConnection.connect(to: server.configuration(), logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            try await connection.select(.inbox)
            await #expect {
                try await connection.uidFetch([1], [.bodyStructure])
            } throws: { error in
                guard case IMAPError.protocolViolation = error else { return false }
                return true
            }
            #expect(!connection.isUsable)
        }
    }

    /// A set too long for one line is kept on the server as `$` (RFC 5182) and acted on by one
    /// command; a server whose saved result holds UIDs never asked about gets no command on `$`.
    @Test func aSavedSearchResultWiderThanAskedIsNeverActedOn() async throws {
        try await HostileIMAPServer.run("esearch-all") { server in
            var configuration = server.configuration()
            configuration.maxCommandLineLength = 1024
            let connection = try await IMAPConnection.connect(to: configuration, logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            #expect(connection.capabilities.contains(.searchRes))
            try await connection.select(.inbox)
            let sparse = UIDSet(stride(from: UInt32(1), through: 1999, by: 2))
            await #expect {
                try await connection.uidMove(sparse, to: MailboxName("Dest"))
            } throws: { error in
                guard case IMAPError.protocolViolation(let text) = error else { return false }
                return text.contains("not asked about")
            }
            let log = server.commandLog
            #expect(log.contains { $0.contains("RETURN (SAVE") }, "the set was being saved")
            #expect(!log.contains { $0.uppercased().contains("MOVE") }, "no MOVE, neither on $ nor in pieces")
        }
    }

    /// With the default limits, and a command deadline far away so that only the limit can stop it.
    @Test func endlessUntaggedDataFailsTheCommandAtTheResponseLimit() async throws {
        try await HostileIMAPServer.run("endless-untagged") { server in
            let connection = try await IMAPConnection.connect(to: server.configuration(commandTimeout: .seconds(600)), logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            try await connection.select(.inbox)
            let start = ContinuousClock.now
            await #expect {
                try await connection.uidFetch([1], [.flags])
            } throws: { error in
                guard case IMAPError.untaggedLimitExceeded(command: "UID FETCH", let limit) = error else { return false }
                return limit.contains("\(IMAPServerConfiguration.defaultMaxUntaggedResponsesPerCommand) untagged responses")
            }
            #expect(ContinuousClock.now - start < .seconds(120))
            #expect(!connection.isUsable)
        }
    }

    @Test func endlessUntaggedDataFailsTheCommandAtTheOctetLimit() async throws {
        try await HostileIMAPServer.run("endless-untagged") { server in
            let configuration = server.configuration(commandTimeout: .seconds(600), maxUntaggedOctetsPerCommand: 1 << 20)
            let connection = try await IMAPConnection.connect(to: configuration, logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            await #expect {
                try await connection.noop()
            } throws: { error in
                guard case IMAPError.untaggedLimitExceeded(command: "NOOP", let limit) = error else { return false }
                return limit.contains("\(1 << 20) octets")
            }
            #expect(!connection.isUsable)
        }
    }

    /// Untagged data that arrives while nothing is in flight is bounded too: the idle connection is
    /// dropped, and the next command reports why. (A lower limit than the default keeps it quick.)
    @Test func endlessUnsolicitedDataDropsTheIdleConnection() async throws {
        try await HostileIMAPServer.run("endless-unsolicited") { server in
            let configuration = server.configuration(commandTimeout: .seconds(600), maxUntaggedResponsesPerCommand: 50_000)
            let connection = try await IMAPConnection.connect(to: configuration, logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            try await connection.select(.inbox)
            let deadline = ContinuousClock.now + .seconds(120)
            while connection.isUsable && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!connection.isUsable)
            await #expect {
                try await connection.noop()
            } throws: { error in
                guard case IMAPError.untaggedLimitExceeded(_, let limit) = error else { return false }
                return limit == "more than 50000 untagged responses"
            }
        }
    }

    @Test func startTLSInjectionIsNeverUsed() async throws {
        try await HostileIMAPServer.run("starttls-injection") { server in
            do {
                let connection = try await IMAPConnection.connect(to: server.configuration(tls: .startTLS), logger: logger)
                defer { connection.close() }
                Issue.record("connected despite plaintext injected after STARTTLS; capabilities \(connection.capabilities)")
                #expect(!connection.capabilities.contains(Capability("X-INJECTED")))
            } catch {
                guard case IMAPError.protocolViolation(let text) = error, text.contains("before the TLS handshake") else {
                    Issue.record("expected a protocol violation, got \(error)")
                    return
                }
            }
            // Nothing was sent after STARTTLS: no capability was asked, no password went out.
            #expect(server.commandLog.map { $0.split(separator: " ").dropFirst().first ?? "" } == ["STARTTLS"])
        }
    }

    @Test func startTLSLearnsCapabilitiesOnlyOverTLS() async throws {
        try await HostileIMAPServer.run("normal") { server in
            let connection = try await IMAPConnection.connect(to: server.configuration(tls: .startTLS), logger: logger)
            defer { connection.close() }
            // The server lists STARTTLS only in plaintext: its absence shows the list came over TLS.
            #expect(!connection.capabilities.contains(.startTLS))
            #expect(connection.capabilities.contains(.authPlain))
            try await connection.login(HostileIMAPServer.credentials)
            try await connection.select(.inbox)
            #expect(try await connection.uidFetch([1, 2], [.flags]).count == 2)
            #expect(server.commandLog.map { $0.split(separator: " ").dropFirst().first ?? "" } == [
                "STARTTLS", "CAPABILITY", "LOGIN", "SELECT", "UID",
            ])
        }
    }

    @Test func missingPermanentFlagsMeansEveryFlagIsPermanent() async throws {
        try await HostileIMAPServer.run("no-permanentflags") { server in
            let connection = try await IMAPConnection.connect(to: server.configuration(), logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            let selected = try await connection.select(.inbox)
            // RFC 3501 §6.3.1: without PERMANENTFLAGS, assume all flags can be changed permanently.
            #expect(selected.allowsPermanent(.seen))
            #expect(selected.allowsPermanent(.deleted))
            #expect(selected.allowsPermanent(Flag("$Label1")))
        }
    }

    /// An explicit empty PERMANENTFLAGS still means what it says: nothing is permanent.
    @Test func emptyPermanentFlagsAllowNothing() async throws {
        try await HostileIMAPServer.run("normal") { server in
            let connection = try await IMAPConnection.connect(to: server.configuration(), logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            let selected = try await connection.select(.inbox)
            #expect(selected.permanentFlags.contains(.wildcard))
            var state = SelectedMailbox(name: .inbox, readOnly: false)
            state.apply(.status(.ok, ResponseText(code: .permanentFlags([]), text: "none")))
            #expect(!state.allowsPermanent(.seen))
        }
    }

    @Test func statusOfAnotherMailboxIsNotTaken() async throws {
        try await HostileIMAPServer.run("status-foreign") { server in
            let connection = try await IMAPConnection.connect(to: server.configuration(), logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            await #expect {
                try await connection.status(MailboxName("Dest"), [.messages, .uidNext])
            } throws: { error in
                guard case IMAPError.protocolViolation = error else { return false }
                return true
            }
        }
    }

    @Test func statusOfTheMailboxAskedAboutIsTaken() async throws {
        try await HostileIMAPServer.run("normal") { server in
            let connection = try await IMAPConnection.connect(to: server.configuration(), logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            let status = try await connection.status(MailboxName("Archive"), [.messages, .uidNext])
            #expect(status.mailbox == MailboxName("Archive"))
            #expect(status.messages == 3)
            #expect(try await connection.status(MailboxName("inbox"), [.messages]).messages == 10)
        }
    }

    @Test func fetchingTheFlagsOfOneHundredThousandMessagesWorks() async throws {
        try await HostileIMAPServer.run("normal", inboxSize: 100_000) { server in
            let connection = try await IMAPConnection.connect(to: server.configuration(), logger: logger)
            defer { connection.close() }
            try await connection.login(HostileIMAPServer.credentials)
            try await connection.select(.inbox)
            let messages = try await connection.uidFetch(UIDSet(ranges: [1...100_000]), [.flags])
            #expect(messages.count == 100_000)
        }
    }
}

/// The same rules without a server: the pipeline's bounds, and STARTTLS on an `EmbeddedChannel`.
@Suite struct HostileUpstreamUnitTests {
    private let parser = ResponseParser()

    private func response(_ line: String) throws -> Response { try parser.parse(Array((line + "\r\n").utf8)) }

    private func greeted(_ limits: CommandPipeline.Limits) throws -> CommandPipeline {
        var pipeline = CommandPipeline(limits: limits)
        _ = pipeline.receive(try response("* OK ready"))
        return pipeline
    }

    private func fatalError(_ actions: [CommandPipeline.Action]) -> IMAPError? {
        for case .fatal(let error) in actions { return error }
        return nil
    }

    @Test func aCommandCollectsAtMostTheResponseLimit() throws {
        var pipeline = try greeted(.init(maxResponses: 3, maxOctets: 1 << 20))
        let tag = pipeline.nextTag()
        _ = pipeline.enqueue(tag: tag, command: try CommandEncoder().encode(.noop, tag: tag), name: "NOOP")
        for _ in 0..<3 { #expect(pipeline.receive(try response("* OK more"), wireSize: 11).isEmpty) }
        let error = fatalError(pipeline.receive(try response("* OK more"), wireSize: 11))
        #expect(error == .untaggedLimitExceeded(command: "NOOP", limit: "more than 3 untagged responses"))
    }

    @Test func aCommandCollectsAtMostTheOctetLimit() throws {
        var pipeline = try greeted(.init(maxResponses: 100, maxOctets: 100))
        let tag = pipeline.nextTag()
        _ = pipeline.enqueue(tag: tag, command: try CommandEncoder().encode(.noop, tag: tag), name: "NOOP")
        #expect(pipeline.receive(try response("* OK more"), wireSize: 60).isEmpty)
        let error = fatalError(pipeline.receive(try response("* OK more"), wireSize: 60))
        #expect(error == .untaggedLimitExceeded(command: "NOOP", limit: "more than 100 octets of untagged responses"))
    }

    @Test func unsolicitedDataIsBoundedToo() throws {
        var pipeline = try greeted(.init(maxResponses: 2, maxOctets: 1 << 20))
        #expect(pipeline.receive(try response("* 1 EXISTS")).isEmpty)
        #expect(pipeline.receive(try response("* 2 EXISTS")).isEmpty)
        #expect(fatalError(pipeline.receive(try response("* 3 EXISTS"))) != nil)
    }

    /// The limits start afresh for each command.
    @Test func theLimitIsPerCommand() throws {
        var pipeline = try greeted(.init(maxResponses: 2, maxOctets: 1 << 20))
        for _ in 0..<3 {
            let tag = pipeline.nextTag()
            _ = pipeline.enqueue(tag: tag, command: try CommandEncoder().encode(.noop, tag: tag), name: "NOOP")
            #expect(pipeline.receive(try response("* 1 EXISTS")).isEmpty)
            #expect(pipeline.receive(try response("* 2 EXISTS")).isEmpty)
            let done = pipeline.receive(try response("\(tag) OK done"))
            #expect(fatalError(done) == nil)
        }
    }

    private func startTLSChannel() throws -> (EmbeddedChannel, EventLoopPromise<CommandResult>) {
        let channel = EmbeddedChannel()
        let greeting = channel.eventLoop.makePromise(of: UntaggedResponse.self)
        let upgrade = StartTLSUpgrade(
            context: try NIOSSLContext(configuration: .makeClientConfiguration()), serverHostname: "imap.example",
            boundary: PlaintextBoundary())
        try channel.pipeline.syncOperations.addHandler(
            ByteToMessageHandler(ResponseDecoder(limits: .init(), boundary: upgrade.boundary)))
        try channel.pipeline.syncOperations.addHandler(
            IMAPClientHandler(greeting: greeting, commandTimeout: .seconds(30), logger: Logger(label: "test"), startTLS: upgrade) {
                CommandEncoder()
            })
        try channel.connect(to: try SocketAddress(ipAddress: "127.0.0.1", port: 143)).wait()
        try channel.writeInbound(channel.allocator.buffer(string: "* OK [CAPABILITY IMAP4rev1 STARTTLS] hi\r\n"))
        let promise = channel.eventLoop.makePromise(of: CommandResult.self)
        try channel.writeOutbound(CommandRequest(command: .startTLS, promise: promise))
        var written = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(written.readString(length: written.readableBytes) == "A1 STARTTLS\r\n")
        return (channel, promise)
    }

    /// Plaintext after STARTTLS's OK, in the same read: a whole injected line, or part of one that
    /// would otherwise prefix the first response read over TLS.
    @Test(arguments: ["* CAPABILITY IMAP4rev1 AUTH=PLAIN X-INJECTED\r\n", "* CAPABILITY IMAP4rev1 X-INJ", "x"])
    func plaintextAfterStartTLSFailsTheConnection(_ injected: String) throws {
        let (channel, promise) = try startTLSChannel()
        try channel.writeInbound(channel.allocator.buffer(string: "A1 OK Begin TLS now\r\n" + injected))
        #expect {
            try promise.futureResult.wait()
        } throws: { error in
            guard case IMAPError.protocolViolation(let text) = error else { return false }
            return text.contains("\(injected.utf8.count) octets after STARTTLS's OK")
        }
        #expect(!channel.isActive)
        // No handshake was started with a server that injects.
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
    }

    @Test func startTLSSecuresTheChannelBeforeTheCommandCompletes() throws {
        let (channel, promise) = try startTLSChannel()
        try channel.writeInbound(channel.allocator.buffer(string: "A1 OK Begin TLS now\r\n"))
        #expect(try promise.futureResult.wait().completion.status == .ok)
        _ = try channel.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
        // The handshake started: a TLS handshake record (content type 22) went out.
        let hello = try #require(try channel.readOutbound(as: ByteBuffer.self))
        #expect(hello.getInteger(at: hello.readerIndex, as: UInt8.self) == 22)
        // Plaintext arriving later is read as TLS, and fails it.
        _ = try? channel.writeInbound(channel.allocator.buffer(string: "* CAPABILITY IMAP4rev1 X-INJECTED\r\n"))
        #expect(!channel.isActive)
    }

    @Test func startTLSIsRefusedWithoutATLSConfiguration() throws {
        let channel = EmbeddedChannel()
        let greeting = channel.eventLoop.makePromise(of: UntaggedResponse.self)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ResponseDecoder(limits: .init())))
        try channel.pipeline.syncOperations.addHandler(
            IMAPClientHandler(greeting: greeting, commandTimeout: .seconds(30), logger: Logger(label: "test")) { CommandEncoder() })
        try channel.writeInbound(channel.allocator.buffer(string: "* OK hi\r\n"))
        let promise = channel.eventLoop.makePromise(of: CommandResult.self)
        try channel.writeOutbound(CommandRequest(command: .startTLS, promise: promise))
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        #expect(throws: IMAPError.unsupported("STARTTLS on a connection configured without TLS")) { try promise.futureResult.wait() }
    }
}
