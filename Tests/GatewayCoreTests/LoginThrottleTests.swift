import GatewayCore
import Testing

/// Failed logins are throttled per user name and per address, with a time to retry (issue 13, finding 4).
/// Pure: an explicit clock, no Dovecot.
struct LoginThrottleTests {
    let start = ContinuousClock.now
    let configuration = LoginThrottle.Configuration(
        perUser: .init(burst: 3, refill: .seconds(10)), perAddress: .init(burst: 5, refill: .seconds(2)), maxTrackedKeys: 1000)

    @Test func aUserNameIsThrottledAfterItsBurstOfFailures() {
        var throttle = LoginThrottle(configuration: configuration)
        for i in 0..<3 {
            #expect(throttle.attempt(user: "alice", address: "10.0.0.\(i)", now: start) == nil)
            throttle.finish(user: "alice", address: "10.0.0.\(i)", failed: true, now: start)
        }
        let wait = throttle.attempt(user: "alice", address: "10.0.0.9", now: start)
        #expect(wait == 10)
        #expect(throttle.attempt(user: "ALICE", address: "10.0.0.9", now: start) != nil, "user names are case-insensitive")
        #expect(throttle.attempt(user: "alice", address: "10.0.0.9", now: start + .seconds(10)) == nil, "one failure forgiven")
        #expect(throttle.attempt(user: "bob", address: "10.0.0.8", now: start) == nil, "other users are not affected")
    }

    @Test func anAddressIsThrottledWhateverTheUserNames() {
        var throttle = LoginThrottle(configuration: configuration)
        for i in 0..<5 {
            #expect(throttle.attempt(user: "random\(i)", address: "192.0.2.1", now: start) == nil)
            throttle.finish(user: "random\(i)", address: "192.0.2.1", failed: true, now: start)
        }
        #expect(throttle.attempt(user: "random99", address: "192.0.2.1", now: start) == 2)
        #expect(throttle.attempt(user: "carol", address: "192.0.2.2", now: start) == nil, "another address is not affected")
    }

    /// Attempts in flight count before they fail, so concurrent guesses cannot all slip through.
    @Test func concurrentAttemptsAreCountedBeforeTheyFail() {
        var throttle = LoginThrottle(configuration: configuration)
        for i in 0..<5 { #expect(throttle.attempt(user: "u\(i)", address: "192.0.2.3", now: start) == nil) }
        #expect(throttle.attempt(user: "u9", address: "192.0.2.3", now: start) != nil)
    }

    @Test func successfulLoginsCostNothing() {
        var throttle = LoginThrottle(configuration: configuration)
        for _ in 0..<50 {
            #expect(throttle.attempt(user: "alice", address: "192.0.2.4", now: start) == nil)
            throttle.finish(user: "alice", address: "192.0.2.4", failed: false, now: start)
        }
        #expect(throttle.trackedKeys == 0)
    }

    @Test func bookkeepingIsBounded() {
        var throttle = LoginThrottle(
            configuration: .init(perUser: .init(burst: 3, refill: .seconds(10)), perAddress: .init(burst: 5, refill: .seconds(2)), maxTrackedKeys: 100))
        for i in 0..<1000 {
            _ = throttle.attempt(user: "name\(i)", address: nil, now: start)
            throttle.finish(user: "name\(i)", address: nil, failed: true, now: start)
        }
        #expect(throttle.trackedKeys <= 100)
    }
}
