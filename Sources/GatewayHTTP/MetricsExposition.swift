/// What `GET /metrics` answers: Prometheus text, made when asked. The app renders its registry
/// after refreshing the gauges that are read rather than counted (pool connections, jobs by state);
/// the HTTP layer knows no metrics backend.
public struct MetricsExposition: Sendable {
    public var render: @Sendable () async -> [UInt8]

    public init(render: @escaping @Sendable () async -> [UInt8]) {
        self.render = render
    }

    /// No metrics: an empty exposition (valid Prometheus text).
    public static let empty = MetricsExposition { [] }
}
