import Foundation
import GatewayApp
import IMAPClient
import IMAPCore
import Logging
import TestBedSupport
import Testing

@testable import GatewayCore

/// A chunk interrupted halfway (the crash is simulated by doing part of its work by hand) is
/// resumed from the mailboxes' state: nothing is lost and nothing is copied twice. Checked by doveadm.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct ChunkResumeTests {
    private func setUp(_ bed: TestBed, count: Int) async throws -> (IMAPConnection, String, String, [UInt32], UInt32) {
        let connection = try await bed.connect()
        let source = TestBed.uniqueMailbox("Resume")
        let dest = TestBed.uniqueMailbox("ResumeDest")
        try await connection.create(MailboxName(source))
        try await connection.create(MailboxName(dest))
        var uids: [UInt32] = []
        var validity: UInt32 = 0
        for i in 0..<count {
            let appended = try #require(
                try await connection.append(
                    TestBed.message(subject: "r\(i)", messageID: "<resume-\(i)-\(UUID().uuidString)@x>"), to: MailboxName(source)))
            uids.append(appended.uid)
            validity = appended.uidValidity
        }
        try await connection.select(MailboxName(source))
        return (connection, source, dest, uids, validity)
    }

    /// The engine's own session, selected on `source`: through `bed.server()` like the gateway's (in an
    /// `IMAP_TEST_REFUSE` run, the refusing proxy), while the interrupted attempt is simulated by hand on
    /// the direct setup connection.
    private func engineSession(_ bed: TestBed, _ source: String) async throws -> IMAPConnection {
        let connection = try await IMAPConnection.connect(to: try bed.server(), logger: TestBed.logger)
        try await connection.login(bed.alice)
        try await connection.select(MailboxName(source))
        return connection
    }

    private func work(_ connection: IMAPConnection, _ operation: MailBatchOperation) -> BatchWork {
        BatchWork(
            operation: operation, keyword: nil, session: IMAPMailSession(connection: connection), configuration: .init(),
            logger: TestBed.logger)
    }

    @Test func copyResumedAfterAPartialCopyDoesNotDuplicate() async throws {
        let bed = try TestBed.require()
        let (connection, source, dest, uids, validity) = try await setUp(bed, count: 10)
        defer { connection.close() }
        let uidNextBefore = try #require(try await connection.status(MailboxName(dest), [.uidNext]).uidNext)
        // The interrupted attempt copied 4 of the 10 before the crash.
        _ = try await connection.uidCopy(UIDSet(uids[0..<4]), to: MailboxName(dest))
        let chunk = BatchChunk(
            folderId: "F", mailbox: MailboxName(source).wire, uidValidity: validity, uids: uids,
            action: .transfer(move: false, destinationId: "D", destinationMailbox: MailboxName(dest).wire, reportNewIds: true))
        let engine = try await engineSession(bed, source)
        defer { engine.close() }
        var work = work(engine, .copy(destinationFolderId: "D"))
        let result = try await work.execute(chunk, resuming: true, destinationUIDNext: uidNextBefore)
        #expect(result.confirmed == UIDSet(uids))
        let copies = try await bed.look(dest)
        #expect(copies.count == 10, "4 recognised + 6 copied, no duplicates")
        #expect(Set(copies.values.map(\.messageID)) == Set(try await bed.look(source).values.map(\.messageID)))
    }

    @Test func moveResumedAfterAPartialMoveMovesOnlyTheRest() async throws {
        let bed = try TestBed.require()
        let (connection, source, dest, uids, validity) = try await setUp(bed, count: 10)
        defer { connection.close() }
        let originals = Set(try await bed.look(source).values.map(\.messageID))
        _ = try await connection.uidMove(UIDSet(uids[0..<6]), to: MailboxName(dest))
        let chunk = BatchChunk(
            folderId: "F", mailbox: MailboxName(source).wire, uidValidity: validity, uids: uids,
            action: .transfer(move: true, destinationId: "D", destinationMailbox: MailboxName(dest).wire, reportNewIds: true))
        let engine = try await engineSession(bed, source)
        defer { engine.close() }
        var work = work(engine, .move(destinationFolderId: "D"))
        let result = try await work.execute(chunk, resuming: true, destinationUIDNext: nil)
        #expect(result.confirmed == UIDSet(uids))
        #expect(try await bed.look(source).isEmpty)
        let moved = try await bed.look(dest)
        #expect(moved.count == 10)
        #expect(Set(moved.values.map(\.messageID)) == originals)
    }

    /// The MOVE fallback (COPY + \Deleted + UID EXPUNGE) interrupted after copying some and
    /// expunging fewer: resumed, each message ends in the destination exactly once.
    @Test func moveFallbackResumedFinishesWhicheverStepIsLeft() async throws {
        let bed = try TestBed.require()
        let (connection, source, dest, uids, validity) = try await setUp(bed, count: 10)
        defer { connection.close() }
        let originals = Set(try await bed.look(source).values.map(\.messageID))
        let uidNextBefore = try #require(try await connection.status(MailboxName(dest), [.uidNext]).uidNext)
        // Interrupted attempt: copied 0..<6, expunged 0..<3 of those.
        _ = try await connection.uidCopy(UIDSet(uids[0..<6]), to: MailboxName(dest))
        try await connection.uidStore(UIDSet(uids[0..<3]), .add, flags: [.deleted])
        try await connection.uidExpunge(UIDSet(uids[0..<3]))
        let chunk = BatchChunk(
            folderId: "F", mailbox: MailboxName(source).wire, uidValidity: validity, uids: uids,
            action: .transfer(move: true, destinationId: "D", destinationMailbox: MailboxName(dest).wire, reportNewIds: false))
        let engine = try await engineSession(bed, source)
        defer { engine.close() }
        var work = work(engine, .move(destinationFolderId: "D"))
        work.useServerMove = false
        let resumed = try await work.execute(chunk, resuming: true, destinationUIDNext: uidNextBefore)
        #expect(resumed.confirmed == UIDSet(uids))
        #expect(try await bed.look(source).isEmpty)
        let moved = try await bed.look(dest)
        #expect(moved.count == 10)
        #expect(Set(moved.values.map(\.messageID)) == originals)
    }
}
