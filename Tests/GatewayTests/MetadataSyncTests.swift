import GatewayApp
import Foundation
import GatewayCore
import GatewayHTTP
import HTTPTypes
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// The first listing of a folder by a flag field fetches its metadata in pieces of
/// `listing.metadataFetchBatch` UIDs (here 500), each saved as it arrives (issue 13, finding 6):
/// the listing must still see every piece. Flags set on a direct connection, spread over all pieces, come first.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct MetadataSyncTests {
    @Test func aFolderLargerThanOneFetchIsListedWhole() async throws {
        try await GatewayHarness.run(configure: { $0.metadataFetchBatch = 500 }) { gw in
            let account = gw.bed.metadataSyncAccount
            let box = TestBed.uniqueMailbox("GwMetaPieces")
            let count = 1_200
            try await gw.bed.fill(box, count: count, user: account.user)
            let uids = try await gw.bed.search(box, user: account.user).values
            #expect(uids.count == count)
            // One flagged message in every 100: spread over the three fetch pieces.
            let flagged = stride(from: 99, to: uids.count, by: 100).map { uids[$0] }
            let setup = try await gw.bed.connect(account)
            _ = try await setup.select(MailboxName(box))
            _ = try await setup.uidStore(UIDSet(flagged), .add, flags: [.flagged])
            await setup.logout()
            let folders = try await gw.folderIDs(account)
            let reply = try await gw.request(
                .get, "/api/v1/mails?folderId=\(folders[box]!)&sort=isFlagged&dir=DESC&limit=\(flagged.count + 1)", auth: account)
            #expect(reply.status == .ok)
            #expect(reply["totalItems"] as? Int == count)
            let items = (reply["items"] as? [[String: Any]]) ?? []
            let listedFlags = items.map { $0["isFlagged"] as? Bool }
            #expect(listedFlags.prefix(flagged.count).allSatisfy { $0 == true }, "every flagged message first")
            #expect(listedFlags.last == false)
            let listed = Set(items.prefix(flagged.count).compactMap { ($0["id"] as? String).flatMap(MailID.init)?.uid })
            #expect(listed == Set(flagged))
        }
    }
}
