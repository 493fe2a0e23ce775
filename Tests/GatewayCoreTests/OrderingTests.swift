import GatewayCore
import GatewayFakes
import IMAPCore
import Testing

/// The ordering rules (pure tables, cases beyond `OrderingUnitTests`), and `MailOrdering` over the
/// fake: the gateway's own fields by (value, date, UID) with DESC the exact reverse, native fields
/// as the server sorts them, listings and ranges in agreement.
@Suite struct OrderingTests {
    // MARK: - OrderingRules.order

    /// (date order, UIDs whose value is 1 (the rest 0, or -1 for those in `negative`), ascending result).
    @Test(arguments: [
        ([UInt32](), [UInt32](), [UInt32](), [UInt32]()),
        ([7], [7], [], [7]),
        ([4, 2, 9], [], [], [4, 2, 9]),
        ([4, 2, 9], [4, 2, 9], [], [4, 2, 9]),
        ([4, 2, 9, 1], [4], [9], [9, 2, 1, 4]),
        ([10, 20, 30, 40, 50], [10, 30, 50], [], [20, 40, 10, 30, 50]),
    ])
    func orderIsValueThenDateOrder(dateOrder: [UInt32], ones: [UInt32], negative: [UInt32], expected: [UInt32]) {
        let value: (UInt32) -> Int = { ones.contains($0) ? 1 : negative.contains($0) ? -1 : 0 }
        let ascending = OrderingRules.order(dateOrder: dateOrder, value: value, direction: .ascending)
        #expect(ascending == expected)
        #expect(OrderingRules.order(dateOrder: dateOrder, value: value, direction: .descending) == expected.reversed())
        #expect(ascending.sorted() == dateOrder.sorted(), "a permutation: nothing lost or added")
    }

    // MARK: - OrderingRules.importance

    @Test(arguments: [
        ("X-Priority: 10\r\n", Importance.normal),
        ("X-Priority: 0\r\n", .normal),
        ("X-Priority: 99999999999999999999\r\nImportance: low\r\n", .low),
        ("X-Priority: abc\r\nPriority: urgent\r\n", .high),
        ("X-Priority:1\r\n", .high),
        ("X-PRIORITY: 5\r\n", .low),
        ("X-Priority: 1\nSubject: x\n", .high),
        ("Importance: low\r\nImportance: high\r\n", .low),
        // RFC 5322 §2.2.3: folded headers are read unfolded, also when the value starts on the continuation line.
        ("Importance:\r\n high\r\n", .high),
        ("X-Priority:\r\n 5 (Lowest)\r\n", .low),
        ("X-Priority:\r\n\t1\r\n", .high),
        ("Importance: low\r\n (folded comment)\r\n", .low),
        ("Importance: normal\r\nPriority: urgent\r\n", .normal),
        ("Priority: normal\r\n", .normal),
        ("Subject: X-Priority: 1\r\n", .normal),
        ("X-Priority: 2 (High)\r\nImportance: low\r\n", .high),
        ("X-Priority: -1\r\nImportance: High\r\n", .high),
    ])
    func importanceFromHeaders(headers: String, expected: Importance) {
        #expect(OrderingRules.importance(headers: headers) == expected)
    }

    // MARK: - MailOrdering on the fake

    /// A message of the ordering folder: its date, flags, priority and attachment.
    struct Spec: Sendable {
        var date: Int64
        var flagged = false
        var seen = false
        var priority: String?
        var attachment = false
    }

    /// Eight messages, two date ties, every field mixed.
    static let specs: [Spec] = [
        Spec(date: 5000, flagged: true, priority: "1"),
        Spec(date: 1000, seen: true, attachment: true),
        Spec(date: 3000, flagged: true, seen: true, priority: "5"),
        Spec(date: 3000, priority: "3", attachment: true),
        Spec(date: 2000, seen: true, priority: "2 (High)"),
        Spec(date: 4000, flagged: true, attachment: true),
        Spec(date: 1000, priority: "4"),
        Spec(date: 6000, seen: true, priority: "1"),
    ]

