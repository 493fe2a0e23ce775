/// Parses one complete response frame (as cut by ``ResponseFramer``) into a ``Response``.
///
/// The grammar follows RFC 3501 with the extensions the gateway uses (UIDPLUS, CONDSTORE/QRESYNC,
/// ESEARCH/ESORT, SORT/THREAD, ENABLE, SPECIAL-USE). Untagged responses it does not model become
/// ``UntaggedResponse/unknown(_:)`` rather than errors.
///
/// The server may be wrong, and much of what it sends was written by strangers (SPEC §4), so every
/// dimension that could exhaust the stack or memory is bounded: see the limits below.
public struct ResponseParser: Sendable {
    /// Upper bound on numbers produced by expanding a range such as COPYUID's `1:100000`.
    public var maxExpandedSetSize: Int
    /// How deeply parenthesised values (BODYSTRUCTURE, ENVELOPE, THREAD, extension data) may nest;
    /// deeper input is refused with an ``IMAPParseError`` instead of overflowing the stack.
    ///
    /// The default, 256, is well above what a real message produces: Dovecot stops parsing MIME at
    /// 100 nested parts, and each nested part adds at most two levels (a `message/rfc822` part and
    /// its body), plus three for a part's parameter and disposition lists or an embedded envelope.
    public var maxNestingDepth: Int
    /// How deep a `THREAD` tree may grow. RFC 5256 writes a reply chain as a flat list (`(1 2 3)`
    /// is 3 under 2 under 1), so a long chain would otherwise become an equally deep tree whose
    /// comparison and deallocation recurse once per level. Members past this depth are kept in
    /// the thread but hang side by side under the last node that fits, in the order given.
    public var maxThreadDepth: Int

    /// The default ``maxNestingDepth``.
    public static let defaultMaxNestingDepth = 256
    /// The default ``maxThreadDepth``.
    public static let defaultMaxThreadDepth = 1_000

    public init(
        maxExpandedSetSize: Int = 10_000_000, maxNestingDepth: Int = Self.defaultMaxNestingDepth,
        maxThreadDepth: Int = Self.defaultMaxThreadDepth
    ) {
        self.maxExpandedSetSize = maxExpandedSetSize
        self.maxNestingDepth = maxNestingDepth
        self.maxThreadDepth = maxThreadDepth
    }

    /// Parses one frame; the frame must hold exactly one response including its final CRLF (or LF).
    public func parse<Bytes: Collection>(_ frame: Bytes) throws(IMAPParseError) -> Response
    where Bytes.Element == UInt8 {
        var cursor = Cursor(Array(frame), limits: self)
        let response = try cursor.response()
        try cursor.expectEndOfLine()
        guard cursor.isAtEnd else { throw cursor.error("data after the end of the response") }
        return response
    }
}

/// The reading position within a frame, with the grammar's productions as methods.
struct Cursor {
    let bytes: [UInt8]
    var index = 0
    /// How many parenthesised values enclose the reading position (see ``ResponseParser/maxNestingDepth``).
    var depth = 0
    let maxExpandedSetSize: Int
    let maxNestingDepth: Int
    let maxThreadDepth: Int

    init(_ bytes: [UInt8], limits: ResponseParser) {
        self.bytes = bytes
        self.maxExpandedSetSize = limits.maxExpandedSetSize
        self.maxNestingDepth = limits.maxNestingDepth
        self.maxThreadDepth = limits.maxThreadDepth
    }

    var isAtEnd: Bool { index >= bytes.count }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    var atEndOfLine: Bool { peek == nil || peek == UInt8(ascii: "\r") || peek == UInt8(ascii: "\n") }

    func error(_ message: String) -> IMAPParseError {
        let from = Swift.max(0, index - 20)
        let to = Swift.min(bytes.count, index + 20)
        let excerpt = String(decoding: bytes[from..<to].map { $0 < 0x20 ? UInt8(ascii: "?") : $0 }, as: UTF8.self)
        return IMAPParseError(message, excerpt: excerpt)
    }

