import NIOCore

/// Cuts a byte stream into complete responses: one line, plus the octets of every `{n}` literal
/// it announces and the line continuing after it. Incremental: it remembers how far it scanned,
/// so feeding a response byte by byte costs linear time, and it leaves the buffer untouched until
/// a frame is complete.
public struct ResponseFramer: Sendable {
    /// Bounds that protect the client from a runaway server.
    public struct Limits: Sendable, Hashable {
        /// Longest line (without literal octets), e.g. a `* SORT` answer for a large mailbox.
        public var maxLineLength: Int
        /// Largest single literal.
        public var maxLiteralSize: Int
        /// Largest complete response, literals included.
        public var maxResponseSize: Int

        public init(maxLineLength: Int = 32 << 20, maxLiteralSize: Int = 64 << 20, maxResponseSize: Int = 256 << 20) {
            self.maxLineLength = maxLineLength
            self.maxLiteralSize = maxLiteralSize
            self.maxResponseSize = maxResponseSize
        }
    }

    private enum State: Sendable {
        case line(start: Int)
        case literal(remaining: Int)
    }

    public var limits: Limits
    private var state: State = .line(start: 0)
    /// Offset from the buffer's reader index up to which bytes have been examined.
    private var scanned = 0

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// Returns the next complete response (CRLF included) and consumes it from `buffer`,
    /// or nil when more bytes are needed (the buffer is then left as it was).
    public mutating func nextFrame(from buffer: inout ByteBuffer) throws(IMAPParseError) -> ByteBuffer? {
        while true {
            let readable = buffer.readableBytes
            switch state {
            case .literal(let remaining):
                let available = readable - scanned
                if available < remaining {
                    scanned = readable
                    state = .literal(remaining: remaining - available)
                    return nil
                }
                scanned += remaining
                state = .line(start: scanned)
            case .line(let start):
                let view = buffer.readableBytesView
                let base = view.startIndex
                guard let newline = view[(base + scanned)...].firstIndex(of: UInt8(ascii: "\n")) else {
                    scanned = readable
                    if scanned - start > limits.maxLineLength {
                        throw IMAPParseError("response line longer than \(limits.maxLineLength) octets")
                    }
                    return nil
                }
                let lineEnd = newline - base  // offset of "\n"
                if lineEnd - start > limits.maxLineLength {
                    throw IMAPParseError("response line longer than \(limits.maxLineLength) octets")
                }
                if let literal = try Self.literalLength(view, lineStart: base + start, newline: newline) {
                    if literal > limits.maxLiteralSize {
                        throw IMAPParseError("literal of \(literal) octets exceeds \(limits.maxLiteralSize)")
                    }
                    scanned = lineEnd + 1
                    if scanned + literal > limits.maxResponseSize {
                        throw IMAPParseError("response larger than \(limits.maxResponseSize) octets")
                    }
                    state = .literal(remaining: literal)
                    continue
                }
                let frame = buffer.readSlice(length: lineEnd + 1)!
                state = .line(start: 0)
                scanned = 0
                return frame
            }
        }
    }

    /// Digits a literal length may have: enough for any size the limits allow, few enough never to overflow.
    private static let maxLiteralDigits = 12

    /// If the line ends in `{n}` (or `{n+}`, `~{n}`) before its CRLF, the literal's length.
    private static func literalLength(
        _ view: ByteBufferView, lineStart: Int, newline: Int
    ) throws(IMAPParseError) -> Int? {
        var end = newline
        if end > lineStart, view[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        guard end > lineStart, view[end - 1] == UInt8(ascii: "}") else { return nil }
        var i = end - 2
        if i >= lineStart, view[i] == UInt8(ascii: "+") { i -= 1 }
        var value = 0
        var multiplier = 1
        var digits = 0
        while i >= lineStart, let d = Self.digit(view[i]) {
            digits += 1
            if digits <= maxLiteralDigits {
                value += d * multiplier
                multiplier *= 10
            }
            i -= 1
        }
        guard digits > 0, i >= lineStart, view[i] == UInt8(ascii: "{") else { return nil }
        // Only now is it a literal: a line that merely ends in a long number and `}` is text.
        guard digits <= maxLiteralDigits else { throw IMAPParseError("literal length too long") }
        return value
    }

    private static func digit(_ c: UInt8) -> Int? {
        c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") ? Int(c - UInt8(ascii: "0")) : nil
    }
}

/// A response (or a frame) that does not follow the IMAP grammar, with where and what.
public struct IMAPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    /// A short excerpt of the offending input, when known.
    public var excerpt: String?

    public init(_ message: String, excerpt: String? = nil) {
        self.message = message
        self.excerpt = excerpt
    }

    public var description: String {
        if let excerpt { return "\(message) near \"\(excerpt)\"" }
        return message
    }
}
