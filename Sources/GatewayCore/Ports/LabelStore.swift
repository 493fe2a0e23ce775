/// A label of an account: its ID, the IMAP keyword that marks its messages, its display name.
public struct Label: Hashable, Sendable {
    public var id: String
    public var keyword: String
    public var name: String

    public init(id: String, keyword: String, name: String) {
        self.id = id
        self.keyword = keyword
        self.name = name
    }
}

/// Why a label store refused a write: another label of the account already has the name or the
/// keyword (each compared case-insensitively).
public enum LabelConflict: Error, Hashable, Sendable {
    case duplicateName(String)
    case duplicateKeyword(String)
}

/// Labels ↔ keywords per account. Names and keywords are each unique per account,
/// case-insensitively; policy (which names become their own keyword) is the engine's.
public protocol LabelStore: Sendable {
    /// All labels of the account, ordered by name (case-insensitively).
    func labels(account: String) async throws -> [Label]
    func label(account: String, id: String) async throws -> Label?
    /// The label backed by this keyword (compared case-insensitively).
    func label(account: String, keyword: String) async throws -> Label?
    /// A new label with a new random ID; throws ``LabelConflict``.
    func createLabel(account: String, name: String, keyword: String) async throws -> Label
    /// Gives every keyword without a label a label named after it (skipping names already taken);
    /// returns all labels of the account, ordered by name.
    func ensureLabels(account: String, keywords: [String]) async throws -> [Label]
    /// Renames a label (nil when unknown); throws ``LabelConflict/duplicateName(_:)``.
    func renameLabel(account: String, id: String, name: String) async throws -> Label?
    /// Forgets a label (nil when unknown).
    @discardableResult
    func deleteLabel(account: String, id: String) async throws -> Label?
}
