/// The gateway's own ordering for fields IMAP SORT has no key for (SPEC §3): by (value, date,
/// UID) ascending, where "date, UID" is the server's `SORT (DATE)` order (RFC 5256: the Date
/// header, internal date where missing, ties by sequence number, which follows UID). DESC is the
/// exact reverse of ASC. Pure, so it is unit-tested directly.
public enum OrderingRules {
    /// Orders `dateOrder` (the ascending `SORT (DATE)` answer) by `value` first, keeping date
    /// order within each value; messages without a value count as 0.
    public static func order(dateOrder: [UInt32], value: (UInt32) -> Int, direction: SortDirection) -> [UInt32] {
        let keyed = dateOrder.enumerated().map { (value: value($1), position: $0, uid: $1) }
        let ascending = keyed.sorted { a, b in a.value != b.value ? a.value < b.value : a.position < b.position }.map(\.uid)
        return direction == .ascending ? ascending : ascending.reversed()
    }

    /// RFC-style importance from the priority headers.
    /// `X-Priority: 1|2` high, `3` normal, `4|5` low; `Importance: high|low`; `Priority:
    /// urgent|non-urgent`; the first header of each name counts. `X-Priority` counts only when its
    /// value starts with one ASCII digit 1–5 not followed by another digit (`1 (Highest)`); any
    /// other value (`10`, `-1`, `99999999999999999999`, garbage) is ignored, and the next header
    /// decides. No number is ever converted, so no value can overflow; work is linear in the size
    /// of `headers`.
    public static func importance(headers: String) -> Importance {
        var fields: [String: String] = [:]
        var current: String?
        for rawLine in headers.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine[...]
            if let first = line.first, first == " " || first == "\t", let key = current {
                // Unfolding (RFC 5322 §2.2.3): a value may start on a continuation line.
                let previous = fields[key, default: ""]
                fields[key] = previous.isEmpty ? line.trimmingCharacters() : previous + " " + line.trimmingCharacters()
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].lowercased()
            if fields[key] == nil {
                fields[key] = line[line.index(after: colon)...].trimmingCharacters()
                current = key
            } else {
                current = nil
            }
        }
        if let x = fields["x-priority"]?.utf8, let digit = x.first, x.dropFirst().first.map(isDigit) != true {
            switch digit {
            case UInt8(ascii: "1"), UInt8(ascii: "2"): return .high
            case UInt8(ascii: "3"): return .normal
            case UInt8(ascii: "4"), UInt8(ascii: "5"): return .low
            default: break
            }
        }
        if let importance = fields["importance"]?.lowercased() {
            if importance.hasPrefix("high") { return .high }
            if importance.hasPrefix("low") { return .low }
            return .normal
        }
        if let priority = fields["priority"]?.lowercased() {
            if priority.hasPrefix("urgent") { return .high }
            if priority.hasPrefix("non-urgent") { return .low }
        }
        return .normal
    }

    /// The headers ``importance(headers:)`` reads, as listings and metadata syncs fetch them.
    public static let priorityHeaders = ["X-Priority", "Importance", "Priority"]
}

/// Whether `byte` is an ASCII decimal digit.
private func isDigit(_ byte: UInt8) -> Bool {
    byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
}

extension StringProtocol {
    func trimmingCharacters() -> String {
        var slice = self[...]
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" || last == "\r" { slice = slice.dropLast() }
        return String(slice)
    }
}
