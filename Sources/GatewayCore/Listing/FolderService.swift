import IMAPCore

/// `GET /api/v1/folders`: the account's folders with their counts and size, in one LIST (with
/// LIST-STATUS where offered; `STATUS=SIZE` only where the server has it).
public struct FolderService: Sendable {
    let mailServer: any MailServer
    let folderLists: FolderListCache

    public init(mailServer: any MailServer, folderLists: FolderListCache) {
        self.mailServer = mailServer
        self.folderLists = folderLists
    }

    /// The account's selectable folders, with STATUS MESSAGES, UNSEEN and SIZE where known, and
    /// the non-selectable ones (IMAP `\Noselect`, a hierarchy level only) that are their ancestors,
    /// so every `parentId` names a listed folder. Dovecot makes such a level, for example, when a
    /// child of an auto-created Trash is created before Trash itself.
    public func folders(credentials: AccountCredentials) async throws -> [FolderInfo] {
        try await mailServer.withSession(credentials) { session in
            var items: [StatusItem] = [.messages, .unseen]
            if session.capabilities.contains(Capability("STATUS=SIZE")) { items.append(.size) }
            let directory = try await folderLists.list(session: session, account: credentials.user, status: items)
            var ancestors: Set<String> = []
            for folder in directory.folders where folder.selectable {
                var parent = folder.parentId
                while let id = parent, ancestors.insert(id).inserted {
                    parent = directory.folder(id: id)?.parentId
                }
            }
            return directory.folders.filter { $0.selectable || ancestors.contains($0.id) }
        }
    }
}
