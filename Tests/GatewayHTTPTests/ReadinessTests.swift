import GatewayCore
@testable import GatewayHTTP
import HTTPTypes
import Testing

/// `GET /readyz` (SPEC §3): 200 only when every check passes within its time; else 503 `notReady`
/// naming what failed. The real checks (IMAP server, database) are tested in `GatewayTests`.
struct ReadinessTests {
    struct Broken: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    @Test func everyCheckPassingIsReady() async throws {
        let checks = [ReadinessCheck(name: "imap") {}, ReadinessCheck(name: "database") {}]
        try await TestGateway.run(readiness: checks) { gw in
            let reply = try await gw.request(.get, "/readyz", auth: .none)
            #expect(reply.status == .ok)
            #expect(reply["status"] as? String == "ready")
        }
    }

    @Test func aFailingCheckIs503NamingIt() async throws {
        let checks = [ReadinessCheck(name: "imap") { throw Broken() }, ReadinessCheck(name: "database") {}]
        try await TestGateway.run(readiness: checks) { gw in
            let reply = try await gw.request(.get, "/readyz", auth: .none)
            #expect(reply.status == .serviceUnavailable)
            #expect(reply.isErrorBody)
            #expect(reply.errorCode == "notReady")
            #expect(reply.errorMessage == "not ready: imap: connection refused")
        }
    }

    @Test func aCheckWithoutAnAnswerIs503AfterTheTimeout() async throws {
        let checks = [
            ReadinessCheck(name: "imap") { try await Task.sleep(for: .seconds(60)) },
            ReadinessCheck(name: "database") { throw Broken() },
        ]
        try await TestGateway.run(api: { $0.readinessTimeout = .milliseconds(200) }, readiness: checks) { gw in
            let started = ContinuousClock.now
            let reply = try await gw.request(.get, "/readyz", auth: .none)
            #expect(ContinuousClock.now - started < .seconds(30))
            #expect(reply.status == .serviceUnavailable)
            #expect(reply.errorMessage == "not ready: database: connection refused; imap: no answer within 0.2 seconds")
        }
    }
}
