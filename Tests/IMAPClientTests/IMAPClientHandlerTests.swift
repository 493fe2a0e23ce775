import IMAPCore
import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import IMAPClient

/// The decoder and handler on an `EmbeddedChannel`: inbound bytes in, outbound command strings out.
@Suite struct IMAPClientHandlerTests {
    private func makeChannel() throws -> (EmbeddedChannel, EventLoopFuture<UntaggedResponse>) {
        let channel = EmbeddedChannel()
        let greeting = channel.eventLoop.makePromise(of: UntaggedResponse.self)
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ResponseDecoder(limits: .init())))
        try channel.pipeline.syncOperations.addHandler(
            IMAPClientHandler(greeting: greeting, commandTimeout: .seconds(30), logger: Logger(label: "test")) {
                CommandEncoder()
            })
        return (channel, greeting.futureResult)
    }

    private func outbound(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += buffer.readString(length: buffer.readableBytes) ?? ""
        }
        return text
    }

    private func send(_ channel: EmbeddedChannel, _ text: String, byteByByte: Bool = false) throws {
        if byteByByte {
            for byte in Array(text.utf8) { try channel.writeInbound(channel.allocator.buffer(bytes: [byte])) }
        } else {
            try channel.writeInbound(channel.allocator.buffer(string: text))
        }
    }

    @Test(arguments: [false, true])
    func fetchWithLiteralCompletesTheCommand(byteByByte: Bool) throws {
        let (channel, greeting) = try makeChannel()
        try send(channel, "* OK [CAPABILITY IMAP4rev1 LITERAL+] hi\r\n", byteByByte: byteByByte)
        #expect(try greeting.wait() == .status(.ok, ResponseText(code: .capability([.imap4rev1, .literalPlus]), text: "hi")))

        let promise = channel.eventLoop.makePromise(of: CommandResult.self)
        try channel.writeOutbound(CommandRequest(command: .uidFetch([7], [.uid, .headerFields(["X-Priority"])], changedSince: nil), promise: promise))
        #expect(try outbound(channel) == "A1 UID FETCH 7 (UID BODY.PEEK[HEADER.FIELDS (X-Priority)])\r\n")

        let header = "X-Priority: 1\r\n\r\n"
        try send(
            channel,
            "* 3 FETCH (UID 7 BODY[HEADER.FIELDS (X-PRIORITY)] {\(header.utf8.count)}\r\n\(header))\r\nA1 OK Fetch completed.\r\n",
            byteByByte: byteByByte)
        let result = try promise.futureResult.wait()
        #expect(result.completion.status == .ok)
        #expect(
            result.untagged == [
                .fetch(sequenceNumber: 3, attributes: [
                    .uid(7), .bodySection(section: "HEADER.FIELDS (X-PRIORITY)", origin: nil, data: Array(header.utf8)),
                ])
            ])
    }

    @Test func closingFailsPendingCommands() throws {
        let (channel, _) = try makeChannel()
        try send(channel, "* OK hi\r\n")
        let promise = channel.eventLoop.makePromise(of: CommandResult.self)
        try channel.writeOutbound(CommandRequest(command: .noop, promise: promise))
        try channel.close().wait()
        #expect(throws: IMAPError.self) { try promise.futureResult.wait() }
    }

    @Test func malformedResponseFailsPendingCommandsAndCloses() throws {
        let (channel, _) = try makeChannel()
        try send(channel, "* OK hi\r\n")
        let promise = channel.eventLoop.makePromise(of: CommandResult.self)
        try channel.writeOutbound(CommandRequest(command: .noop, promise: promise))
        _ = try? send(channel, "A1 MAYBE\r\n")
        #expect(throws: IMAPError.self) { try promise.futureResult.wait() }
        #expect(!channel.isActive)
    }

    @Test func injectionIsRefusedBeforeAnythingIsWritten() throws {
        let (channel, _) = try makeChannel()
        try send(channel, "* OK hi\r\n")
        let promise = channel.eventLoop.makePromise(of: CommandResult.self)
        try channel.writeOutbound(CommandRequest(command: .select(MailboxName(wire: Array("INBOX\r\nA2 DELETE INBOX".utf8)), condStore: false), promise: promise))
        #expect(try outbound(channel) == "")
        #expect(throws: IMAPError.invalidCommand(.forbiddenCharacter(field: "mailbox name"))) { try promise.futureResult.wait() }
    }
}
