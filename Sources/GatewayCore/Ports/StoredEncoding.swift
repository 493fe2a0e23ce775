/// The byte forms the store adapters keep lists in (SQLite blobs, PostgreSQL `bytea`), in one
/// place so that both stores write and read exactly the same bytes.
public enum StoredEncoding {
    /// UIDs as 4-byte little-endian values: a sort order of 100,000 messages is one 400 kB value.
    public static func pack(_ uids: [UInt32]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(uids.count * 4)
        for uid in uids {
            out.append(UInt8(truncatingIfNeeded: uid))
            out.append(UInt8(truncatingIfNeeded: uid >> 8))
            out.append(UInt8(truncatingIfNeeded: uid >> 16))
            out.append(UInt8(truncatingIfNeeded: uid >> 24))
        }
        return out
    }

    /// The UIDs ``pack(_:)`` wrote; a truncated tail is ignored.
    public static func unpack<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) -> [UInt32] where Bytes.Index == Int {
        var out = [UInt32]()
        out.reserveCapacity(bytes.count / 4)
        var i = bytes.startIndex
        while i + 3 < bytes.endIndex {
            out.append(UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
            i += 4
        }
        return out
    }

    /// Strings as 4-byte little-endian lengths and UTF-8 bytes: any byte may occur in a message ID.
    public static func packStrings(_ strings: [String]) -> [UInt8] {
        var out: [UInt8] = []
        for string in strings {
            let bytes = Array(string.utf8)
            let count = UInt32(clamping: bytes.count)
            for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8(truncatingIfNeeded: count >> UInt32(shift))) }
            out += bytes.prefix(Int(count))
        }
        return out
    }

    /// The strings ``packStrings(_:)`` wrote; a truncated tail is ignored.
    public static func unpackStrings<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes) -> [String] where Bytes.Index == Int {
        var out: [String] = []
        var index = bytes.startIndex
        while index + 4 <= bytes.endIndex {
            var count = 0
            for shift in 0..<4 { count |= Int(bytes[index + shift]) << (8 * shift) }
            index += 4
            guard count <= bytes.endIndex - index else { break }
            out.append(String(decoding: bytes[index..<(index + count)], as: UTF8.self))
            index += count
        }
        return out
    }
}
