/// A mailbox name as it travels on the wire (modified UTF-7 bytes) with its decoded Unicode form.
///
/// The wire bytes are kept exactly as the server sent them, so a name read from LIST is sent back
/// byte for byte even where the server's encoding is not canonical.
public struct MailboxName: Hashable, Sendable, CustomStringConvertible {
    /// The bytes used on the wire.
    public let wire: [UInt8]

    /// Creates a name from a Unicode string, encoding it as modified UTF-7.
    public init(_ name: String) {
        if name.uppercased() == "INBOX" {
            wire = Array("INBOX".utf8)
        } else {
            wire = Array(ModifiedUTF7.encode(name).utf8)
        }
    }

    /// Creates a name from wire bytes as a server sent them.
    public init(wire: [UInt8]) { self.wire = wire }

    public static let inbox = MailboxName("INBOX")

    /// The decoded Unicode name; falls back to the raw bytes read as UTF-8 when they are not valid modified UTF-7.
    public var name: String { ModifiedUTF7.decode(wire) ?? String(decoding: wire, as: UTF8.self) }

    public var isInbox: Bool { String(decoding: wire, as: UTF8.self).uppercased() == "INBOX" }

    public var description: String { name }
}
