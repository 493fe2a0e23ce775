/// Throttles failed logins per user name and per client address (SPEC §3), so that guessing costs
/// the guesser and not the other users.
///
/// Each key (a user name, a client address) has a bucket of `burst` failures that refills at one
/// failure per `refill`. A key whose bucket is empty is refused without asking the IMAP server, and
/// told when it may try again. Only failures spend tokens: a user who logs in correctly is never slowed.
/// The bookkeeping is bounded: at most `maxTrackedKeys` keys, the fullest buckets forgotten first.
public struct LoginThrottle: Sendable {
    /// Limits of one kind of key.
    public struct Limit: Sendable, Hashable {
        /// Failures allowed in a row before the key is throttled.
        public var burst: Int
        /// Time for one failure to be forgiven.
        public var refill: Duration

        public init(burst: Int, refill: Duration) {
            self.burst = burst
            self.refill = refill
        }
    }

    public struct Configuration: Sendable, Hashable {
        public var perUser: Limit
        public var perAddress: Limit
        public var maxTrackedKeys: Int

        public init(
            perUser: Limit = Limit(burst: 10, refill: .seconds(30)), perAddress: Limit = Limit(burst: 30, refill: .seconds(2)),
            maxTrackedKeys: Int = 100_000
        ) {
            self.perUser = perUser
            self.perAddress = perAddress
            self.maxTrackedKeys = maxTrackedKeys
        }
    }

    private struct Bucket {
        /// Failures counted, as of `updated`, after forgiveness.
        var spent: Double
        var updated: ContinuousClock.Instant
    }

    private enum Key: Hashable {
        case user(String)
        case address(String)
    }

    public let configuration: Configuration
    private var buckets: [Key: Bucket] = [:]

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// Asks to try a login now. Returns nil and counts the attempt as a failure in advance, so that
    /// concurrent guesses cannot all slip through before the first one fails; or, when the user name
    /// or the address has no failures left, how long until it may try again (whole seconds, at least 1).
    /// Pair a nil answer with ``finish(user:address:failed:now:)``.
    public mutating func attempt(user: String, address: String?, now: ContinuousClock.Instant = .now) -> Int? {
        var wait: Duration = .zero
        for (key, limit) in keys(user: user, address: address) {
            guard var bucket = buckets[key] else { continue }
            forgive(&bucket, limit: limit, now: now)
            buckets[key] = bucket
            if bucket.spent > Double(limit.burst) - 1 {
                let excess = bucket.spent - (Double(limit.burst) - 1)
                wait = max(wait, limit.refill * excess)
            }
        }
        if wait > .zero {
            let seconds = wait.components.seconds + (wait.components.attoseconds > 0 ? 1 : 0)
            return Int(max(1, seconds))
        }
        if buckets.count >= configuration.maxTrackedKeys { trim(now: now) }
        for (key, limit) in keys(user: user, address: address) {
            var bucket = buckets[key] ?? Bucket(spent: 0, updated: now)
            forgive(&bucket, limit: limit, now: now)
            bucket.spent += 1
            buckets[key] = bucket
        }
        return nil
    }

    /// Ends an attempt: a failed login keeps the failure counted; any other outcome (accepted, or
    /// the server could not be asked) gives it back.
    public mutating func finish(user: String, address: String?, failed: Bool, now: ContinuousClock.Instant = .now) {
        guard !failed else { return }
        for (key, limit) in keys(user: user, address: address) {
            guard var bucket = buckets[key] else { continue }
            forgive(&bucket, limit: limit, now: now)
            bucket.spent = max(0, bucket.spent - 1)
            buckets[key] = bucket.spent > 0 ? bucket : nil
        }
    }

    /// Keys tracked now (for tests and metrics).
    public var trackedKeys: Int { buckets.count }

    private func keys(user: String, address: String?) -> [(Key, Limit)] {
        var keys: [(Key, Limit)] = [(.user(user.lowercased()), configuration.perUser)]
        if let address { keys.append((.address(address), configuration.perAddress)) }
        return keys
    }

    private func forgive(_ bucket: inout Bucket, limit: Limit, now: ContinuousClock.Instant) {
        let elapsed = now - bucket.updated
        let forgiven = elapsed / limit.refill
        bucket.spent = max(0, bucket.spent - forgiven)
        bucket.updated = now
    }

    /// Drops forgiven buckets, then, if still too many, the half with the least spent.
    private mutating func trim(now: ContinuousClock.Instant) {
        for (key, var bucket) in buckets {
            let limit: Limit
            switch key {
            case .user: limit = configuration.perUser
            case .address: limit = configuration.perAddress
            }
            forgive(&bucket, limit: limit, now: now)
            buckets[key] = bucket.spent > 0 ? bucket : nil
        }
        if buckets.count >= configuration.maxTrackedKeys {
            let kept = buckets.sorted { $0.value.spent > $1.value.spent }.prefix(configuration.maxTrackedKeys / 2)
            buckets = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
    }
}
