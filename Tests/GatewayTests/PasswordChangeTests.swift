import Foundation
import GatewayCore
import GatewayHTTP
import HTTPTypes
import IMAPClient
import TestBedSupport
import Testing

/// A password changed on the IMAP server works through the gateway at once, and the old one, its
/// warm pooled connections and its sessions stop working within `auth.verifySeconds` (issue 13,
/// findings 3 and 10). Uses the account whose passwd line only this test rewrites.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"), .serialized)
struct PasswordChangeTests {
    @Test func aNewPasswordWorksAtOnceAndTheOldOneStopsWithinVerifySeconds() async throws {
        let bed = try TestBed.require()
        let old = bed.passwordChangeAccount
        let new = IMAPCredentials(user: old.user, password: "changed-\(UUID().uuidString.prefix(8))")
        let verify = Duration.seconds(3)
        do {
            try await GatewayHarness.run(configure: {
                $0.pool.verifyInterval = verify
                $0.pool.maxConnectionsPerAccount = 2
                $0.pool.leaseTimeout = .seconds(10)
            }) { gw in
                // Warm the pool with old-password connections up to the account's bound, and open a session.
                async let first = gw.request(.get, "/api/v1/folders", auth: old)
                async let second = gw.request(.get, "/api/v1/labels", auth: old)
                #expect(try await first.status == .ok)
                #expect(try await second.status == .ok)
                let login = try await gw.request(.post, "/api/v1/login", auth: old)
                let session = try #require(login["sessid"] as? String)
                let sessionHeaders: HTTPFields = [HTTPField.Name("X-Axigen-Session")!: session]
                #expect(try await gw.request(.get, "/api/v1/folders", auth: nil, headers: sessionHeaders).status == .ok)

                try await bed.setPassword(user: old.user, to: new.password)

                // The new password is accepted at once: the old connections never lock it out.
                let started = ContinuousClock.now
                let fresh = try await gw.request(.get, "/api/v1/folders", auth: new)
                #expect(fresh.status == .ok, "new password: \(fresh.status) \(fresh.errorCode ?? "")")
                #expect(ContinuousClock.now - started < .seconds(5))

                // The old password, and the session opened with it, are refused within verifySeconds.
                let changed = ContinuousClock.now
                var oldStatus = HTTPResponse.Status.ok
                var sessionStatus = HTTPResponse.Status.ok
                while ContinuousClock.now - changed < verify + .seconds(3) {
                    oldStatus = try await gw.request(.get, "/api/v1/folders", auth: old).status
                    sessionStatus = try await gw.request(.get, "/api/v1/folders", auth: nil, headers: sessionHeaders).status
                    if oldStatus == .unauthorized && sessionStatus == .unauthorized { break }
                    try await Task.sleep(for: .milliseconds(250))
                }
                let refusedAfter = ContinuousClock.now - changed
                #expect(oldStatus == .unauthorized)
                #expect(sessionStatus == .unauthorized)
                #expect(refusedAfter <= verify + .seconds(2), "old password refused after \(refusedAfter)")
                print("password change: new password accepted in \(ContinuousClock.now - started); old one refused after \(refusedAfter)")
                // And the new one keeps working.
                #expect(try await gw.request(.get, "/api/v1/labels", auth: new).status == .ok)
            }
        } catch {
            try? await bed.setPassword(user: old.user, to: old.password)
            throw error
        }
        try await bed.setPassword(user: old.user, to: old.password)
    }
}
