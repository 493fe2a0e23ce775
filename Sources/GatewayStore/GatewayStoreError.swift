/// Errors of the gateway store that callers are expected to handle (as opposed to SQLite
/// failures, which surface as GRDB's `DatabaseError`).
public enum GatewayStoreError: Error, Hashable, Sendable {
    /// Another label of the account already has this name (compared case-insensitively).
    case duplicateLabelName(String)
    /// Another label of the account already uses this IMAP keyword (compared case-insensitively).
    case duplicateLabelKeyword(String)
    /// No folder with this ID exists for the account.
    case folderNotFound(String)
}
