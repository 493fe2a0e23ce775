import DequeModule
import IMAPCore

/// What a completed command produced: the untagged responses that arrived for it, and its completion.
public struct CommandResult: Hashable, Sendable {
    public var untagged: [UntaggedResponse]
    public var completion: TaggedResponse

    public init(untagged: [UntaggedResponse], completion: TaggedResponse) {
        self.untagged = untagged
        self.completion = completion
    }
}

/// The client side of the IMAP conversation as a value-type state machine: tags, the write queue
/// with synchronising literals, and routing of responses to commands. It performs no I/O; it
/// returns actions that ``IMAPClientHandler`` carries out, so it can be tested without a channel.
///
/// Commands are pipelined: each is written as soon as the ones before it are fully written.
/// A part that waits for a continuation (`{n}` literal, SASL) holds the queue until the server's `+`.
/// Untagged responses belong to the oldest command in flight (servers answer in order); those that
/// arrive while nothing is in flight are kept and handed to the next command that completes.
struct CommandPipeline {
    enum Action: Equatable {
        /// Write these octets (and flush).
        case write([UInt8])
        /// A command completed (OK, NO or BAD: the caller decides what NO means).
        case complete(tag: String, CommandResult)
        /// The greeting arrived.
        case greeting(UntaggedResponse)
        /// The conversation cannot continue: fail everything and close.
        case fatal(IMAPError)
    }

    private struct Pending {
        var tag: String
        var parts: [EncodedCommand.Part]
        var nextPart = 0
        var untagged: [UntaggedResponse] = []
    }

    private var counter = 0
    private var greeted = false
    /// Commands in the order they were queued; those at the front have started writing.
    private var pending: [String: Pending] = [:]
    /// Tags not yet fully written, in order.
    private var writeQueue: Deque<String> = []
    /// Tags at least partly written and not yet completed, in order.
    private var inFlight: Deque<String> = []
    private var awaitingContinuation: String?
    private var unsolicited: [UntaggedResponse] = []
    private var closed = false

    /// A fresh tag: `A1`, `A2`, …
    mutating func nextTag() -> String {
        counter += 1
        return "A\(counter)"
    }

    /// Queues an encoded command under `tag`; returns the writes that can go out now.
    mutating func enqueue(tag: String, command: EncodedCommand) -> [Action] {
        pending[tag] = Pending(tag: tag, parts: command.parts)
        writeQueue.append(tag)
        return pump()
    }

    /// Feeds one response from the server.
    mutating func receive(_ response: Response) -> [Action] {
        guard !closed else { return [] }
        if !greeted {
            greeted = true
            guard case .untagged(let greeting) = response, case .status(let status, _) = greeting,
                status == .ok || status == .preauth || status == .bye
            else {
                return [.fatal(.protocolViolation("expected a greeting, got \(response)"))]
            }
            return [.greeting(greeting)]
        }
        switch response {
        case .continuation:
            guard awaitingContinuation != nil else {
                return [.fatal(.protocolViolation("unexpected continuation request"))]
            }
            awaitingContinuation = nil
            return pump()
        case .untagged(let untagged):
            if let oldest = inFlight.first {
                pending[oldest]?.untagged.append(untagged)
            } else {
                unsolicited.append(untagged)
            }
            return []
        case .tagged(let tagged):
            guard var command = pending.removeValue(forKey: tagged.tag) else {
                return [.fatal(.protocolViolation("response for unknown tag \(tagged.tag)"))]
            }
            if let index = inFlight.firstIndex(of: tagged.tag) { inFlight.remove(at: index) }
            var actions: [Action] = []
            if awaitingContinuation == tagged.tag || writeQueue.contains(tagged.tag) {
                // Completed before it was fully sent (e.g. NO instead of `+` for a literal): drop the rest.
                if awaitingContinuation == tagged.tag { awaitingContinuation = nil }
                if let index = writeQueue.firstIndex(of: tagged.tag) { writeQueue.remove(at: index) }
            }
            if !unsolicited.isEmpty {
                command.untagged = unsolicited + command.untagged
                unsolicited = []
            }
            actions.append(.complete(tag: tagged.tag, CommandResult(untagged: command.untagged, completion: tagged)))
            actions.append(contentsOf: pump())
            return actions
        }
    }

    /// The connection is gone: nothing more will be written or received.
    mutating func close() -> [String] {
        closed = true
        let tags = Array(pending.keys)
        pending = [:]
        writeQueue = []
        inFlight = []
        awaitingContinuation = nil
        return tags
    }

    /// Writes as much of the queue as possible without waiting for a continuation.
    private mutating func pump() -> [Action] {
        var bytes: [UInt8] = []
        while awaitingContinuation == nil, let tag = writeQueue.first, var command = pending[tag] {
            if command.nextPart == 0 { inFlight.append(tag) }
            let part = command.parts[command.nextPart]
            bytes.append(contentsOf: part.bytes)
            command.nextPart += 1
            pending[tag] = command
            if command.nextPart == command.parts.count {
                writeQueue.removeFirst()
            } else if part.waitsForContinuation {
                awaitingContinuation = tag
            }
        }
        return bytes.isEmpty ? [] : [.write(bytes)]
    }
}
