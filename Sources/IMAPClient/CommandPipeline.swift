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
///
/// The untagged data kept for one command, and kept while nothing is in flight, is bounded by
/// ``Limits`` (SPEC §4): past them the conversation fails with
/// ``IMAPError/untaggedLimitExceeded(command:limit:)`` rather than growing without end.
struct CommandPipeline {
    /// Bounds on the untagged responses collected for one command (or while nothing is in flight).
    struct Limits: Hashable, Sendable {
        /// Most untagged responses kept for one command.
        var maxResponses: Int
        /// Most octets (as received, literals included) of the untagged responses kept for one command.
        var maxOctets: Int

        init(
            maxResponses: Int = IMAPServerConfiguration.defaultMaxUntaggedResponsesPerCommand,
            maxOctets: Int = IMAPServerConfiguration.defaultMaxUntaggedOctetsPerCommand
        ) {
            self.maxResponses = maxResponses
            self.maxOctets = maxOctets
        }
    }

    enum Action: Equatable {
        /// Write these octets (and flush).
        case write([UInt8])
        /// STARTTLS succeeded: secure the connection before anything else is read or written.
        case startTLS
        /// A command completed (OK, NO or BAD: the caller decides what NO means).
        case complete(tag: String, CommandResult)
        /// The greeting arrived.
        case greeting(UntaggedResponse)
        /// The conversation cannot continue: fail everything and close.
        case fatal(IMAPError)
    }

    private struct Pending {
        var tag: String
        var name: String
        var startsTLS: Bool
        var parts: [EncodedCommand.Part]
        var nextPart = 0
        var untagged: [UntaggedResponse] = []
        var untaggedOctets = 0
    }

    let limits: Limits
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
    private var unsolicitedOctets = 0
    private var closed = false

    init(limits: Limits = Limits()) { self.limits = limits }

    /// A fresh tag: `A1`, `A2`, …
    mutating func nextTag() -> String {
        counter += 1
        return "A\(counter)"
    }

    /// Queues an encoded command under `tag`; returns the writes that can go out now.
    /// - Parameters:
    ///   - name: the command's name, for errors.
    ///   - startsTLS: whether it is STARTTLS, whose OK is followed by ``Action/startTLS``.
    mutating func enqueue(tag: String, command: EncodedCommand, name: String = "command", startsTLS: Bool = false) -> [Action] {
        pending[tag] = Pending(tag: tag, name: name, startsTLS: startsTLS, parts: command.parts)
        writeQueue.append(tag)
        return pump()
    }

    /// Feeds one response from the server; `wireSize` is the octets it took on the wire.
    mutating func receive(_ response: Response, wireSize: Int = 0) -> [Action] {
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
            if let oldest = inFlight.first, pending[oldest] != nil {
                // Mutated in place through the dictionary: a copy would make each append O(n).
                pending[oldest]!.untagged.append(untagged)
                pending[oldest]!.untaggedOctets += wireSize
                let command = pending[oldest]!
                if let exceeded = exceededLimit(count: command.untagged.count, octets: command.untaggedOctets) {
                    return [.fatal(.untaggedLimitExceeded(command: command.name, limit: exceeded))]
                }
            } else {
                unsolicited.append(untagged)
                unsolicitedOctets += wireSize
                if let exceeded = exceededLimit(count: unsolicited.count, octets: unsolicitedOctets) {
                    return [.fatal(.untaggedLimitExceeded(command: "(none in flight)", limit: exceeded))]
                }
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
            if command.startsTLS && tagged.status == .ok {
                // Nothing received in plaintext may reach an answer given over TLS (RFC 3501 §6.2.1).
                unsolicited = []
                unsolicitedOctets = 0
                actions.append(.startTLS)
            } else if !unsolicited.isEmpty {
                command.untagged = unsolicited + command.untagged
                unsolicited = []
                unsolicitedOctets = 0
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

    /// Which limit `count` responses of `octets` in all exceed, if any.
    private func exceededLimit(count: Int, octets: Int) -> String? {
        if count > limits.maxResponses { return "more than \(limits.maxResponses) untagged responses" }
        if octets > limits.maxOctets { return "more than \(limits.maxOctets) octets of untagged responses" }
        return nil
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
