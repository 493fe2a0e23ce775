import IMAPCore
import Logging
import NIOCore
import NIOSSL

/// A command handed to the channel, with the promise its result completes.
struct CommandRequest: Sendable {
    var command: Command
    var promise: EventLoopPromise<CommandResult>
}

/// What the handler needs to secure the connection when STARTTLS succeeds.
struct StartTLSUpgrade {
    var context: NIOSSLContext
    /// Checked against the certificate and sent as SNI; nil for an IP address.
    var serverHostname: String?
    /// Shared with the channel's ``ResponseDecoder``, which discards what follows STARTTLS's OK.
    var boundary: PlaintextBoundary
}

/// The channel handler between the response decoder and the connection: assigns tags, encodes
/// commands, writes them as ``CommandPipeline`` allows, and completes each command's promise.
/// Runs on the channel's event loop only.
///
/// STARTTLS: when its OK arrives the handler adds the TLS handler in front of the pipeline at once,
/// before the command's promise completes, so no later plaintext is ever read as a response. Octets
/// the server sent after the OK, before the handshake, are discarded by the decoder; any at all fail
/// the connection as a protocol violation (RFC 3501 §6.2.1: they may be an injection).
final class IMAPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = ReceivedResponse
    typealias OutboundIn = CommandRequest
    typealias OutboundOut = ByteBuffer

    private var pipeline: CommandPipeline
    private let startTLS: StartTLSUpgrade?
    private var promises: [String: (name: String, promise: EventLoopPromise<CommandResult>, timer: Scheduled<Void>)] = [:]
    private let greeting: EventLoopPromise<UntaggedResponse>
    private var greetingPending = true
    private let encoder: @Sendable () -> CommandEncoder
    private let onFailure: @Sendable (IMAPError) -> Void
    private let commandTimeout: TimeAmount
    private let logger: Logger
    private var failure: IMAPError?

    /// - Parameters:
    ///   - onFailure: told the first reason the connection failed (TLS, protocol, timeout, close), so
    ///     commands issued after the channel closed can report it rather than a bare "closed channel".
    ///   - untaggedLimits: how much untagged data one command may collect.
    ///   - startTLS: how to secure the connection after STARTTLS; without it, STARTTLS is refused.
    ///   - encoder: read at each command, so LITERAL+ can be used once the server announces it.
    init(
        greeting: EventLoopPromise<UntaggedResponse>, commandTimeout: TimeAmount, logger: Logger,
        untaggedLimits: CommandPipeline.Limits = .init(), startTLS: StartTLSUpgrade? = nil,
        onFailure: @escaping @Sendable (IMAPError) -> Void = { _ in },
        encoder: @escaping @Sendable () -> CommandEncoder
    ) {
        self.pipeline = CommandPipeline(limits: untaggedLimits)
        self.startTLS = startTLS
        self.greeting = greeting
        self.commandTimeout = commandTimeout
        self.logger = logger
        self.onFailure = onFailure
        self.encoder = encoder
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        promise?.succeed()
        if let failure {
            request.promise.fail(failure)
            return
        }
        let startsTLS: Bool
        if case .startTLS = request.command {
            guard startTLS != nil else {
                request.promise.fail(IMAPError.unsupported("STARTTLS on a connection configured without TLS"))
                return
            }
            startsTLS = true
        } else {
            startsTLS = false
        }
        let tag = pipeline.nextTag()
        let encoded: EncodedCommand
        do {
            encoded = try encoder().encode(request.command, tag: tag)
        } catch {
            request.promise.fail(IMAPError.invalidCommand(error))
            return
        }
        let name = request.command.name
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: commandTimeout) { [weak self] () -> Void in
            self?.timedOut(context: context, tag: tag, name: name)
        }
        promises[tag] = (name, request.promise, timer)
        if startsTLS { startTLS?.boundary.startTLSTag = tag }
        perform(pipeline.enqueue(tag: tag, command: encoded, name: name, startsTLS: startsTLS), context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let received = unwrapInboundIn(data)
        perform(pipeline.receive(received.response, wireSize: received.wireSize), context: context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let imapError: IMAPError
        switch error {
        case let e as IMAPError: imapError = e
        case let e as IMAPParseError: imapError = .protocolViolation(e.description)
        case let e as ByteToMessageDecoderError: imapError = .protocolViolation("\(e)")
        case let e as NIOSSLError: imapError = .tls("\(e)")
        case let e as BoringSSLError: imapError = .tls("\(e)")
        default: imapError = .connectionClosed(reason: "\(error)")
        }
        failAll(imapError, context: context)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionClosed(reason: "the server closed the connection"), context: context)
        context.fireChannelInactive()
    }

    private func perform(_ actions: [CommandPipeline.Action], context: ChannelHandlerContext) {
        for action in actions {
            // After a failure nothing more is written or completed: every promise has failed.
            guard failure == nil else { return }
            switch action {
            case .write(let bytes):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            case .complete(let tag, let result):
                guard let entry = promises.removeValue(forKey: tag) else { continue }
                entry.timer.cancel()
                entry.promise.succeed(result)
            case .startTLS:
                secure(context: context)
            case .greeting(let response):
                greetingPending = false
                greeting.succeed(response)
            case .fatal(let error):
                failAll(error, context: context)
                context.close(promise: nil)
            }
        }
    }

    /// Adds the TLS handler in front, unless plaintext followed STARTTLS's OK (then the connection fails).
    private func secure(context: ChannelHandlerContext) {
        guard let startTLS else {
            fail(.protocolViolation("STARTTLS completed on a connection without TLS"), context: context)
            return
        }
        let discarded = startTLS.boundary.discardedOctets
        guard discarded == 0 else {
            fail(
                .protocolViolation(
                    "the server sent \(discarded) octets after STARTTLS's OK, before the TLS handshake (RFC 3501 §6.2.1)"),
                context: context)
            return
        }
        do {
            let handler = try NIOSSLClientHandler(context: startTLS.context, serverHostname: startTLS.serverHostname)
            try context.pipeline.syncOperations.addHandler(handler, position: .first)
        } catch {
            fail(.tls("\(error)"), context: context)
        }
    }

    private func fail(_ error: IMAPError, context: ChannelHandlerContext) {
        failAll(error, context: context)
        context.close(promise: nil)
    }

    private func timedOut(context: ChannelHandlerContext, tag: String, name: String) {
        guard promises[tag] != nil else { return }
        logger.warning("imap command timed out; closing the connection", metadata: ["command": "\(name)"])
        failAll(.timeout(command: name), context: context)
        context.close(promise: nil)
    }

    private func failAll(_ error: IMAPError, context: ChannelHandlerContext) {
        if failure == nil {
            failure = error
            onFailure(error)
        }
        if greetingPending {
            greetingPending = false
            greeting.fail(error)
        }
        _ = pipeline.close()
        let pending = promises
        promises = [:]
        for (_, entry) in pending {
            entry.timer.cancel()
            entry.promise.fail(error)
        }
    }
}
