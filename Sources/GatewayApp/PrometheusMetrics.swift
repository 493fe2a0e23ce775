import GatewayCore
import GatewayHTTP
import IMAPClient
import Metrics
import Prometheus

/// The gateway's metrics backend: swift-prometheus under swift-metrics. Every metric of the
/// gateway is made on one registry — the engine's and the IMAP client's through the factory they
/// are given, Hummingbird's request metrics through the process's `MetricsSystem`, bootstrapped
/// with the same factory by ``GatewayApp/run(configuration:logger:)`` — and `GET /metrics` renders it.
///
/// The factory is ours rather than swift-prometheus's `PrometheusMetricsFactory` because that one
/// registers every metric without `# HELP`, which `promtool check metrics` reports as a problem;
/// this one gives each family its help text (``help``) and Prometheus names for Hummingbird's.
public struct PrometheusMetrics: MetricsFactory {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// Hummingbird's metric and label names (OpenTelemetry's dotted spellings) as Prometheus
    /// names: `hb.requests` would be `hb_requests`, a counter without `_total`, which promtool flags.
    static let renamed: [String: String] = [
        "hb.requests": "gateway_http_requests_total",
        "hb.request.errors": "gateway_http_request_errors_total",
        "http.server.request.duration": "gateway_http_request_duration_seconds",
        "http.server.active_requests": "gateway_http_active_requests",
    ]
    static let renamedLabels: [String: String] = [
        "http.route": "route", "http.request.method": "method", "http.response.status_code": "status", "error.type": "status",
    ]

    /// Each family's `# HELP` line.
    static let help: [String: String] = {
        var help: [String: String] = [
            "gateway_http_requests_total": "HTTP requests answered, by route pattern, method and status.",
            "gateway_http_request_errors_total": "HTTP requests that ended in an error, by route pattern, method and status.",
            "gateway_http_request_duration_seconds": "Time to answer an HTTP request, by route pattern, method and status.",
            "gateway_http_active_requests": "HTTP requests being answered now, by method.",
            IMAPMetrics.commands: "IMAP commands sent, by command and result (ok, no, bad, refused, failed).",
            IMAPMetrics.commandDuration: "Time from sending an IMAP command to its tagged answer, by command.",
            GatewayMetrics.jobChunkDuration: "Time to carry out one job chunk, by operation.",
            "gateway_imap_pool_connections": "Pooled IMAP connections by state: idle, or busy (leased to a request or job).",
            "gateway_imap_pool_waiting_leases": "Requests and jobs waiting for a free IMAP connection.",
            "gateway_imap_pool_logins_in_flight": "IMAP connects and logins in progress.",
            "gateway_jobs": "Batch jobs in the database, by state.",
        ]
        for counter in GatewayMetrics.Counter.allCases { help[counter.rawValue] = counter.help }
        return help
    }()

    /// Latency buckets that fit: IMAP commands take from a fraction of a millisecond (a STORE of
    /// 10) to seconds (a MOVE of thousands); requests a few milliseconds to minutes.
    static let buckets: [String: [Duration]] = {
        let fine: [Duration] = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
        ]
        return [
            IMAPMetrics.commandDuration: fine,
            "gateway_http_request_duration_seconds": Array(fine.dropFirst(2)) + [.seconds(120)],
            GatewayMetrics.jobChunkDuration: Array(fine.dropFirst(4)) + [.seconds(120), .seconds(300)],
        ]
    }()

    private func named(_ label: String, _ dimensions: [(String, String)]) -> (name: String, labels: [(String, String)], help: String) {
        let name = Self.renamed[label] ?? label
        return (name, dimensions.map { (Self.renamedLabels[$0.0] ?? $0.0, $0.1) }, Self.help[name] ?? "The \(name) metric.")
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        let (name, labels, help) = named(label, dimensions)
        return registry.makeCounter(name: name, labels: labels, help: help)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        let (name, labels, help) = named(label, dimensions)
        return registry.makeCounter(name: name, labels: labels, help: help)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        let (name, labels, help) = named(label, dimensions)
        guard aggregate else { return registry.makeGauge(name: name, labels: labels, help: help) }
        return registry.makeValueHistogram(
            name: name, labels: labels, buckets: [1, 10, 100, 1000, 10_000, 100_000, 1_000_000], help: help)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        let (name, labels, help) = named(label, dimensions)
        return registry.makeGauge(name: name, labels: labels, help: help)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        let (name, labels, help) = named(label, dimensions)
        let buckets = Self.buckets[name] ?? Self.buckets["gateway_http_request_duration_seconds"]!
        return registry.makeDurationHistogram(name: name, labels: labels, buckets: buckets, help: help)
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? ValueHistogram { registry.unregisterValueHistogram(histogram) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? DurationHistogram { registry.unregisterDurationHistogram(histogram) }
    }

    /// `GET /metrics`: refreshes the gauges that are read rather than counted — the IMAP pool's
    /// connections (idle, busy), leases waiting and logins in flight, and jobs by state — then
    /// renders the registry.
    func exposition(pool: IMAPConnectionPool, jobs: any JobStore) -> MetricsExposition {
        let factory = self
        let idle = Metrics.Gauge(label: "gateway_imap_pool_connections", dimensions: [("state", "idle")], factory: factory)
        let busy = Metrics.Gauge(label: "gateway_imap_pool_connections", dimensions: [("state", "busy")], factory: factory)
        let waiting = Metrics.Gauge(label: "gateway_imap_pool_waiting_leases", factory: factory)
        let loggingIn = Metrics.Gauge(label: "gateway_imap_pool_logins_in_flight", factory: factory)
        let jobGauges = Dictionary(
            uniqueKeysWithValues: JobState.allCases.map { ($0, Metrics.Gauge(label: "gateway_jobs", dimensions: [("state", $0.rawValue)], factory: factory)) })
        let registry = self.registry
        return MetricsExposition {
            let stats = await pool.stats
            idle.record(stats.idle)
            busy.record(stats.busy)
            waiting.record(stats.waiting)
            loggingIn.record(stats.loggingIn)
            if let counts = try? await jobs.jobCounts() {
                for (state, gauge) in jobGauges { gauge.record(counts[state] ?? 0) }
            }
            return registry.emitToBuffer()
        }
    }
}
