import Foundation
import GatewayApp
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IMAPClient
import IMAPCore
import InMemoryTracing
import Instrumentation
import NIOCore
import TestBedSupport
import Testing
import Synchronization
import Tracing

/// Spans from request to engine to each IMAP command (issue 18): a request carrying a test trace
/// ID gives a server span (Hummingbird's `TracingMiddleware`), an engine span within it, and a
/// client span per IMAP command within that. Part of the operations suite, as quinn, one test at
/// a time: as alice, beside the many other suites that create alice's mailboxes at once, it made
/// Dovecot's fcntl locking of her list index fail with EDEADLK and panic a session of another
/// test (a clean-clone CI run, 1 Dec 2026).
extension OperationsTests {
    @Test func requestEngineAndIMAPSpansNest() async throws {
        let tracer = RecordingTracer.shared
        try await GatewayHarness.run(configure: { $0.tracesRequests = true }) { gw in
            let account = gw.bed.operationsAccount
            let mailbox = TestBed.uniqueMailbox("GwTrace")
            let (_, uids, _) = try await gw.makeMailbox(mailbox, count: 3, as: account)
            let folders = try await gw.folderIDs(account)
            let folderID = try #require(folders[mailbox])

            let listTrace = "\(RecordingTracer.marker)-list-\(UUID().uuidString)"
            let listing = try await gw.client.execute(
                uri: "/api/v1/mails?folderId=\(folderID)&sort=subject", method: .get,
                headers: [.authorization: GatewayHarness.basic(account.user, account.password), RecordingTracer.header: listTrace])
            #expect(listing.status == .ok)
            let ids = try #require(
                (try JSONSerialization.jsonObject(with: Data(listing.body.readableBytesView)) as? [String: Any])?["items"] as? [[String: Any]]
            ).compactMap { $0["id"] as? String }
            #expect(ids.count == uids.count)

            let updateTrace = "\(RecordingTracer.marker)-update-\(UUID().uuidString)"
            let update = try await gw.client.execute(
                uri: "/api/v1/batch/mails/update", method: .post,
                headers: [
                    .authorization: GatewayHarness.basic(account.user, account.password), .contentType: "application/json",
                    RecordingTracer.header: updateTrace,
                ],
                body: ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: ["ids": ids, "isFlagged": true])))
            #expect(update.status == .ok)

            // The listing's commands depend on what the server offers (SORT, or FETCH of sort keys).
            for (trace, engine, command) in [(listTrace, "listing mails", "IMAP SELECT"), (updateTrace, "batch mails update", "IMAP UID STORE")] {
                // The request's span ends after its response is written, so it may come a moment later.
                var spans = tracer.finished(trace: trace)
                for _ in 0..<100 where !spans.contains(where: { $0.parentSpanID == "caller" }) {
                    try await Task.sleep(for: .milliseconds(20))
                    spans = tracer.finished(trace: trace)
                }
                let server = try #require(spans.first { $0.parentSpanID == "caller" }, "a server span in \(spans.map(\.operationName))")
                #expect(server.kind == .server)
                let engineSpan = try #require(spans.first { $0.operationName == engine }, "\(spans.map(\.operationName))")
                #expect(engineSpan.parentSpanID == server.spanID, "the engine's span is within the request's")
                let commands = spans.filter { $0.operationName.hasPrefix("IMAP ") }
                #expect(commands.contains { $0.operationName == command }, "\(commands.map(\.operationName))")
                #expect(commands.allSatisfy { $0.parentSpanID == engineSpan.spanID && $0.kind == .client }, "each command within the engine's span")
                #expect(commands.allSatisfy { $0.attributes["imap.command"] != nil })
            }
        }
    }
}

/// A tracer for the test process: bootstrapped once, it records only traces whose ID starts
/// with ``marker`` (the other suites' requests make spans that are dropped at once), taking the
/// trace ID from the request's ``header``.
final class RecordingTracer: Tracer, Sendable {
    static let marker = "gateway-test-trace"
    static let header = HTTPField.Name("X-Test-Trace")!

    /// The process's tracer, bootstrapped on first use.
    static let shared: RecordingTracer = {
        let tracer = RecordingTracer()
        InstrumentationSystem.bootstrap(tracer)
        return tracer
    }()

    private let recorded = Mutex<[FinishedInMemorySpan]>([])

    func finished(trace: String) -> [FinishedInMemorySpan] {
        recorded.withLock { $0.filter { $0.traceID == trace } }
    }

    func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> InMemorySpan {
        let parent = context()
        let spanContext: InMemorySpanContext
        if let parentSpan = parent.inMemorySpanContext {
            spanContext = InMemorySpanContext(traceID: parentSpan.traceID, spanID: UUID().uuidString, parentSpanID: parentSpan.spanID)
        } else {
            spanContext = InMemorySpanContext(traceID: UUID().uuidString, spanID: UUID().uuidString, parentSpanID: nil)
        }
        let keep = spanContext.traceID.hasPrefix(Self.marker)
        return InMemorySpan(operationName: operationName, context: parent, spanContext: spanContext, kind: kind, startInstant: instant()) {
            span in
            if keep { self.recorded.withLock { $0.append(span) } }
        }
    }

    func forceFlush() {}

    /// A request's trace: its ID from ``header``, as if a caller had started it.
    func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let trace = extractor.extract(key: Self.header.canonicalName, from: carrier) else { return }
        context.inMemorySpanContext = InMemorySpanContext(traceID: trace, spanID: "caller", parentSpanID: nil)
    }

    func inject<Carrier, Inject: Injector>(_ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {}
}
