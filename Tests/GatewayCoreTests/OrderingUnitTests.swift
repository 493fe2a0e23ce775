import GatewayCore
import IMAPCore
import Testing

/// Pure pieces of the batch engine: IDs, planning, ordering rules, header text.
@Suite struct OrderingUnitTests {
    @Test func mailIDRoundTripsAndRefusesNonCanonicalForms() throws {
        let id = MailID(folderId: "AbC123xyz789", uidValidity: 1_795_641_766, uid: 42)
        #expect(MailID(id.encoded) == id)
        #expect(!id.encoded.contains("="))
        for bad in ["", "not-a-mail-id", id.encoded + "=", "QUJDXzBfMQ", "QUJDXzFfMA", "QUJDXzAxXzE", "QV8xXzJfMw", "YS1iXzFfMg"] {
            #expect(MailID(bad) == nil, "\(bad) must not decode")
        }
    }

    @Test func planGroupsByFolderAndDeduplicates() {
        let a1 = MailID(folderId: "A", uidValidity: 1, uid: 1).encoded
        let a2 = MailID(folderId: "A", uidValidity: 1, uid: 2).encoded
        let stale = MailID(folderId: "A", uidValidity: 9, uid: 2).encoded
        let b = MailID(folderId: "B", uidValidity: 1, uid: 7).encoded
        let plan = BatchPlan(ids: [a1, "junk", b, a2, a1, stale])
        #expect(plan.distinctIDs == [a1, "junk", b, a2, stale])
        #expect(plan.undecodable == ["junk"])
        #expect(plan.folders.map(\.folderId) == ["A", "B", "A"])
        #expect(plan.folders[0].uids == [1, 2])
        #expect(plan.folders[2].uidValidity == 9)
        #expect(plan.ordered([stale, a1]) == [a1, stale])
    }

    @Test func nonNativeOrderIsValueThenDateAndDescIsTheExactReverse() {
        // Date order (ascending SORT (DATE)): 5 3 1 4 2; values: 1 and 4 are "true".
        let dateOrder: [UInt32] = [5, 3, 1, 4, 2]
        let value: (UInt32) -> Int = { $0 == 1 || $0 == 4 ? 1 : 0 }
        let ascending = OrderingRules.order(dateOrder: dateOrder, value: value, direction: .ascending)
        #expect(ascending == [5, 3, 2, 1, 4])
        #expect(OrderingRules.order(dateOrder: dateOrder, value: value, direction: .descending) == ascending.reversed())
    }

    @Test(arguments: [
        ("X-Priority: 1 (Highest)\r\n", 2), ("X-Priority: 2\r\n", 2), ("X-Priority: 3\r\n", 1), ("X-Priority: 5 (Lowest)\r\n", 0),
        ("Importance: High\r\n", 2), ("importance: low\r\n", 0), ("Priority: urgent\r\n", 2), ("Priority: non-urgent\r\n", 0),
        ("", 1), ("X-Priority: 4\r\nImportance: high\r\n", 0),
    ])
    func importanceFromPriorityHeaders(headers: String, expected: Int) {
        #expect(OrderingRules.importance(headers: headers).rawValue == expected)
    }

    @Test func encodedWordsDecode() {
        #expect(HeaderText.decodeWords("=?UTF-8?B?U29jacOpdMOp?=") == "Société")
        #expect(HeaderText.decodeWords("=?iso-8859-1?Q?Caf=E9_cr=E8me?= du jour") == "Café crème du jour")
        #expect(HeaderText.decodeWords("=?UTF-8?Q?a?= =?UTF-8?Q?b?=") == "ab")
        #expect(HeaderText.decodeWords("plain text") == "plain text")
        #expect(HeaderText.decodeWords("=?bogus") == "=?bogus")
    }
}
