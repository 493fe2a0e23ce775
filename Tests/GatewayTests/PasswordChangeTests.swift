import GatewayApp
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

                // The new password is accepted at once: the old connections never lock it out
                // (before, it waited for a slot and got 504 after the lease timeout).
                let changed = ContinuousClock.now
                let fresh = try await gw.request(.get, "/api/v1/folders", auth: new)
                #expect(fresh.status == .ok, "new password: \(fresh.status) \(fresh.errorCode ?? "")")

                // The old password, and the session opened with it, are refused from verifySeconds
                // after the change on: every request that starts later must be 401.
                var late: [(Duration, HTTPResponse.Status, HTTPResponse.Status)] = []
                var firstRefusal: Duration?
                while ContinuousClock.now - changed < verify + .seconds(6) {
                    let startedAt = ContinuousClock.now - changed
                    let oldStatus = try await gw.request(.get, "/api/v1/folders", auth: old).status
                    let sessionStatus = try await gw.request(.get, "/api/v1/folders", auth: nil, headers: sessionHeaders).status
                    if oldStatus == .unauthorized && sessionStatus == .unauthorized && firstRefusal == nil { firstRefusal = startedAt }
                    if startedAt >= verify { late.append((startedAt, oldStatus, sessionStatus)) }
                    if late.count >= 3 { break }
                    try await Task.sleep(for: .milliseconds(250))
                }
                #expect(!late.isEmpty)
                for (at, oldStatus, sessionStatus) in late {
                    #expect(oldStatus == .unauthorized, "old password at \(at) after the change: \(oldStatus)")
                    #expect(sessionStatus == .unauthorized, "old session at \(at) after the change: \(sessionStatus)")
                }
                print("password change: new password accepted at once; old one first refused on a request started "
                    + "\(firstRefusal.map { "\($0)" } ?? "never") after the change (verifySeconds 3)")
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
