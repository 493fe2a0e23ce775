import Foundation
import GatewayApp
@testable import GatewayCore
@testable import GatewayHTTP
import GatewayStore
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IMAPClient
import NIOCore
import TestBedSupport
import Testing

/// The same findings over real HTTP in front of Dovecot, with an independent look at the mailbox.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct APIConformanceTests {
    static let session = HTTPField.Name("X-Axigen-Session")!

    /// Logout ends the session it names; Basic credentials alone name none: 401 (it was 204).
    @Test func logoutNeedsTheSession() async throws {
        try await GatewayHarness.run { gw in
            let account = gw.bed.alice
            let basicOnly = try await gw.request(.post, "/api/v1/logout", auth: account)
            #expect(basicOnly.status == .unauthorized)
            #expect(basicOnly.errorCode == "unauthorized")
            let login = try await gw.request(.post, "/api/v1/login", auth: account)
            let sessid = try #require(login["sessid"] as? String)
            let logout = try await gw.request(.post, "/api/v1/logout", auth: nil, headers: [Self.session: sessid])
            #expect(logout.status == .noContent)
            let again = try await gw.request(.post, "/api/v1/logout", auth: nil, headers: [Self.session: sessid])
            #expect(again.status == .unauthorized)
        }
    }

    /// A 130-code-point name is refused and creates no label.
    @Test func overlongLabelNameIsRefused() async throws {
        try await GatewayHarness.run { gw in
            // An account with few folders: listing labels EXAMINEs every folder, and alice has hundreds.
            let account = gw.bed.jobHardeningAccount
            let name = String(repeating: "e\u{301}", count: 65)
            let reply = try await gw.request(.post, "/api/v1/labels", json: ["name": name], auth: account)
            #expect(reply.status == .badRequest)
            #expect(reply.errorCode == "invalidLabelName")
            let list = try await gw.request(.get, "/api/v1/labels", auth: account)
            let names = ((list["items"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
            #expect(!names.contains(name))
        }
    }

    /// A valid 60-character atom name became its own keyword, which Dovecot refuses ("Keyword
    /// length too long", over its default 50): every labels/add failed. Such a name now gets a
    /// generated keyword, and the label lands on the message.
    @Test func longAtomLabelNameStillLabelsMails() async throws {
        try await GatewayHarness.run { gw in
            let account = gw.bed.alice
            let box = TestBed.uniqueMailbox("GwLongLabel")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 1)
            let folders = try await gw.folderIDs(account)
            let id = MailID(folderId: folders[box]!, uidValidity: validity, uid: uids[0]).encoded
            let name = "Long" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16))
                + String(repeating: "x", count: 40)
            let created = try await gw.request(.post, "/api/v1/labels", json: ["name": name], auth: account)
            #expect(created.status == .created)
            let labelId = try #require(created["id"] as? String)
            let added = try await gw.request(
                .post, "/api/v1/batch/mails/labels/add", json: ["ids": [id], "labelId": labelId], auth: account)
            #expect(added.status == .ok)
            #expect(added.failedItems.isEmpty)
            // doveadm's look lowercases flags; Dovecot adds $HasAttachment / $HasNoAttachment itself.
            let seen = try #require(try await gw.bed.look(box)[uids[0]])
            let keywords = seen.flags.filter { !$0.hasPrefix("\\") && !$0.hasPrefix("$has") }
            #expect(keywords.count == 1, "the label's keyword is on the message: \(keywords)")
            #expect(keywords.allSatisfy { $0.hasPrefix("$gw_") && $0.utf8.count <= 50 })
        }
    }

    /// A batch with `ids` and an unknown sort field is refused and changes nothing.
    @Test func invalidSortInfoWithoutRangesChangesNothing() async throws {
        try await GatewayHarness.run { gw in
            let account = gw.bed.alice
            let box = TestBed.uniqueMailbox("GwSortInfo")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 2)
            let folders = try await gw.folderIDs(account)
            let ids = uids.map { MailID(folderId: folders[box]!, uidValidity: validity, uid: $0).encoded }
            let before = try await gw.bed.look(box)
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/delete",
                json: ["ids": ids, "sortInfo": ["field": "nonsense", "direction": "ASC"]], auth: account)
            #expect(reply.status == .badRequest)
            #expect(reply.errorField == "sortInfo.field")
            #expect(try await gw.bed.look(box) == before)
        }
    }
}
