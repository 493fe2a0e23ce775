/// One thing `GET /readyz` asks before it says the gateway is ready (SPEC §3: the IMAP server
/// answers, the database takes writes). The app wires the real ones; a check that throws, or that
/// does not finish within ``APIConfiguration/readinessTimeout``, makes the answer 503.
public struct ReadinessCheck: Sendable {
    public var name: String
    public var run: @Sendable () async throws -> Void

    public init(name: String, run: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.run = run
    }

    /// Runs every check at once, each bounded by `timeout`: nil when all passed, else what failed.
    static func failures(_ checks: [ReadinessCheck], timeout: Duration) async -> [String]? {
        let failures = await withTaskGroup(of: String?.self) { group in
            for check in checks {
                group.addTask { await check.failure(timeout: timeout) }
            }
            var failures: [String] = []
            for await failure in group {
                if let failure { failures.append(failure) }
            }
            return failures.sorted()
        }
        return failures.isEmpty ? nil : failures
    }

    private func failure(timeout: Duration) async -> String? {
        await withTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    try await run()
                    return nil
                } catch {
                    return "\(name): \(error)"
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return Task.isCancelled ? nil : "\(name): no answer within \(timeout)"
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }
}
