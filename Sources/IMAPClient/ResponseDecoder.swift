import IMAPCore
import NIOCore

/// One parsed response and the octets it took on the wire (CRLF and literals included).
struct ReceivedResponse: Hashable, Sendable {
    var response: Response
    var wireSize: Int
}

/// Where the plaintext part of a STARTTLS connection ends (RFC 3501 §6.2.1).
///
/// Shared by the ``ResponseDecoder`` and the ``IMAPClientHandler`` of one channel, and used only on
/// that channel's event loop: the handler names the STARTTLS tag when it writes the command, and the
/// decoder, on reading that tag's OK, discards every octet already received after it and records
/// how many there were. Those octets arrived in plaintext before the TLS handshake, so nothing may
/// believe them; a server that sends any breaks the protocol (it may be an injection attack).
final class PlaintextBoundary {
    /// The tag of the STARTTLS command in flight.
    var startTLSTag: String?
    /// Octets that followed STARTTLS's OK before the handshake, discarded unread.
    var discardedOctets = 0

    init() {}
}

/// Frames the inbound byte stream into complete responses and parses each one.
struct ResponseDecoder: NIOSingleStepByteToMessageDecoder {
    typealias InboundOut = ReceivedResponse

    private var framer: ResponseFramer
    private let parser = ResponseParser()
    private let boundary: PlaintextBoundary?

    init(limits: ResponseFramer.Limits, boundary: PlaintextBoundary? = nil) {
        framer = ResponseFramer(limits: limits)
        self.boundary = boundary
    }

    mutating func decode(buffer: inout ByteBuffer) throws -> ReceivedResponse? {
        guard let frame = try framer.nextFrame(from: &buffer) else { return nil }
        let response = try parser.parse(frame.readableBytesView)
        if let boundary, let tag = boundary.startTLSTag, case .tagged(let tagged) = response, tagged.tag == tag {
            boundary.startTLSTag = nil
            if tagged.status == .ok {
                // Everything after this OK was received before the handshake: drop it (RFC 3501 §6.2.1).
                boundary.discardedOctets += buffer.readableBytes
                buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                framer = ResponseFramer(limits: framer.limits)
            }
        }
        return ReceivedResponse(response: response, wireSize: frame.readableBytes)
    }

    mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ReceivedResponse? {
        try decode(buffer: &buffer)
    }
}
