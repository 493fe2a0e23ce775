import GatewayCore
import GatewayFakes
import IMAPCore
import Testing

/// The account every engine test acts for.
let user = "alice"

extension EngineHarness {
    /// A harness over a fresh server with these capabilities and line limit, and these batch settings.
    static func make(
        dropping dropped: Set<Capability> = [], lineLimit: Int = 8192, batch: MailBatchExecutor.Configuration = .init()
    ) throws -> EngineHarness {
        let server = InMemoryMailServer(capabilities: InMemoryMailServer.defaultCapabilities.subtracting(dropped), lineLimit: lineLimit)
        return try EngineHarness(server: server, configuration: EngineHarness.configuration(batch: batch))
    }

    /// The Message-IDs of a mailbox, ascending by UID.
    func messageIDs(_ mailbox: String) -> [String] { server.mailbox(user, mailbox)?.messageIDs ?? [] }

    /// The UIDs of a mailbox.
    func uids(_ mailbox: String) -> [UInt32] { server.mailbox(user, mailbox)?.uids ?? [] }

    /// The Message-IDs of the messages of `uids` in `mailbox`, in the order of `uids`.
    func messageIDs(_ mailbox: String, uids: [UInt32]) -> [String] {
        let box = server.mailbox(user, mailbox)
        return uids.compactMap { box?.message(uid: $0)?.messageID }
    }

    /// The UIDs (in order) of a listing of the whole folder.
    func listing(_ mailbox: String, _ field: SortField, _ direction: SortDirection) async throws -> [UInt32] {
        let page = try await engine.listing.page(
            credentials: credentials, folderId: try await folderId(mailbox), order: MailSortOrder(field: field, direction: direction),
            start: 0, limit: 10_000)
        return page.items.compactMap { MailID($0.id)?.uid }
    }
}

/// `ids` minus `removed`, in order.
func without(_ ids: [String], _ removed: [String]) -> [String] { ids.filter { !removed.contains($0) } }

/// How many times each element occurs.
func occurrences<T: Hashable>(_ items: [T]) -> [T: Int] { items.reduce(into: [:]) { $0[$1, default: 0] += 1 } }
