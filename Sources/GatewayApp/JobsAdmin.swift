import Foundation
import GatewayCore
import Logging

/// `mailbox-gateway jobs list | show | cancel`: the job table for operators, read from the
/// gateway's database directly (a running gateway may have it open: SQLite in WAL mode lets
/// both read and write it). Output is a table for people or JSON for scripts.
public enum JobsAdmin {
    /// The jobs, newest first, optionally of one account or one state.
    public static func list(configuration: GatewayConfiguration, account: String?, state: String?, limit: Int, json: Bool) async throws
        -> String
    {
        let state = try state.map(Self.state)
        let jobs = try await withStore(configuration) { try await $0.listJobs(account: account, state: state, limit: limit) }
        if json { return try encode(jobs.map(Summary.init)) }
        guard !jobs.isEmpty else { return "no jobs" }
        let rows = [["JOB KEY", "ACCOUNT", "OPERATION", "STATUS", "PROGRESS", "ITEMS", "FAILED", "CREATED (UTC)"]]
            + jobs.map { job in
                [
                    job.key, job.account, job.operation.name, job.cancelRequested && job.state != .completed ? "cancelling" : job.state.rawValue,
                    String(format: "%.0f%%", job.progress), "\(job.totalItems)", "\(job.failedItems.count)", timestamp(job.createdAt),
                ]
            }
        return table(rows)
    }

    /// One job with its chunks and failed items, or nil when there is none with that key.
    public static func show(configuration: GatewayConfiguration, key: String, json: Bool) async throws -> String? {
        let found = try await withStore(configuration) { store -> (JobRecord, [JobChunkRecord])? in
            guard let job = try await store.jobAnyAccount(key: key) else { return nil }
            return (job, try await store.jobChunks(key: key))
        }
        guard let (job, chunks) = found else { return nil }
        var detail = Detail(job: Summary(job), failedItems: job.reportedFailedItems, chunks: [:])
        for chunk in chunks { detail.chunks[chunk.state.rawValue, default: 0] += 1 }
        if json { return try encode(detail) }
        var lines = [
            "job:        \(job.key)", "account:    \(job.account)", "operation:  \(job.operation.name)",
            "status:     \(job.state.rawValue)\(job.cancelRequested && job.state != .completed ? " (cancel requested)" : "")",
            "progress:   \(String(format: "%.1f", job.progress))% (\(job.doneItems) of \(job.totalItems) items)",
            "created:    \(timestamp(job.createdAt)) UTC", "finished:   \(job.finishedAt.map { timestamp($0) + " UTC" } ?? "-")",
            "lease:      " + (job.leaseOwner.map { "replica \($0) until \(job.leaseUntil.map { timestamp($0) + " UTC" } ?? "-")" } ?? "none"),
            "chunks:     " + (chunks.isEmpty ? "not planned yet" : detail.chunks.sorted { $0.key < $1.key }.map { "\($1) \($0)" }.joined(separator: ", ")),
            "failed:     \(detail.failedItems.count)",
        ]
        lines += detail.failedItems.prefix(100).map { "  \($0)" }
        if detail.failedItems.count > 100 { lines.append("  … \(detail.failedItems.count - 100) more (--json lists all)") }
        return lines.joined(separator: "\n")
    }

    /// Asks the job to stop: the gateway running it stops at its next chunk boundary (or, if
    /// none runs it, at its next start) and reports the items not done as failed. False when
    /// there is no unfinished job with that key.
    public static func cancel(configuration: GatewayConfiguration, key: String) async throws -> Bool {
        try await withStore(configuration) { try await $0.requestJobCancel(key: key) }
    }

    struct Summary: Encodable {
        var jobKey, account, operation, status: String
        var progress: Double
        var totalItems, doneItems, failedItems: Int
        var cancelRequested: Bool
        /// The replica holding the job's lease (its random per-process name), and until when.
        var leaseOwner: String?
        var leaseUntil: Date?
        var createdAt: Date
        var finishedAt: Date?

        init(_ job: JobRecord) {
            jobKey = job.key
            account = job.account
            operation = job.operation.name
            status = job.state.rawValue
            progress = job.progress
            totalItems = job.totalItems
            doneItems = job.doneItems
            failedItems = job.failedItems.count
            cancelRequested = job.cancelRequested
            leaseOwner = job.leaseOwner
            leaseUntil = job.leaseUntil
            createdAt = job.createdAt
            finishedAt = job.finishedAt
        }
    }

    struct Detail: Encodable {
        var job: Summary
        var failedItems: [String]
        /// Chunks by state (`planned`, `started`, `done`).
        var chunks: [String: Int]
    }

    /// Runs `body` on the store the configuration names. An SQLite file must exist already (a typo
    /// must not create a new, empty one).
    private static func withStore<R: Sendable>(
        _ configuration: GatewayConfiguration, _ body: @Sendable (any JobStore) async throws -> R
    ) async throws -> R {
        if configuration.databaseURL == nil, !FileManager.default.fileExists(atPath: configuration.databasePath) {
            throw GatewayConfiguration.InvalidSetting(key: "database.path", reason: "no database at \(configuration.databasePath)")
        }
        var logger = Logger(label: "mailbox-gateway.jobs")
        logger.logLevel = .error
        return try await GatewayStorage.open(configuration, asServer: false, logger: logger).run { try await body($0.ports) }
    }

    private static func state(_ name: String) throws -> JobState {
        guard let state = JobState(rawValue: name) else {
            throw GatewayConfiguration.InvalidSetting(key: "--state", reason: "must be inProgress or completed")
        }
        return state
    }

    private static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(dateSeparator: .dash, dateTimeSeparator: .space, timeZone: .gmt).year().month().day().time(includingFractionalSeconds: false))
    }

    private static func table(_ rows: [[String]]) -> String {
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
