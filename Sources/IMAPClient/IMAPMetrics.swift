import Metrics
import NIOConcurrencyHelpers

/// IMAP commands by command and result, and their latency, recorded through swift-metrics on the
/// factory it is given (the app's Prometheus registry). Labels are the command's name (`UID MOVE`)
/// and its result (`ok`, `no`, `bad`, or `failed` when no answer came), so they stay few.
public final class IMAPMetrics: Sendable {
    public static let commands = "gateway_imap_commands_total"
    public static let commandDuration = "gateway_imap_command_duration_seconds"

    /// Records nothing.
    public static let disabled = IMAPMetrics(factory: NOOPMetricsHandler.instance)

    private struct Key: Hashable {
        var command: String
        var result: String
    }

    private let factory: any MetricsFactory
    private let counters = NIOLockedValueBox<[Key: Counter]>([:])
    private let timers = NIOLockedValueBox<[String: Timer]>([:])

    public init(factory: any MetricsFactory) {
        self.factory = factory
    }

    /// One command's outcome (`result`: ok, no, bad, failed) and how long it took from send to answer.
    func record(command: String, result: String, duration: Duration) {
        let key = Key(command: command, result: result)
        let counter = counters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: Self.commands, dimensions: [("command", command), ("result", result)], factory: factory)
            counters[key] = counter
            return counter
        }
        counter.increment()
        let timer = timers.withLockedValue { timers in
            if let timer = timers[command] { return timer }
            let timer = Timer(label: Self.commandDuration, dimensions: [("command", command)], factory: factory)
            timers[command] = timer
            return timer
        }
        timer.record(duration: duration)
    }
}
