import GatewayCore
import GatewayFakes
import GatewayStore
import IMAPCore
import Testing

/// Which IMAP keyword a label gets: a plain atom of at most 50 octets is its own keyword, anything
/// else a generated `$gw_…` one, so user text never reaches the command line unvalidated.
@Suite struct LabelPolicyTests {
    enum Keyword: Sendable { case own, generated }

    @Test(arguments: [
        ("Work", Keyword.own),
        ("Project-X_2024.v1", .own),
        ("NIL", .own),
        (String(repeating: "a", count: 50), .own),
        (String(repeating: "a", count: 51), .generated),
        ("Work Stuff", .generated),
        ("Café", .generated),
        ("日本", .generated),
        ("$Important", .generated),
        ("$Forwarded", .generated),
        ("$HasAttachment", .generated),
        ("a(b", .generated),
        ("x]y", .generated),
        ("50%", .generated),
        ("star*", .generated),
        ("quo\"te", .generated),
        ("back\\slash", .generated),
        ("{5}", .generated),
    ])
    func aLabelGetsItsOwnNameAsKeywordOnlyWhenThatIsASafeAtom(name: String, expected: Keyword) async throws {
        let h = try EngineHarness.make()
        let label = try await h.engine.labels.create(credentials: h.credentials, name: name)
        #expect(label.name == name)
        switch expected {
        case .own:
            #expect(label.keyword == name)
        case .generated:
            #expect(label.keyword.hasPrefix("$gw_"))
            #expect(label.keyword.utf8.count == 20)
            #expect(Flag.isValidKeyword(label.keyword))
            #expect(LabelService.isLabelKeyword(Flag(label.keyword)))
        }
        #expect(try await h.database.label(account: user, id: label.id) == label, "the store keeps what create returned")
    }

    @Test func twoGeneratedKeywordsDiffer() async throws {
        let h = try EngineHarness.make()
        let a = try await h.engine.labels.create(credentials: h.credentials, name: "a b")
        let b = try await h.engine.labels.create(credentials: h.credentials, name: "c d")
        #expect(a.keyword != b.keyword)
        #expect(a.id != b.id)
    }

    @Test(arguments: ["junk", "Junk", "NOTJUNK", "nonJunk"])
    func reservedNamesAreRefused(name: String) async throws {
        let h = try EngineHarness.make()
        let error = await #expect(throws: GatewayError.self) { try await h.engine.labels.create(credentials: h.credentials, name: name) }
        #expect(error?.kind == .badRequest)
        #expect(error?.code == "invalidLabelName")
        #expect(try await h.database.labels(account: user).isEmpty)
    }

    @Test(arguments: ["", "   ", String(repeating: "é", count: 129), "tab\there", "new\nline"])
    func invalidNamesAreRefused(name: String) async throws {
        let h = try EngineHarness.make()
        let error = await #expect(throws: GatewayError.self) { try await h.engine.labels.create(credentials: h.credentials, name: name) }
        #expect(error?.code == "invalidLabelName")
    }

    @Test func aNameOf128CodePointsIsAccepted() async throws {
        let h = try EngineHarness.make()
        let name = String(repeating: "é", count: 128)
        let label = try await h.engine.labels.create(credentials: h.credentials, name: name)
        #expect(label.name == name)
        #expect(label.keyword.hasPrefix("$gw_"))
    }

    @Test(arguments: [
        ("\\Seen", false), ("\\Flagged", false), ("\\Deleted", false), ("$Forwarded", false), ("$forwarded", false),
        ("$HasAttachment", false), ("$HasNoAttachment", false), ("$MDNSent", false), ("$Junk", false), ("NotJunk", false),
        ("nonjunk", false), ("$Phishing", false), ("$SubmitPending", false), ("$Submitted", false),
        ("Work", true), ("$gw_abcdefghijklmnop", true), ("$label1", true), ("$Important", true),
    ])
    func isLabelKeyword(flag: String, expected: Bool) {
        #expect(LabelService.isLabelKeyword(Flag(flag)) == expected)
    }

    /// A keyword found on the server becomes a label named after it; once that label is renamed,
    /// a new label of the old name cannot take the keyword (it is another label's), so it gets a
    /// generated one — also when the name differs only in case.
    @Test func aNameWhoseKeywordIsTakenGetsAGeneratedKeyword() async throws {
        let h = try EngineHarness.make()
        h.server.seed(user, "Archive", [MessageSeed(flags: [Flag("Travel"), .seen, Flag("$Forwarded")])])
        let labels = try await h.engine.labels.list(credentials: h.credentials)
        #expect(labels.map(\.keyword) == ["Travel"], "system keywords are not labels")
        let travel = try #require(labels.first)
        #expect(travel.name == "Travel")
        _ = try await h.engine.labels.rename(credentials: h.credentials, id: travel.id, name: "Trips")
        let again = try await h.engine.labels.create(credentials: h.credentials, name: "TRAVEL")
        #expect(again.keyword.hasPrefix("$gw_"))
        #expect(try await h.database.label(account: user, id: travel.id)?.keyword == "Travel")
    }

    @Test func aDuplicateNameConflictsWhateverItsCase() async throws {
        let h = try EngineHarness.make()
        _ = try await h.engine.labels.create(credentials: h.credentials, name: "Work")
        await #expect(throws: LabelConflict.self) { try await h.engine.labels.create(credentials: h.credentials, name: "work") }
        #expect(try await h.database.labels(account: user).count == 1)
    }

    /// Deleting a label removes its keyword from every message of every folder, and only its keyword.
    @Test func deletingALabelRemovesItsKeywordEverywhere() async throws {
        let h = try EngineHarness.make()
        let label = try await h.engine.labels.create(credentials: h.credentials, name: "Work")
        let other = try await h.engine.labels.create(credentials: h.credentials, name: "Home")
        h.server.seed(user, "INBOX", [MessageSeed(flags: [Flag("Work"), Flag("Home")]), MessageSeed(flags: [Flag("work")])])
        h.server.seed(user, "Archive", [MessageSeed(flags: [Flag("Work"), .seen])])
        try await h.engine.labels.delete(credentials: h.credentials, id: label.id)
        for mailbox in ["INBOX", "Archive"] {
            #expect(h.server.messages(user, mailbox).allSatisfy { !$0.has(Flag("Work")) })
        }
        #expect(h.server.messages(user, "INBOX")[0].has(Flag(other.keyword)))
        #expect(h.server.messages(user, "Archive")[0].has(.seen))
        #expect(try await h.database.label(account: user, id: label.id) == nil)
    }
}
