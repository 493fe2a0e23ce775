import IMAPCore
import NIOCore
import Testing

@Suite("ResponseFramer")
struct ResponseFramerTests {
    // MARK: Every fixture, in every split

    @Test("frames whole input", arguments: ResponseFixtures.all + ResponseFixtures.large)
    func whole(_ fixture: ResponseFixture) throws {
        var framer = ResponseFramer()
        var buffer = ByteBuffer(bytes: fixture.wire)
        let frame = try framer.nextFrame(from: &buffer)
        #expect(frame.map { Array($0.readableBytesView) } == fixture.wire)
        #expect(buffer.readableBytes == 0)
        #expect(try framer.nextFrame(from: &buffer) == nil)
    }

    @Test("frames input fed byte by byte", arguments: ResponseFixtures.all)
    func byteByByte(_ fixture: ResponseFixture) throws {
        var framer = ResponseFramer()
        var buffer = ByteBuffer()
        for (i, byte) in fixture.wire.enumerated() {
            buffer.writeInteger(byte)
            let frame = try framer.nextFrame(from: &buffer)
            if i < fixture.wire.count - 1 {
                guard frame == nil, Array(buffer.readableBytesView) == Array(fixture.wire[...i]) else {
                    Issue.record("after \(i + 1) of \(fixture.wire.count) bytes: frame \(String(describing: frame)), buffer changed")
                    return
                }
            } else {
                #expect(frame.map { Array($0.readableBytesView) } == fixture.wire)
                #expect(buffer.readableBytes == 0)
            }
        }
    }

    @Test("frames input split in two at every point", arguments: ResponseFixtures.all)
    func everySplit(_ fixture: ResponseFixture) throws {
        for cut in 1..<fixture.wire.count {
            var framer = ResponseFramer()
            var buffer = ByteBuffer(bytes: fixture.wire[..<cut])
            let early = try framer.nextFrame(from: &buffer)
            guard early == nil, Array(buffer.readableBytesView) == Array(fixture.wire[..<cut]) else {
                Issue.record("split at \(cut): framed early or changed the buffer")
                return
            }
            buffer.writeBytes(fixture.wire[cut...])
            let frame = try framer.nextFrame(from: &buffer)
            guard frame.map({ Array($0.readableBytesView) }) == fixture.wire, buffer.readableBytes == 0 else {
                Issue.record("split at \(cut): wrong frame \(String(describing: frame))")
                return
            }
        }
    }

    @Test("framer then parser byte by byte gives the whole-input response", arguments: ResponseFixtures.all)
    func framerPlusParser(_ fixture: ResponseFixture) throws {
        var framer = ResponseFramer()
        let parser = ResponseParser()
        var buffer = ByteBuffer()
        var responses: [Response] = []
        for byte in fixture.wire {
            buffer.writeInteger(byte)
            if let frame = try framer.nextFrame(from: &buffer) {
                responses.append(try parser.parse(frame.readableBytesView))
            }
        }
        #expect(responses == [try parser.parse(fixture.wire)])
        #expect(responses == [fixture.expected])
    }

    // MARK: Streams of responses

    @Test func backToBackResponsesInOneBuffer() throws {
        let fixtures = ResponseFixtures.all
        var buffer = ByteBuffer(bytes: fixtures.flatMap(\.wire))
        var framer = ResponseFramer()
        var frames: [[UInt8]] = []
        while let frame = try framer.nextFrame(from: &buffer) { frames.append(Array(frame.readableBytesView)) }
        #expect(frames == fixtures.map(\.wire))
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: [1, 2, 3, 7, 64, 1000])
    func backToBackResponsesInChunks(chunkSize: Int) throws {
        let fixtures = ResponseFixtures.all
        let stream = fixtures.flatMap(\.wire)
        let parser = ResponseParser()
        var buffer = ByteBuffer()
        var framer = ResponseFramer()
        var responses: [Response] = []
        var offset = 0
        while offset < stream.count {
            let end = min(offset + chunkSize, stream.count)
            buffer.writeBytes(stream[offset..<end])
            offset = end
            while let frame = try framer.nextFrame(from: &buffer) {
                responses.append(try parser.parse(frame.readableBytesView))
            }
        }
        #expect(responses == fixtures.map(\.expected))
        #expect(buffer.readableBytes == 0)
    }

