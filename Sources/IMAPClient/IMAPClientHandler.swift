import IMAPCore
import Logging
import NIOCore
import NIOSSL

/// A command handed to the channel, with the promise its result completes.
struct CommandRequest: Sendable {
    var command: Command
    var promise: EventLoopPromise<CommandResult>
}

/// The channel handler between the response decoder and the connection: assigns tags, encodes
/// commands, writes them as ``CommandPipeline`` allows, and completes each command's promise.
/// Runs on the channel's event loop only.
final class IMAPClientHandler: ChannelDuplexHandler {
    typealias InboundIn = Response
    typealias OutboundIn = CommandRequest
    typealias OutboundOut = ByteBuffer

    private var pipeline = CommandPipeline()
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
    ///   - encoder: read at each command, so LITERAL+ can be used once the server announces it.
    init(
        greeting: EventLoopPromise<UntaggedResponse>, commandTimeout: TimeAmount, logger: Logger,
        onFailure: @escaping @Sendable (IMAPError) -> Void = { _ in },
        encoder: @escaping @Sendable () -> CommandEncoder
    ) {
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
        logger.debug("imap command", metadata: ["tag": "\(tag)", "command": "\(name)"])
        perform(pipeline.enqueue(tag: tag, command: encoded), context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        perform(pipeline.receive(unwrapInboundIn(data)), context: context)
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
            switch action {
            case .write(let bytes):
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
            case .complete(let tag, let result):
                guard let entry = promises.removeValue(forKey: tag) else { continue }
                entry.timer.cancel()
                logger.debug(
                    "imap completion",
                    metadata: ["tag": "\(tag)", "command": "\(entry.name)", "status": "\(result.completion.status.rawValue)"]
                )
                entry.promise.succeed(result)
            case .greeting(let response):
                greetingPending = false
                greeting.succeed(response)
            case .fatal(let error):
                failAll(error, context: context)
                context.close(promise: nil)
            }
        }
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
