import IMAPCore

/// `GET /api/v1/folders`: the account's folders with their counts and size, in one LIST (with
/// LIST-STATUS where offered; `STATUS=SIZE` only where the server has it).
public struct FolderService: Sendable {
    let mailServer: any MailServer
    let store: any FolderStore

    public init(mailServer: any MailServer, store: any FolderStore) {
        self.mailServer = mailServer
        self.store = store
    }

    /// The account's selectable folders, with STATUS MESSAGES, UNSEEN and SIZE where known.
    public func folders(credentials: AccountCredentials) async throws -> [FolderInfo] {
        try await mailServer.withSession(credentials) { session in
            var items: [StatusItem] = [.messages, .unseen]
            if session.capabilities.contains(Capability("STATUS=SIZE")) { items.append(.size) }
            let directory = try await MailboxDirectory.load(session: session, store: store, account: credentials.user, status: items)
            return directory.folders.filter(\.selectable)
        }
    }
}
