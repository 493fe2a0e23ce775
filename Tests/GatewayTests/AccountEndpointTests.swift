import Foundation
import GatewayApp
import GatewayCore
import GatewayHTTP
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IMAPClient
import IMAPCore
import NIOCore
import TestBedSupport
import Testing

/// Sessions, trusted mode, folders, labels and the public endpoints.
@Suite(.enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"))
struct AccountEndpointTests {
    static let session = HTTPField.Name("X-Axigen-Session")!

    /// `GET /readyz` over the real parts: 200 with Dovecot answering and the database taking
    /// writes; 503 `notReady` naming the IMAP server when nothing listens on its port.
    @Test func readinessAsksTheIMAPServerAndTheDatabase() async throws {
        try await GatewayHarness.run { gw in
            let ready = try await gw.request(.get, "/readyz", auth: nil)
            #expect(ready.status == .ok)
            #expect(ready["status"] as? String == "ready")
        }
        try await GatewayHarness.run(configure: { $0.imap.port = 1 }) { gw in
            let reply = try await gw.request(.get, "/readyz", auth: nil)
            #expect(reply.status == .serviceUnavailable)
            #expect(reply.errorCode == "notReady")
            let message = ((reply["error"] as? [String: Any])?["message"] as? String) ?? ""
            #expect(message.hasPrefix("not ready: imap: "), "\(message)")
            #expect(!message.contains("database"), "\(message)")
        }
    }

    /// `/readyz` turns 503 when the IMAP server stops answering: the gateway reaches the server
    /// through a proxy, ready while it runs, not ready once the test stops it.
    @Test func readinessTurnsUnavailableWhenTheIMAPServerStops() async throws {
        let bed = try TestBed.require()
        let proxy = try RefusingProxy(targetPort: bed.port, refusing: [])
        let port = proxy.port
        try await GatewayHarness.run(configure: { $0.imap.port = port }) { gw in
            #expect(try await gw.request(.get, "/readyz", auth: nil).status == .ok)
            proxy.stop()
            let down = try await gw.request(.get, "/readyz", auth: nil)
            #expect(down.status == .serviceUnavailable)
            #expect(((down["error"] as? [String: Any])?["message"] as? String)?.hasPrefix("not ready: imap: ") == true)
        }
    }

    @Test func publicEndpoints() async throws {
        try await GatewayHarness.run { gw in
            let api = try await gw.request(.get, "/api/", auth: nil)
            #expect(api.status == .ok)
            #expect(api["apiVersion"] as? String == "v1")
            #expect(api["serverVersion"] as? String != nil)
            #expect(try await gw.request(.get, "/healthz", auth: nil).status == .ok)
            let openAPI = try await gw.client.execute(uri: "/api/v1/openapi.yaml", method: .get)
            #expect(openAPI.status == .ok)
            let text = String(buffer: openAPI.body)
            #expect(text.hasPrefix("openapi: 3."))
            for path in ["/api/v1/batch/mails/copy", "/api/v1/batch/mails/labels/remove", "/api/v1/folders", "/api/v1/login", "/api/v1/mails", "/metrics"] {
                #expect(text.contains(path + ":"), "OpenAPI documents \(path)")
            }
            let missing = try await gw.request(.get, "/api/v1/nothing-here", auth: gw.bed.alice)
            #expect(missing.status == .notFound)
            #expect(missing.errorCode == "notFound")
        }
    }

    @Test func sessionLoginUseAndLogout() async throws {
        try await GatewayHarness.run { gw in
            let login = try await gw.request(.post, "/api/v1/login", auth: gw.bed.alice)
            #expect(login.status == .ok)
            let sessid = try #require(login["sessid"] as? String)
            #expect(sessid.count >= 43)
            let folders = try await gw.request(.get, "/api/v1/folders", auth: nil, headers: [Self.session: sessid])
            #expect(folders.status == .ok)
            let logout = try await gw.request(.post, "/api/v1/logout", auth: nil, headers: [Self.session: sessid])
            #expect(logout.status == .noContent)
            let after = try await gw.request(.get, "/api/v1/folders", auth: nil, headers: [Self.session: sessid])
            #expect(after.status == .unauthorized)
            let wrongLogin = try await gw.request(.post, "/api/v1/login", auth: IMAPCredentials(user: "alice", password: "x"))
            #expect(wrongLogin.status == .unauthorized)
        }
    }

    /// SPEC §2: a mailbox that disappears and reappears under the same name gets a new folder ID,
    /// so a mail ID minted for the old one fails instead of addressing a message of the new one
    /// (whose UIDs start again at 1). Checked with doveadm.
    @Test func aReappearingMailboxGetsANewFolderID() async throws {
        try await GatewayHarness.run { gw in
            let account = gw.bed.alice
            let name = TestBed.uniqueMailbox("Reappear")
            let before = try await gw.makeMailbox(name, count: 2, as: account)
            let oldID = try #require(try await gw.folderIDs(account)[name])
            let oldMail = MailID(folderId: oldID, uidValidity: before.uidValidity, uid: before.uids[0]).encoded

            let connection = try await gw.bed.connect(account)
            try await connection.delete(MailboxName(name))
            await connection.logout()
            #expect(try await gw.folderIDs(account)[name] == nil, "gone from the listing")

            let after = try await gw.makeMailbox(name, count: 2, as: account)
            let newID = try #require(try await gw.folderIDs(account)[name])
            #expect(newID != oldID)
            // Even if the new mailbox had the old UIDVALIDITY, the old ID names the old folder.
            let reused = MailID(folderId: oldID, uidValidity: after.uidValidity, uid: after.uids[0]).encoded
            let reply = try await gw.request(
                .post, "/api/v1/batch/mails/update", json: ["ids": [oldMail, reused], "isFlagged": true], auth: account)
            #expect(reply.status == .ok)
            #expect(reply.failedItems == [oldMail, reused])
            let seen = try await gw.bed.look(name, user: account.user)
            #expect(seen.count == 2)
            #expect(seen.values.allSatisfy { !$0.flags.contains("\\Flagged") }, "no message of the new mailbox was touched")
        }
    }

    /// A trusted key of the length SPEC §3 requires (at least 32 characters).
    static let frontKey = "front-secret-0123456789abcdef-0123456789"

    /// Trusted front mode: the gateway logs in as the master user on behalf of X-Mailbox-User.
    @Test func trustedFrontActsForTheNamedUser() async throws {
        let bed = try TestBed.require()
        try await GatewayHarness.run(configure: {
            $0.authMode = .trusted
            $0.trustedKey = Self.frontKey
            $0.loginThrottle.perAddress = .init(burst: 3, refill: .seconds(60))
            $0.masterUser = bed.masterUser
            $0.masterPassword = bed.masterPassword
        }) { gw in
            let box = TestBed.uniqueMailbox("GwTrusted")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 1)
            let user = HTTPField.Name("X-Mailbox-User")!
            let key = HTTPField.Name("X-Gateway-Key")!
            let folders = try await gw.request(.get, "/api/v1/folders", auth: nil, headers: [user: "alice", key: Self.frontKey])
            #expect(folders.status == .ok)
            let items = (folders["items"] as? [[String: Any]]) ?? []
            let folderId = try #require(items.first { $0["name"] as? String == box }?["id"] as? String)
            let id = MailID(folderId: folderId, uidValidity: validity, uid: uids[0]).encoded
            let flagged = try await gw.request(
                .post, "/api/v1/batch/mails/update", json: ["ids": [id], "isFlagged": true], auth: nil,
                headers: [user: "alice", key: Self.frontKey])
            #expect(flagged.status == .ok)
            #expect(flagged.failedItems.isEmpty)
            #expect(try await gw.bed.look(box)[uids[0]]?.flags.contains("\\flagged") == true)
            let wrongKey = try await gw.request(.get, "/api/v1/folders", auth: nil, headers: [user: "alice", key: "guess"])
            #expect(wrongKey.status == .unauthorized)
            let basic = try await gw.request(.get, "/api/v1/folders", auth: gw.bed.alice)
            #expect(basic.status == .unauthorized, "trusted mode accepts only the front's headers")
            // An empty key never means "anyone" (issue 13, finding 2).
            let emptyKey = try await gw.request(.get, "/api/v1/folders", auth: nil, headers: [user: "alice", key: ""])
            #expect(emptyKey.status == .unauthorized)
            // Wrong keys cost the guesser: after the address's burst, 429 with Retry-After; the right key still works.
            let throttled = try await gw.request(.get, "/api/v1/folders", auth: nil, headers: [user: "alice", key: "guess-again"])
            #expect(throttled.status == .tooManyRequests)
            #expect(throttled.errorCode == "tooManyLoginFailures")
            #expect(try await gw.request(.get, "/api/v1/folders", auth: nil, headers: [user: "alice", key: Self.frontKey]).status == .ok)
        }
    }

    @Test func foldersShowRolesHierarchyAndCounts() async throws {
        try await GatewayHarness.run { gw in
            let root = TestBed.uniqueMailbox("GwTree")
            _ = try await gw.makeMailbox(root, count: 0)
            _ = try await gw.makeMailbox("\(root)/Société", count: 2, flags: [[.seen], []])
            let reply = try await gw.request(.get, "/api/v1/folders", auth: gw.bed.alice)
            #expect(reply.status == .ok)
            let items = (reply["items"] as? [[String: Any]]) ?? []
            let roles = Dictionary(items.map { ($0["name"] as? String ?? "", $0["role"] as? String ?? "") }, uniquingKeysWith: { a, _ in a })
            #expect(roles["INBOX"] == "inbox")
            #expect(roles["Trash"] == "trash")
            #expect(roles["Sent"] == "sent")
            #expect(roles["Drafts"] == "drafts")
            #expect(roles["Junk"] == "junk")
            let parent = try #require(items.first { $0["name"] as? String == root })
            let child = try #require(items.first { $0["name"] as? String == "Société" && $0["parentId"] as? String == parent["id"] as? String })
            #expect(child["totalItems"] as? Int == 2)
            #expect(child["unreadItems"] as? Int == 1)
            #expect((child["folderSize"] as? Int ?? 0) > 0)
            #expect(parent["parentId"] is NSNull)
        }
    }

    /// As bob, whose folders are small: GET /labels EXAMINEs every folder, and alice's big folders are
    /// being filled and sorted by other suites at the same time.
    @Test func labelLifecycle() async throws {
        try await GatewayHarness.run { gw in
            let owner = gw.bed.bob
            let suffix = UUID().uuidString.prefix(6)
            let name = "Work\(suffix)"
            let created = try await gw.request(.post, "/api/v1/labels", json: ["name": name], auth: owner)
            #expect(created.status == .created)
            let id = try #require(created["id"] as? String)
            #expect(try await gw.request(.post, "/api/v1/labels", json: ["name": name.uppercased()], auth: owner).status == .conflict)
            for reserved in ["junk", "NotJunk", "nonjunk", "", String(repeating: "x", count: 129), "a\u{0007}b"] {
                let refused = try await gw.request(.post, "/api/v1/labels", json: ["name": reserved], auth: owner)
                #expect(refused.status == .badRequest, "\(reserved.debugDescription) refused")
                #expect(refused.errorCode == "invalidLabelName")
            }

            // A keyword put on a message by another IMAP client shows up as a label.
            let box = TestBed.uniqueMailbox("GwKeywords")
            let (validity, uids, _) = try await gw.makeMailbox(box, count: 2, as: owner)
            let connection = try await gw.bed.connect(owner)
            try await connection.select(MailboxName(box))
            try await connection.uidStore([uids[0]], .add, flags: [Flag("Server\(suffix)")])
            connection.close()
            let listed = try await gw.request(.get, "/api/v1/labels", auth: owner)
            #expect(listed.status == .ok, "\(listed.json ?? "")")
            let names = ((listed["items"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
            #expect(names.contains(name))
            #expect(names.contains("Server\(suffix)"))
            #expect(!names.contains { $0.lowercased() == "$hasnoattachment" })

            // Use the label, rename it, delete it: the keyword leaves every message.
            let folders = try await gw.folderIDs(owner)
            let ids = uids.map { MailID(folderId: folders[box]!, uidValidity: validity, uid: $0).encoded }
            let added = try await gw.request(.post, "/api/v1/batch/mails/labels/add", json: ["ids": ids, "labelId": id], auth: owner)
            #expect(added.failedItems.isEmpty)
            #expect(try await gw.bed.look(box, user: owner.user).values.allSatisfy { $0.flags.contains(name.lowercased()) })
            let renamed = try await gw.request(.patch, "/api/v1/labels/\(id)", json: ["name": "Renamed \(suffix)"], auth: owner)
            #expect(renamed.status == .ok)
            #expect(renamed["name"] as? String == "Renamed \(suffix)")
            #expect(try await gw.bed.look(box, user: owner.user).values.allSatisfy { $0.flags.contains(name.lowercased()) }, "rename keeps the keyword")
            #expect(try await gw.request(.delete, "/api/v1/labels/\(id)", auth: owner).status == .noContent)
            #expect(try await gw.bed.look(box, user: owner.user).values.allSatisfy { !$0.flags.contains(name.lowercased()) })
            #expect(try await gw.request(.delete, "/api/v1/labels/\(id)", auth: owner).status == .notFound)

            // Another account cannot reach the owner's labels.
            let kept = try await gw.request(.post, "/api/v1/labels", json: ["name": "Kept \(suffix)"], auth: owner)
            let keptId = try #require(kept["id"] as? String)
            let foreign = try await gw.request(.patch, "/api/v1/labels/\(keptId)", json: ["name": "Stolen"], auth: gw.bed.alice)
            #expect(foreign.status == .notFound)
            #expect(try await gw.request(.delete, "/api/v1/labels/\(keptId)", auth: gw.bed.alice).status == .notFound)
            let mine = try await gw.request(.patch, "/api/v1/labels/\(keptId)", json: ["name": "Kept again \(suffix)"], auth: owner)
            #expect(mine["name"] as? String == "Kept again \(suffix)")
        }
    }
}
