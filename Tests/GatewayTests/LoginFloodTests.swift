import GatewayApp
import Foundation
import GatewayCore
import GatewayHTTP
import HTTPTypes
import HummingbirdTesting
import IMAPClient
import TestBedSupport
import Testing

/// 2,000 failed logins with random user names, from another client address, while a real account
/// works: its requests never fail or time out and their median stays within 2× of a quiet run
/// (issue 13, finding 4). The flood is throttled (429 with Retry-After) and evicts nobody.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"), .serialized)
struct LoginFloodTests {
    @Test func failedLoginsNeverStarveARealAccount() async throws {
        let bed = try TestBed.require()
        let victim = bed.floodVictimAccount
        try await GatewayHarness.run(configure: { $0.pool.maxConnectionsTotal = 8 }) { gw in
            let port = try #require(gw.client.port)
            func timedRequest() async throws -> (HTTPResponse.Status, Duration) {
                let start = ContinuousClock.now
                let reply = try await gw.request(.get, "/api/v1/folders", auth: victim)
                return (reply.status, ContinuousClock.now - start)
            }
            _ = try await timedRequest()  // warm the pool and the folder cache
            var quiet: [Duration] = []
            for _ in 0..<40 {
                let (status, time) = try await timedRequest()
                #expect(status == .ok)
                quiet.append(time)
            }

            let flood = Process()
            flood.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("integration/login-flood.py").path
            flood.arguments = ["python3", script, "--port", "\(port)", "--count", "2000", "--source", "127.0.0.2"]
            let output = Pipe()
            flood.standardOutput = output
            try flood.run()
            var loaded: [Duration] = []
            var statuses: [HTTPResponse.Status] = []
            while flood.isRunning || loaded.count < 40 {
                let (status, time) = try await timedRequest()
                statuses.append(status)
                loaded.append(time)
                if loaded.count > 5000 { break }
            }
            flood.waitUntilExit()
            let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let counts = (try? JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: Any])?["statuses"] as? [String: Int] ?? [:]

            #expect(statuses.allSatisfy { $0 == .ok }, "victim statuses: \(Set(statuses.map(\.code)))")
            let quietMedian = Self.median(quiet)
            let loadedMedian = Self.median(loaded)
            print("login flood: \(report.trimmingCharacters(in: .whitespacesAndNewlines)); victim median quiet \(quietMedian), "
                + "under flood \(loadedMedian) over \(loaded.count) requests, worst \(loaded.max() ?? .zero)")
            #expect(loadedMedian <= quietMedian * 2, "median quiet \(quietMedian), under flood \(loadedMedian)")
            #expect((counts["429"] ?? 0) > 0, "the flood was throttled: \(counts)")
            #expect(counts.keys.allSatisfy { $0 == "401" || $0 == "429" }, "flood answers: \(counts)")
            #expect(counts.values.reduce(0, +) == 2000)
        }
    }

    static func median(_ values: [Duration]) -> Duration {
        let sorted = values.sorted()
        return sorted.isEmpty ? .zero : sorted[sorted.count / 2]
    }
}