    private func seeded() throws -> (EngineHarness, [UInt32]) {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", Self.specs.map { spec in
            MessageSeed(
                date: spec.date, flags: (spec.flagged ? [.flagged] : []) + (spec.seen ? [.seen] : []), xPriority: spec.priority,
                hasAttachment: spec.attachment)
        })
        return (h, uids)
    }

    /// The expected value of a gateway-ordered field, read from the specs (not from the engine).
    private static func value(_ spec: Spec, _ field: SortField) -> Int {
        switch field {
        case .isFlagged: spec.flagged ? 1 : 0
        case .isUnread: spec.seen ? 0 : 1
        case .hasAttachments: spec.attachment ? 1 : 0
        case .importance:
            switch spec.priority?.first {
            case "1", "2": 2
            case "4", "5": 0
            default: 1
            }
        default: 0
        }
    }

    @Test(arguments: [SortField.isFlagged, .isUnread, .importance, .hasAttachments, .folderName])
    func gatewayFieldsOrderByValueThenDateThenUIDAndDescIsTheExactReverse(field: SortField) async throws {
        let (h, uids) = try seeded()
        let expected = zip(uids, Self.specs).sorted { a, b in
            let (va, vb) = (Self.value(a.1, field), Self.value(b.1, field))
            if va != vb { return va < vb }
            if a.1.date != b.1.date { return a.1.date < b.1.date }
            return a.0 < b.0
        }.map(\.0)
        let ascending = try await h.listing("INBOX", field, .ascending)
        let descending = try await h.listing("INBOX", field, .descending)
        #expect(ascending == expected)
        #expect(descending == expected.reversed())
    }

    @Test func nativeDateDescendingKeepsTiesAscendingAsTheServerAnswers() async throws {
        let (h, uids) = try seeded()
        let ascending = try await h.listing("INBOX", .date, .ascending)
        let descending = try await h.listing("INBOX", .date, .descending)
        let byDate = zip(uids, Self.specs).sorted { a, b in a.1.date != b.1.date ? a.1.date < b.1.date : a.0 < b.0 }.map(\.0)
        let byDateDescending = zip(uids, Self.specs).sorted { a, b in a.1.date != b.1.date ? a.1.date > b.1.date : a.0 < b.0 }.map(\.0)
        #expect(ascending == byDate)
        #expect(descending == byDateDescending)
        #expect(descending != ascending.reversed(), "REVERSE is not the mirror image when dates tie")
    }

    /// A range resolves to the very items the listing shows from its start, for a gateway field.
    @Test(arguments: [SortDirection.ascending, .descending])
    func aRangeAndTheListingAgreeItemForItem(direction: SortDirection) async throws {
        let (h, _) = try seeded()
        let listed = try await h.listing("INBOX", .importance, direction)
        let start = try await h.mailID("INBOX", uid: listed[2])
        let outcome = try await h.run(
            .copy(destinationFolderId: try await h.folderId("Archive")), ids: [], ranges: [MailRange(start: start, limit: 3)],
            order: MailSortOrder(field: .importance, direction: direction))
        #expect(outcome.failedItems.isEmpty)
        #expect(Set(h.messageIDs("Archive")) == Set(h.messageIDs("INBOX", uids: Array(listed[2..<5]))))
        #expect(h.messageIDs("Archive").count == 3)
    }

    /// A flag changed by another client reorders a flag field at once: the cached order's token
    /// holds HIGHESTMODSEQ, and the metadata sync fetches the flags changed since the last one.
    @Test func aFlagChangedElsewhereReordersTheFlagField() async throws {
        let h = try EngineHarness.make()
        try await expectFlagChangesReorder(h)
    }

    /// The same without CONDSTORE: no `MODSEQ` is fetched (the fake, like such a server, answers
    /// BAD to it), and since nothing tells what changed, the flags of every known message are
    /// fetched again, so a flag changed by another client still reorders `isFlagged`.
    @Test func withoutCondStoreAFlagChangedElsewhereStillReordersTheFlagField() async throws {
        let h = try EngineHarness.make(dropping: [.condStore])
        try await expectFlagChangesReorder(h)
        #expect(h.server.commands(.fetch).allSatisfy { !"\($0)".uppercased().contains("MODSEQ") }, "no MODSEQ asked")
    }

    private func expectFlagChangesReorder(_ h: EngineHarness) async throws {
        let uids = h.server.seed(user, "INBOX", count: 4)
        #expect(try await h.listing("INBOX", .isFlagged, .ascending) == uids)
        h.server.setFlags(user, "INBOX", uids: [uids[1]], add: [.flagged])
        let afterOne = try await h.listing("INBOX", .isFlagged, .ascending)
        #expect(afterOne == [uids[0], uids[2], uids[3], uids[1]])
        h.server.setFlags(user, "INBOX", uids: [uids[1]], remove: [.flagged])
        h.server.setFlags(user, "INBOX", uids: [uids[0]], add: [.flagged])
        let afterTwo = try await h.listing("INBOX", .isFlagged, .descending)
        #expect(afterTwo == [uids[0], uids[3], uids[2], uids[1]])
    }

    /// A message that arrives or goes is reflected in the next listing (the order is cached per folder state).
    @Test func newAndRemovedMessagesInvalidateTheCachedOrder() async throws {
        let h = try EngineHarness.make()
        let uids = h.server.seed(user, "INBOX", [MessageSeed(date: 300, xPriority: "1"), MessageSeed(date: 100), MessageSeed(date: 200)])
        #expect(try await h.listing("INBOX", .importance, .ascending) == [uids[1], uids[2], uids[0]])
        let added = h.server.seed(user, "INBOX", [MessageSeed(date: 50, xPriority: "5")])
        h.server.removeMessages(user, "INBOX", uids: [uids[2]])
        #expect(try await h.listing("INBOX", .importance, .ascending) == [added[0], uids[1], uids[0]])
        #expect(try await h.listing("INBOX", .date, .ascending) == [added[0], uids[1], uids[0]])
    }

    /// SPEC §3: "Where the server lacks SORT, the gateway computes the same order itself, exactly as
    /// RFC 5256 defines it": for the native fields, and for the gateway's own fields, which start
    /// from the date order. No SORT command is sent.
    @Test func withoutSortTheGatewayStillOrdersByDate() async throws {
        let h = try EngineHarness.make(dropping: [.sort])
        let uids = h.server.seed(user, "INBOX", [MessageSeed(date: 300), MessageSeed(date: 100), MessageSeed(date: 200)])
        let byDate = try await h.listing("INBOX", .date, .ascending)
        #expect(byDate == [uids[1], uids[2], uids[0]])
        #expect(try await h.listing("INBOX", .date, .descending) == [uids[0], uids[2], uids[1]])
        let byFlag = try await h.listing("INBOX", .isFlagged, .ascending)
        #expect(byFlag == [uids[1], uids[2], uids[0]])
        #expect(h.server.commands(.sort).isEmpty)
        // A message that arrives, and one that goes, are seen by the next listing (keys kept in step).
        let added = h.server.seed(user, "INBOX", [MessageSeed(date: 150)])
        h.server.removeMessages(user, "INBOX", uids: [uids[2]])
        #expect(try await h.listing("INBOX", .date, .ascending) == [uids[1], added[0], uids[0]])
    }
}
