import GatewayApp
import Foundation
import GatewayCore
import HTTPTypes
import IMAPClient
import IMAPCore
import TestBedSupport
import Testing

/// Issue 13's hostile mail suite (SPEC §4, "Mail is written by strangers"): the messages of
/// `integration/hostile-mail.py` — overflowing and negative Date numbers, years 0 and 99999,
/// absurd zones, 10 KB subjects, broken and unknown-charset encoded words, invalid UTF-8 and NUL
/// bytes, empty and garbage From/To, MIME nested 100 and 300 levels deep, huge and garbage
/// priority headers, no header at all, 100 KB header lines — seeded into a fresh folder of the
/// hostile-mail account, listed under all ten sort fields in both directions and used in ranges.
@Suite(
    .enabled(if: TestBed.isEnabled, "needs the Dovecot test bed (integration/run-tests.sh)"),
    .disabled(if: TestBed.isCyrus, "writes its messages into a Dovecot Maildir; Cyrus refuses several of them on APPEND (CYRUS.md)"))
struct HostileMailTests {
    /// One hostile form as the generator describes it; message `index` has UID `index + 1`.
    struct Form: Decodable {
        var index: Int
        var name: String
        var category: String
        /// Seconds since 1970 (the Maildir file's mtime).
        var internalDate: Int64
        /// The ISO 8601 date the listing must show: the Date header's, or the internal date's.
        var date: String
        var dateReadable: Bool
        var importance: String

        var uid: UInt32 { UInt32(index + 1) }
    }

    struct Manifest: Decodable {
        var folder: String
        var count: Int
        var forms: [Form]
    }

