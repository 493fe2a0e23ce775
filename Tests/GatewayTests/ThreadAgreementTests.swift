import Foundation
import GatewayCore
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// The gateway's own REFERENCES threading (`ReferencesThreading`) answers exactly what Dovecot's
/// `UID THREAD REFERENCES UTF-8 ALL` answers on one folder (issue 15): on a generated corpus of
/// 8,000 messages (`integration/thread-corpus.py`: reply trees and hostile IDs, references,
/// subjects and dates) and on the fixtures. The inputs come from what a client can fetch:
/// ENVELOPE (subject, date), the Message-ID, References and In-Reply-To header fields, and
/// INTERNALDATE. Dovecot's answer goes through `ReferencesThreading.capped`, the shape ours
/// takes for threads deeper than the client's THREAD depth cap (the corpus has a 1,200-reply chain).
@Suite(
    .enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"),
    .disabled(if: TestBed.isCyrus, "agreement with Dovecot's own THREAD, on a corpus written into a Dovecot Maildir"))
struct ThreadAgreementTests {
    @Test func generatedCorpusThreadsAsDovecotDoes() async throws {
        let bed = try TestBed.require()
        let box = TestBed.uniqueMailbox("Threads")
        // THREAD_CORPUS_COUNT and THREAD_CORPUS_SEED try other corpora (integration/thread-corpus.py).
        let environment = ProcessInfo.processInfo.environment
        let count = try await Self.writeCorpus(
            bed, box,
            [
                "--count", environment["THREAD_CORPUS_COUNT"] ?? "8000",
                "--seed", environment["THREAD_CORPUS_SEED"] ?? "5256",
            ])
        #expect(count >= 5_000)
        try await Self.expectAgreement(bed, box, count: count)
    }

    @Test func fixturesThreadAsDovecotDoes() async throws {
        let bed = try TestBed.require()
        let box = TestBed.uniqueMailbox("ThreadFixtures")
        let fixtures = Self.repository.appendingPathComponent("integration/fixtures").path
        let count = try await Self.writeCorpus(bed, box, ["--fixtures", fixtures])
        try await Self.expectAgreement(bed, box, count: count)
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs `integration/thread-corpus.py` into `box` of the threading account; returns how many
    /// messages it wrote, once Dovecot counts them all.
    static func writeCorpus(_ bed: TestBed, _ box: String, _ arguments: [String]) async throws -> Int {
        let user = bed.threadAgreementAccount.user
        let output = try await bed.writeMaildir("thread-corpus.py", box, user: user, arguments)
        let count = try #require(output.split(separator: "\n").last.flatMap { Int($0) })
        try await bed.waitUntilCounted(box, count, user: user)
        return count
    }

    /// Fetches what threading needs, threads it, and compares with Dovecot's own answer.
    static func expectAgreement(_ bed: TestBed, _ box: String, count: Int) async throws {
        let connection = try await bed.connect(bed.threadAgreementAccount)
        defer { connection.close() }
        _ = try await connection.select(MailboxName(box), readOnly: true)
        let clock = ContinuousClock()
        let serverStart = clock.now
        let dovecot = try await connection.uidThread()
        let serverTime = clock.now - serverStart

        let uids = try await connection.uidSearch(.all)
        // What the conversation index fetches and keeps of a message (ThreadHeaders), so the
        // agreement covers the engine's own reading of headers, first Subject and Date included.
        let fetched = try await connection.uidFetch(uids, [.uid] + ThreadHeaders.fetchItems)
        #expect(fetched.count == count)
        var inputs: [ReferencesThreading.Message] = []
        var headersByUID: [UInt32: String] = [:]
        for message in fetched {
            let uid = try #require(message.uid)
            let threadHeaders = ThreadHeaders(message)
            let section = message.sections.first { $0.key.hasPrefix("HEADER.FIELDS") }?.value ?? []
            let headers = String(decoding: section, as: UTF8.self)
            inputs.append(
                ReferencesThreading.Message(
                    uid: uid, messageID: threadHeaders.messageID, references: threadHeaders.references,
                    baseSubject: threadHeaders.baseSubject, isReplyOrForward: threadHeaders.isReplyOrForward,
                    sentDate: threadHeaders.keys.date, sequence: Int(message.sequenceNumber)))
            headersByUID[uid] =
                "base subject \(threadHeaders.baseSubject), reply \(threadHeaders.isReplyOrForward), date \(threadHeaders.keys.date), "
                + "internal \(message.internalDate?.secondsSince1970 ?? 0), \(headers.trimmingCharacters(in: .whitespacesAndNewlines))"
        }
        let ourStart = clock.now
        let ours = ReferencesThreading.thread(inputs)
        let ourTime = clock.now - ourStart
        let theirs = ReferencesThreading.capped(dovecot)
        print(
            "ThreadAgreement \(box): \(count) messages, \(theirs.count) threads;",
            "Dovecot's THREAD \(serverTime), ours \(ourTime)")
        guard let difference = firstDifference(ours, theirs) else { return }
        let involved = Set(difference.path + difference.ours + difference.dovecot).sorted().prefix(40)
        Issue.record(
            """
            first difference under \(difference.path.isEmpty ? "the root" : "\(difference.path.map(String.init))"):
              ours:    \(difference.ours.prefix(20).map(String.init).joined(separator: " "))
              Dovecot: \(difference.dovecot.prefix(20).map(String.init).joined(separator: " "))
            messages:
            \(involved.map { "  \($0): \(headersByUID[$0] ?? "?")" }.joined(separator: "\n"))
            """)
    }
}

/// The first node (depth first) whose children differ: the numbers on the way down to it (0 for
/// a dummy), and the numbers of its children on each side (0 for a dummy).
private func firstDifference(
    _ ours: [ThreadNode], _ theirs: [ThreadNode]
) -> (path: [UInt32], ours: [UInt32], dovecot: [UInt32])? {
    var pending: [(path: [UInt32], ours: [ThreadNode], theirs: [ThreadNode])] = [([], ours, theirs)]
    while let (path, a, b) = pending.popLast() {
        let numbersA = a.map { $0.number ?? 0 }
        let numbersB = b.map { $0.number ?? 0 }
        if numbersA != numbersB { return (path, numbersA, numbersB) }
        for (x, y) in zip(a, b).reversed() where x != y {
            pending.append((path + [x.number ?? 0], x.children, y.children))
        }
    }
    return nil
}