    mutating func expect(_ c: UInt8) throws(IMAPParseError) {
        guard peek == c else { throw error("expected \"\(Character(Unicode.Scalar(c)))\"") }
        index += 1
    }

    mutating func expectSpace() throws(IMAPParseError) { try expect(UInt8(ascii: " ")) }

    /// Consumes `c` if it is next.
    mutating func take(_ c: UInt8) -> Bool {
        guard peek == c else { return false }
        index += 1
        return true
    }

    mutating func expectEndOfLine() throws(IMAPParseError) {
        _ = take(UInt8(ascii: "\r"))
        try expect(UInt8(ascii: "\n"))
    }

    /// Consumes `word` case-insensitively when it is next and followed by a non-atom character.
    mutating func takeKeyword(_ word: String) -> Bool {
        let w = Array(word.utf8)
        guard index + w.count <= bytes.count else { return false }
        for (k, c) in w.enumerated() where Self.upper(bytes[index + k]) != c { return false }
        if index + w.count < bytes.count, IMAPGrammar.isAtomChar(bytes[index + w.count]),
            bytes[index + w.count] != UInt8(ascii: "[")
        {
            return false
        }
        index += w.count
        return true
    }

    static func upper(_ c: UInt8) -> UInt8 {
        c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z") ? c - 32 : c
    }

    // MARK: Tokens

    /// A run of atom characters (plus `\`, `*` and `[`…`]` when `extended` for flags and fetch names).
    mutating func atom(allowing extra: (UInt8) -> Bool = { _ in false }) throws(IMAPParseError) -> String {
        let start = index
        while let c = peek, IMAPGrammar.isAtomChar(c) || extra(c) { index += 1 }
        guard index > start else { throw error("expected an atom") }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    mutating func number() throws(IMAPParseError) -> UInt64 {
        let start = index
        var value: UInt64 = 0
        while let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(c - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw error("number too large") }
            value = a
            index += 1
        }
        guard index > start else { throw error("expected a number") }
        return value
    }

    mutating func number32() throws(IMAPParseError) -> UInt32 {
        let n = try number()
        guard n <= UInt64(UInt32.max) else { throw error("number exceeds 32 bits") }
        return UInt32(n)
    }

    /// A quoted string: `"…"` with `\"` and `\\` escapes.
    mutating func quoted() throws(IMAPParseError) -> [UInt8] {
        try expect(UInt8(ascii: "\""))
        var out: [UInt8] = []
        while let c = peek {
            index += 1
            switch c {
            case UInt8(ascii: "\""):
                return out
            case UInt8(ascii: "\\"):
                guard let e = peek, e == UInt8(ascii: "\\") || e == UInt8(ascii: "\"") else {
                    throw error("bad escape in quoted string")
                }
                out.append(e)
                index += 1
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                throw error("line break inside quoted string")
            default:
                out.append(c)
            }
        }
        throw error("unterminated quoted string")
    }

    /// A literal: `{n}` CRLF and n octets (also `~{n}` literal8).
    mutating func literal() throws(IMAPParseError) -> [UInt8] {
        _ = take(UInt8(ascii: "~"))
        try expect(UInt8(ascii: "{"))
        let n = try number()
        _ = take(UInt8(ascii: "+"))
        try expect(UInt8(ascii: "}"))
        try expectEndOfLine()
        guard n <= UInt64(bytes.count - index) else { throw error("literal longer than the frame") }
        let data = Array(bytes[index..<index + Int(n)])
        index += Int(n)
        return data
    }

    /// string = quoted / literal
    mutating func string() throws(IMAPParseError) -> [UInt8] {
        switch peek {
        case UInt8(ascii: "\""): return try quoted()
        case UInt8(ascii: "{"), UInt8(ascii: "~"): return try literal()
        default: throw error("expected a string")
        }
    }

