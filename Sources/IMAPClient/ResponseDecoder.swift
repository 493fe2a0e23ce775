import IMAPCore
import NIOCore

/// Frames the inbound byte stream into complete responses and parses each one.
struct ResponseDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = Response

    private var framer: ResponseFramer
    private let parser = ResponseParser()

    init(limits: ResponseFramer.Limits) { framer = ResponseFramer(limits: limits) }

    mutating func decode(buffer: inout ByteBuffer) throws -> Response? {
        guard let frame = try framer.nextFrame(from: &buffer) else { return nil }
        return try parser.parse(frame.readableBytesView)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> Response? {
        try decode(buffer: &buffer)
    }
}