    @Test func literalContainingCRLFAndBraces() throws {
        // The literal's octets hold CRLF, `{5}` and a line ending in `{3}`: none of them may be read as framing.
        let body = "a\r\n{5}\r\nb {3}\r\n"
        let first = "* 1 FETCH (BODY[] " + literal(body) + " UID 9)\r\n"
        let second = "* 2 FETCH (BODY[] " + literal("{3}") + ")\r\n"
        let stream = Array((first + second + "a1 OK done\r\n").utf8)
        for chunkSize in [1, 5, stream.count] {
            var buffer = ByteBuffer()
            var framer = ResponseFramer()
            var frames: [String] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                buffer.writeBytes(stream[offset..<end])
                offset = end
                while let frame = try framer.nextFrame(from: &buffer) {
                    frames.append(String(decoding: frame.readableBytesView, as: UTF8.self))
                }
            }
            #expect(frames == [first, second, "a1 OK done\r\n"], "chunk size \(chunkSize)")
        }
        let parsed = try ResponseParser().parse(Array(first.utf8))
        #expect(parsed == fetch(1, .bodySection(section: "", origin: nil, data: Array(body.utf8)), .uid(9)))
    }

    @Test func severalLiteralsInOneResponse() throws {
        let text = "* 3 FETCH (ENVELOPE (" + literal("date") + " " + literal("subj\r\n") + " NIL NIL NIL NIL NIL NIL "
            + literal("") + " NIL))\r\n"
        let wire = Array(text.utf8)
        for cut in 1..<wire.count {
            var framer = ResponseFramer()
            var buffer = ByteBuffer(bytes: wire[..<cut])
            #expect(try framer.nextFrame(from: &buffer) == nil)
            buffer.writeBytes(wire[cut...])
            #expect(try framer.nextFrame(from: &buffer).map { Array($0.readableBytesView) } == wire)
        }
        let parsed = try ResponseParser().parse(wire)
        #expect(parsed == fetch(3, .envelope(Envelope(date: "date", subject: "subj\r\n", inReplyTo: ""))))
    }

    @Test(arguments: ["{5+}", "~{5}"])
    func literalVariants(announcement: String) throws {
        let wire = Array("* 1 FETCH (BINARY[1] \(announcement)\r\nab\r\nc)\r\n".utf8)
        var framer = ResponseFramer()
        var buffer = ByteBuffer(bytes: wire.dropLast(5))
        #expect(try framer.nextFrame(from: &buffer) == nil)
        buffer.writeBytes(wire.suffix(5))
        #expect(try framer.nextFrame(from: &buffer).map { Array($0.readableBytesView) } == wire)
    }

    @Test func bracesInTheMiddleOfALineAreNotALiteral() throws {
        var framer = ResponseFramer()
        var buffer = ByteBuffer(string: "* OK {5} is not a literal here\r\n* 1 EXISTS\r\n")
        #expect(try framer.nextFrame(from: &buffer).map { String(buffer: $0) } == "* OK {5} is not a literal here\r\n")
        #expect(try framer.nextFrame(from: &buffer).map { String(buffer: $0) } == "* 1 EXISTS\r\n")
    }

    @Test func emptyBufferNeedsMore() throws {
        var framer = ResponseFramer()
        var buffer = ByteBuffer()
        #expect(try framer.nextFrame(from: &buffer) == nil)
    }

    // MARK: Limits

    @Test func lineTooLongWithLineEnding() {
        var framer = ResponseFramer(limits: .init(maxLineLength: 16))
        var buffer = ByteBuffer(string: "* SEARCH 1 2 3 4 5 6 7 8 9\r\n")
        #expect(throws: IMAPParseError.self) { try framer.nextFrame(from: &buffer) }
    }

    @Test func lineTooLongBeforeItsEndArrives() throws {
        var framer = ResponseFramer(limits: .init(maxLineLength: 16))
        var buffer = ByteBuffer(string: "* SEARCH 1 2")
        #expect(try framer.nextFrame(from: &buffer) == nil)
        buffer.writeString(" 3 4 5 6 7 8 9")
        #expect(throws: IMAPParseError.self) { try framer.nextFrame(from: &buffer) }
    }

    @Test func lineAtTheLimitIsAccepted() throws {
        var framer = ResponseFramer(limits: .init(maxLineLength: 16))
        var buffer = ByteBuffer(string: "* SEARCH 1 2 34\r\n")  // 16 octets before LF
        #expect(try framer.nextFrame(from: &buffer) != nil)
    }

    @Test func lineAfterALiteralHasItsOwnLimit() throws {
        var framer = ResponseFramer(limits: .init(maxLineLength: 24))
        var buffer = ByteBuffer(string: "* 1 FETCH (BODY[] {3}\r\nabc UID 1 FLAGS (\\Seen \\Deleted))\r\n")
        #expect(throws: IMAPParseError.self) { try framer.nextFrame(from: &buffer) }
    }

    @Test func literalTooBig() {
        var framer = ResponseFramer(limits: .init(maxLiteralSize: 4))
        var buffer = ByteBuffer(string: "* LIST () \"/\" {5}\r\n")
        #expect(throws: IMAPParseError.self) { try framer.nextFrame(from: &buffer) }
    }

    @Test func literalAtTheLimitIsAccepted() throws {
        var framer = ResponseFramer(limits: .init(maxLiteralSize: 5))
        var buffer = ByteBuffer(string: "* LIST () \"/\" {5}\r\nabcde\r\n")
        #expect(try framer.nextFrame(from: &buffer) != nil)
    }

    @Test func literalLengthWithTooManyDigits() {
        var framer = ResponseFramer()
        var buffer = ByteBuffer(string: "* LIST () \"/\" {1234567890123}\r\n")
        #expect(throws: IMAPParseError.self) { try framer.nextFrame(from: &buffer) }
    }

    @Test func responseTooBig() {
        var framer = ResponseFramer(limits: .init(maxLiteralSize: 100, maxResponseSize: 150))
        var buffer = ByteBuffer(string: "* 1 FETCH (BODY[1] {100}\r\n" + String(repeating: "x", count: 100) + " BODY[2] {100}\r\n")
        #expect(throws: IMAPParseError.self) { try framer.nextFrame(from: &buffer) }
    }

    // MARK: Performance sanity (no timing assertions)

    @Test func hugeSortLineInSmallChunks() throws {
        let count = 100_000
        var line = "* SORT"
        for n in 1...count { line += " \(n)" }
        line += "\r\n"
        let wire = Array(line.utf8)
        var framer = ResponseFramer()
        var buffer = ByteBuffer()
        var frames: [ByteBuffer] = []
        var offset = 0
        while offset < wire.count {
            let end = min(offset + 1024, wire.count)
            buffer.writeBytes(wire[offset..<end])
            offset = end
            if let frame = try framer.nextFrame(from: &buffer) { frames.append(frame) }
        }
        #expect(frames.count == 1)
        let frame = try #require(frames.first)
        #expect(frame.readableBytes == wire.count)
        guard case .untagged(.sort(let numbers, nil)) = try ResponseParser().parse(frame.readableBytesView) else {
            Issue.record("not a SORT")
            return
        }
        #expect(numbers.count == count)
        #expect(numbers == Array(1...UInt32(count)))
    }

    @Test func hugeLiteralInSmallChunks() throws {
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 4 << 20)
        let wire = Array("* 1 FETCH (BODY[] {\(body.count)}\r\n".utf8) + body + Array(")\r\n".utf8)
        var framer = ResponseFramer()
        var buffer = ByteBuffer()
        var frames = 0
        var offset = 0
        while offset < wire.count {
            let end = min(offset + 1024, wire.count)
            buffer.writeBytes(wire[offset..<end])
            offset = end
            if let frame = try framer.nextFrame(from: &buffer) {
                frames += 1
                #expect(frame.readableBytes == wire.count)
            }
        }
        #expect(frames == 1)
    }
}
