import IMAPCore
import Testing

@testable import GatewayCore

/// The conversation index's memory stays bounded: by accounts and by messages in all, the account
/// in use always kept.
struct ConversationMemoTests {
    static func entry(messages: Int) -> ConversationIndex.FolderEntry {
        let keys = SortKeys(subject: [], from: [], to: [], date: 0, size: 0)
        let headers = Dictionary(uniqueKeysWithValues: (0..<messages).map {
            (UInt32($0 + 1), ThreadHeaders(keys: keys, messageID: "m\($0)@x", references: [], isReplyOrForward: false))
        })
        return ConversationIndex.FolderEntry(token: "t", uidValidity: 1, headers: headers, meta: [:])
    }

    @Test func atMostSixteenAccountsTheOldestGoesFirst() {
        let memo = ConversationIndex.Memo()
        for account in 0..<20 { memo.store(account: "a\(account)", folderId: "F", entry: Self.entry(messages: 1)) }
        #expect(memo.folder(account: "a0", folderId: "F") == nil)
        #expect(memo.folder(account: "a3", folderId: "F") == nil)
        #expect(memo.folder(account: "a4", folderId: "F") != nil)
        #expect(memo.folder(account: "a19", folderId: "F") != nil)
    }

    @Test func messagesInAllAreBoundedButTheAccountInUseStays() {
        let memo = ConversationIndex.Memo()
        memo.store(account: "small", folderId: "F", entry: Self.entry(messages: 10))
        memo.store(account: "big", folderId: "F", entry: Self.entry(messages: ConversationIndex.Memo.maxMessages - 20))
        #expect(memo.folder(account: "small", folderId: "F") != nil, "within the bound")
        memo.store(account: "big", folderId: "G", entry: Self.entry(messages: 20))
        #expect(memo.folder(account: "small", folderId: "F") == nil, "over the bound: the older account goes")
        #expect(memo.folder(account: "big", folderId: "G") != nil)
        memo.store(account: "huge", folderId: "F", entry: Self.entry(messages: ConversationIndex.Memo.maxMessages + 1))
        #expect(memo.folder(account: "huge", folderId: "F") != nil, "the account in use stays even alone over the bound")
        #expect(memo.folder(account: "big", folderId: "F") == nil)
    }
}
