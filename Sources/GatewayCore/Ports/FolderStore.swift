import Foundation

/// Stable folder IDs (SPEC §2): one random ID per mailbox of an account, kept while the mailbox
/// is listed. A mailbox that disappears is forgotten, so one that reappears under the same name
/// gets a new ID and mail IDs minted for the old one never address it.
public protocol FolderStore: Sendable {
    /// The folder ID of each of `mailboxes` (wire names as LIST returned them), giving new
    /// mailboxes a new random ID; existing ones keep theirs.
    func ensureFolders(account: String, mailboxes: [String]) async throws -> [String: String]

    /// Forgets the folders of the account whose mailbox is not in `mailboxes` (with what the
    /// store caches for them) — only those recorded before `listedAt`, the moment the LIST that
    /// gave `mailboxes` was sent: a folder another request recorded since may be newer than that
    /// answer, and must keep its ID.
    func forgetFolders(account: String, except mailboxes: Set<String>, listedAt: Date) async throws
}