    /// nstring = string / NIL
    mutating func nstring() throws(IMAPParseError) -> [UInt8]? {
        if takeKeyword("NIL") { return nil }
        return try string()
    }

    /// astring = 1*ASTRING-CHAR / string
    mutating func astring() throws(IMAPParseError) -> [UInt8] {
        if peek == UInt8(ascii: "\"") || peek == UInt8(ascii: "{") { return try string() }
        let start = index
        while let c = peek, IMAPGrammar.isAStringChar(c) { index += 1 }
        guard index > start else { throw error("expected an astring") }
        return Array(bytes[start..<index])
    }

    /// The rest of the line, as text.
    mutating func textToEndOfLine() -> String {
        let start = index
        while !atEndOfLine { index += 1 }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    /// A generic value: NIL, atom/number, quoted, literal, or a parenthesised list of those.
    mutating func value() throws(IMAPParseError) -> IMAPValue {
        switch peek {
        case UInt8(ascii: "("):
            guard depth < maxNestingDepth else { throw error("parentheses nested deeper than \(maxNestingDepth)") }
            depth += 1
            defer { depth -= 1 }
            index += 1
            var items: [IMAPValue] = []
            while true {
                while take(UInt8(ascii: " ")) {}
                if take(UInt8(ascii: ")")) { return .list(items) }
                if atEndOfLine { throw error("unterminated list") }
                items.append(try value())
            }
        case UInt8(ascii: "\""):
            return .string(try quoted())
        case UInt8(ascii: "{"), UInt8(ascii: "~"):
            return .string(try literal())
        default:
            let start = index
            while let c = peek, c > 0x20, c < 0x7f, c != UInt8(ascii: "("), c != UInt8(ascii: ")"),
                c != UInt8(ascii: "\""), c != UInt8(ascii: "]")
            {
                index += 1
            }
            guard index > start else { throw error("expected a value") }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            return text.uppercased() == "NIL" ? .nil : .atom(text)
        }
    }

    /// flag-list = "(" [flag *(SP flag)] ")"
    mutating func flagList() throws(IMAPParseError) -> [Flag] {
        try expect(UInt8(ascii: "("))
        var flags: [Flag] = []
        while true {
            while take(UInt8(ascii: " ")) {}
            if take(UInt8(ascii: ")")) { return flags }
            let flag = try atom(allowing: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "*") })
            flags.append(Flag(flag))
        }
    }

    /// A sequence-set as a normalised set (`*` is refused: servers send concrete numbers).
    mutating func uidSet() throws(IMAPParseError) -> UIDSet {
        var ranges: [ClosedRange<UInt32>] = []
        for (a, b) in try orderedRanges() { ranges.append(Swift.min(a, b)...Swift.max(a, b)) }
        return UIDSet(ranges: ranges)
    }

    /// A sequence-set expanded in the order written (`5:3,9` gives 5 4 3 9), as COPYUID and ESORT require.
    mutating func orderedNumbers() throws(IMAPParseError) -> [UInt32] {
        let ranges = try orderedRanges()
        var total = 0
        for (a, b) in ranges { total += Int(a > b ? a - b : b - a) + 1 }
        guard total <= maxExpandedSetSize else { throw error("set expands to more than \(maxExpandedSetSize) numbers") }
        var out: [UInt32] = []
        out.reserveCapacity(total)
        for (a, b) in ranges {
            if a <= b { out.append(contentsOf: a...b) } else { out.append(contentsOf: (b...a).reversed()) }
        }
        return out
    }

    private mutating func orderedRanges() throws(IMAPParseError) -> [(UInt32, UInt32)] {
        var ranges: [(UInt32, UInt32)] = []
        repeat {
            let a = try number32()
            var b = a
            if take(UInt8(ascii: ":")) { b = try number32() }
            guard a > 0, b > 0 else { throw error("zero in a sequence set") }
            ranges.append((a, b))
        } while take(UInt8(ascii: ","))
        return ranges
    }
}

