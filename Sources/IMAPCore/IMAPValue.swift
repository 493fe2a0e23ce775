/// A generic parenthesised value as it appears in IMAP data (ENVELOPE, BODYSTRUCTURE, THREAD, …):
/// the raw tree the parser reads before a typed view interprets it.
public indirect enum IMAPValue: Hashable, Sendable {
    case `nil`
    /// An atom or a number, as text.
    case atom(String)
    /// A quoted string or a literal, as octets.
    case string([UInt8])
    case list([IMAPValue])

    /// The value as text: atoms and strings; nil for NIL and lists.
    public var text: String? {
        switch self {
        case .atom(let a): a
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .nil, .list: nil
        }
    }

    /// The value as a non-negative number, when it is one.
    public var number: UInt64? {
        switch self {
        case .atom(let a): UInt64(a)
        case .string(let bytes): UInt64(String(decoding: bytes, as: UTF8.self))
        case .nil, .list: nil
        }
    }

    public var list: [IMAPValue]? {
        if case .list(let items) = self { return items }
        return nil
    }

    public var isNil: Bool { self == .nil }
}
