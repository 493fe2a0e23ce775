import IMAPCore
import Testing

@testable import IMAPClient

@Suite struct CommandPipelineTests {
    private let parser = ResponseParser()

    private func response(_ line: String) throws -> Response { try parser.parse(Array((line + "\r\n").utf8)) }

    private func encode(_ command: Command, tag: String, literalPlus: Bool = false) throws -> EncodedCommand {
        try CommandEncoder(useLiteralPlus: literalPlus).encode(command, tag: tag)
    }

    private func written(_ actions: [CommandPipeline.Action]) -> String {
        actions.compactMap { action -> String? in
            if case .write(let bytes) = action { return String(decoding: bytes, as: UTF8.self) }
            return nil
        }.joined()
    }

    private func greeted() throws -> CommandPipeline {
        var pipeline = CommandPipeline()
        let actions = pipeline.receive(try response("* OK [CAPABILITY IMAP4rev1] ready"))
        guard case .greeting = actions.first else {
            Issue.record("no greeting action")
            return pipeline
        }
        return pipeline
    }

    @Test func pipelinesCommandsAndRoutesUntaggedToTheOldest() throws {
        var pipeline = try greeted()
        let t1 = pipeline.nextTag()
        let t2 = pipeline.nextTag()
        #expect(written(pipeline.enqueue(tag: t1, command: try encode(.noop, tag: t1))) == "A1 NOOP\r\n")
        #expect(written(pipeline.enqueue(tag: t2, command: try encode(.capability, tag: t2))) == "A2 CAPABILITY\r\n")
        #expect(pipeline.receive(try response("* 3 EXISTS")).isEmpty)
        let done1 = pipeline.receive(try response("A1 OK done"))
        guard case .complete(let tag, let result) = done1.first else {
            Issue.record("A1 not completed")
            return
        }
        #expect(tag == "A1")
        #expect(result.untagged == [.exists(3)])
        _ = pipeline.receive(try response("* CAPABILITY IMAP4rev1 MOVE"))
        let done2 = pipeline.receive(try response("A2 NO nope"))
        guard case .complete(_, let result2) = done2.first else {
            Issue.record("A2 not completed")
            return
        }
        #expect(result2.untagged == [.capability([Capability("IMAP4rev1"), .move])])
        #expect(result2.completion.status == .no)
    }

    @Test func synchronisingLiteralHoldsTheQueueUntilContinuation() throws {
        var pipeline = try greeted()
        let t1 = pipeline.nextTag()
        let login = try encode(.login(username: "ü", password: "x"), tag: t1)
        #expect(written(pipeline.enqueue(tag: t1, command: login)) == "A1 LOGIN {2}\r\n")
        let t2 = pipeline.nextTag()
        // The next command must not be interleaved with the pending literal.
        #expect(written(pipeline.enqueue(tag: t2, command: try encode(.noop, tag: t2))) == "")
        #expect(written(pipeline.receive(try response("+ go ahead"))) == "ü \"x\"\r\nA2 NOOP\r\n")
    }

    @Test func refusedLiteralDropsTheRestOfTheCommand() throws {
        var pipeline = try greeted()
        let t1 = pipeline.nextTag()
        _ = pipeline.enqueue(tag: t1, command: try encode(.login(username: "ü", password: "x"), tag: t1))
        let t2 = pipeline.nextTag()
        _ = pipeline.enqueue(tag: t2, command: try encode(.noop, tag: t2))
        let actions = pipeline.receive(try response("A1 NO too long"))
        #expect(actions.count == 2)
        #expect(written(actions) == "A2 NOOP\r\n")
    }

    @Test func literalPlusNeedsNoContinuation() throws {
        var pipeline = try greeted()
        let t1 = pipeline.nextTag()
        let text = written(pipeline.enqueue(tag: t1, command: try encode(.login(username: "ü", password: "x"), tag: t1, literalPlus: true)))
        #expect(text == "A1 LOGIN {2+}\r\nü \"x\"\r\n")
    }

    @Test func saslWithoutInitialResponseWaitsForChallenge() throws {
        var pipeline = try greeted()
        let t1 = pipeline.nextTag()
        let command = try encode(
            .authenticatePlain(authorizationIdentity: nil, username: "a", password: "b", initialResponse: false), tag: t1)
        #expect(written(pipeline.enqueue(tag: t1, command: command)) == "A1 AUTHENTICATE PLAIN\r\n")
        #expect(written(pipeline.receive(try response("+ "))) == "AGEAYg==\r\n")
    }

    @Test func unsolicitedDataGoesToTheNextCompletion() throws {
        var pipeline = try greeted()
        _ = pipeline.receive(try response("* 5 EXISTS"))
        let t1 = pipeline.nextTag()
        _ = pipeline.enqueue(tag: t1, command: try encode(.noop, tag: t1))
        guard case .complete(_, let result) = pipeline.receive(try response("A1 OK")).first else {
            Issue.record("not completed")
            return
        }
        #expect(result.untagged == [.exists(5)])
    }

    @Test(arguments: ["A9 OK who?", "+ unexpected"])
    func protocolViolationsAreFatal(_ line: String) throws {
        var pipeline = try greeted()
        let actions = pipeline.receive(try response(line))
        guard case .fatal = actions.first else {
            Issue.record("expected fatal, got \(actions)")
            return
        }
    }

    @Test func firstResponseMustBeAGreeting() throws {
        var pipeline = CommandPipeline()
        guard case .fatal = pipeline.receive(try response("A1 OK hi")).first else {
            Issue.record("expected fatal")
            return
        }
    }
}