    /// Runs the generator against the test bed; returns its manifest.
    static func seed(_ bed: TestBed, user: String, folder: String) async throws -> Manifest {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("integration/hostile-mail.py").path
        let (status, data) = try await TestBed.offCooperativeThreads {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", script, "--mail-root", bed.mailRoot, "--user", user, "--folder", folder, "--conf", bed.dovecotConfig,
            ]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, data)
        }
        try #require(status == 0, "hostile-mail.py failed")
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    static let orders: [MailSortOrder] = SortField.allCases.flatMap {
        [MailSortOrder(field: $0, direction: .ascending), MailSortOrder(field: $0, direction: .descending)]
    }

    static let importanceRank = ["low": 0, "normal": 1, "high": 2]

    /// UID → X-Hostile-Form header, as doveadm reads the folder.
    static func formNames(_ bed: TestBed, user: String, folder: String) throws -> [UInt32: String] {
        let text = try bed.doveadm(["-f", "tab", "fetch", "-u", user, "uid hdr.x-hostile-form", "mailbox", folder, "ALL"])
        var names: [UInt32: String] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            if fields.count >= 2, let uid = UInt32(fields[0]) { names[uid] = fields[1].trimmingCharacters(in: .whitespaces) }
        }
        return names
    }

    /// The order the listing must give, computed without the gateway: the server's `UID SORT` for
    /// native keys (each direction as the server answers it); otherwise (value, date, UID)
    /// ascending over `dateOrder`, DESC its exact reverse.
    static func independentOrder(
        _ order: MailSortOrder, dateOrder: [UInt32], imap: IMAPConnection, value: (UInt32) -> Int
    ) async throws -> [UInt32] {
        if let criterion = order.field.nativeCriterion {
            return try await imap.uidSort([SortKey(criterion, reverse: order.direction == .descending)])
        }
        let ascending = dateOrder.enumerated().sorted { a, b in
            value(a.element) != value(b.element) ? value(a.element) < value(b.element) : a.offset < b.offset
        }.map(\.element)
        return order.direction == .ascending ? ascending : ascending.reversed()
    }

    @Test func hostileMailListsUnderEveryOrderAndRangesTouchExactlyTheirMessages() async throws {
        try await GatewayHarness.run { gw in
            let account = gw.bed.hostileMailAccount
            let box = TestBed.uniqueMailbox("Hostile")
            let forms = try await Self.seed(gw.bed, user: account.user, folder: box).forms
            defer { _ = try? gw.bed.doveadm(["mailbox", "delete", "-u", account.user, box]) }
            let count = forms.count
            #expect(count >= 30, "the suite has \(count) hostile forms")
            let categories: Set = ["date", "zone", "subject", "encoded-word", "bytes", "address", "mime", "priority", "structure"]
            #expect(Set(forms.map(\.category)) == categories)
            #expect(forms.filter { !$0.dateReadable }.count >= 10)
            let formByUID = Dictionary(uniqueKeysWithValues: forms.map { ($0.uid, $0) })
            let allUIDs = Set(formByUID.keys)

            // Independent look: each UID holds the form the manifest says.
            let names = try Self.formNames(gw.bed, user: account.user, folder: box)
            #expect(Set(names.keys) == allUIDs)
            for form in forms where form.name != "no-headers" {
                #expect(names[form.uid] == form.name, "UID \(form.uid)")
            }

            // The manifest's dates are all distinct, so they give the date order outright; Dovecot
            // agrees: an unreadable Date sorts as the internal date.
            let imap = try await gw.bed.connect(account)
            defer { imap.close() }
            _ = try await imap.select(MailboxName(box))
            let dateOrder = forms.sorted { $0.date < $1.date }.map(\.uid)
            #expect(try await imap.uidSort([SortKey(.date)]) == dateOrder, "Dovecot reads the dates as the manifest says")

            let folderId = try #require(try await gw.folderIDs(account)[box])
            for (position, order) in Self.orders.enumerated() {
                let label = "\(order.field.rawValue) \(order.direction.rawValue)"
                let query = "folderId=\(folderId)&sort=\(order.field.rawValue)&dir=\(order.direction.rawValue)&limit=1000"
                let listing = try await gw.request(.get, "/api/v1/mails?" + query, auth: account)
                #expect(listing.status == .ok, "\(label)")
                #expect(listing["totalItems"] as? Int == count, "\(label)")
                let items = (listing["items"] as? [[String: Any]]) ?? []
                let ids = items.compactMap { $0["id"] as? String }
                let listed = ids.compactMap { MailID($0)?.uid }
                #expect(listed.count == count && Set(listed) == allUIDs, "\(label): every message exactly once")
                var hasAttachments: [UInt32: Bool] = [:]
                for item in items {
                    guard let uid = MailID(item["id"] as? String ?? "")?.uid, let form = formByUID[uid] else { continue }
                    #expect(item["date"] as? String == form.date, "\(label): date of \(form.name)")
                    #expect(item["importance"] as? String == form.importance, "\(label): importance of \(form.name)")
                    #expect(item["subject"] is String && item["from"] is String && item["to"] is String, "\(label): \(form.name)")
                    hasAttachments[uid] = item["hasAttachments"] as? Bool
                }
                let value: (UInt32) -> Int
                switch order.field {
                case .importance: value = { Self.importanceRank[formByUID[$0]?.importance ?? ""] ?? 1 }
                case .hasAttachments: value = { hasAttachments[$0] == true ? 1 : 0 }
                default: value = { _ in 0 }  // nothing is flagged or seen; folderName is constant
                }
                let expectedOrder = try await Self.independentOrder(order, dateOrder: dateOrder, imap: imap, value: value)
                #expect(listed == expectedOrder, "\(label)")
                guard listed.count == count else { continue }

                // A range over the hostile messages flags exactly its window (checked by doveadm);
                // the window is then unflagged by ID, so every order starts from the same folder.
                let window = 12
                let offset = position * 5 % (count - window)
                let expected = Set(listed[offset..<(offset + window)])
                let before = try await gw.bed.look(box, user: account.user).mapValues { $0.flags.subtracting(["\\recent"]) }
                let flagged = try await gw.request(
                    .post, "/api/v1/batch/mails/update",
                    json: [
                        "ranges": [["start": ids[offset], "limit": window]], "isFlagged": true,
                        "sortInfo": ["field": order.field.rawValue, "direction": order.direction.rawValue],
                    ], auth: account)
                #expect(flagged.status == .ok && flagged.failedItems.isEmpty, "\(label)")
                let after = try await gw.bed.look(box, user: account.user).mapValues { $0.flags.subtracting(["\\recent"]) }
                #expect(Set(after.filter { $0.value.contains("\\flagged") }.keys) == expected, "\(label): exactly the range")
                for (uid, flags) in after {
                    let touched = before[uid]?.union(expected.contains(uid) ? ["\\flagged"] : [])
                    #expect(flags == touched, "\(label): UID \(uid) changed only by the range")
                }

                let unflagged = try await gw.request(
                    .post, "/api/v1/batch/mails/update", json: ["ids": Array(ids[offset..<(offset + window)]), "isFlagged": false],
                    auth: account)
                #expect(unflagged.status == .ok && unflagged.failedItems.isEmpty, "\(label)")
                #expect(try await gw.bed.search(box, ["FLAGGED"], user: account.user).isEmpty, "\(label)")
            }

            // Still alive, still answering.
            let root = try await gw.request(.get, "/api/", auth: nil)
            #expect(root.status == .ok)
            #expect(root["apiVersion"] != nil)
        }
    }
}
