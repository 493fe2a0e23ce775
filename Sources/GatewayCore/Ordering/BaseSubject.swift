#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The base subject of RFC 5256 §2.1, as `SORT (SUBJECT)` and the `THREAD` algorithms compare it.
///
/// The steps run on the subject's ``Collation`` form, as Dovecot runs them
/// (`imap_get_base_subject_cased` in `src/lib-imap/imap-base-subject.c`): encoded words are decoded
/// and every character titlecased and decomposed first (RFC 5256 §2.1 step 1 and its
/// internationalization section), so `re:`/`Fwd:`/`[fwd:` match in any case, a fullwidth `ＲＥ：`
/// or a no-break space counts as `RE:` or a space, and the result is already the collation key.
/// Two subjects have the same base subject exactly when their ``extract(_:)`` bases are equal.
public enum BaseSubject {
    /// RFC 5256 §2.1 steps 1–7 over a Subject header value (RFC 2047 encoded words undecoded, as
    /// `ENVELOPE` gives it). `base` is in ``Collation`` form (titlecased, decomposed); its UTF-8 is
    /// the `SUBJECT` sort key. `isReplyOrForward` says whether a step removed a `re`/`fw`/`fwd`
    /// leader, a `(fwd)` trailer or a `[fwd: …]` wrapper: what RFC 5256 §2.1 records for
    /// threading, where REFERENCES (§3, step 5) merges threads by base subject.
    ///
    /// Work is linear in the length of `subject` (blob scans are remembered while the text does
    /// not change), so hostile subjects — huge, deeply nested, broken encodings — cost no more
    /// than their size.
    public static func extract(_ subject: String) -> (base: String, isReplyOrForward: Bool) {
        let (bytes, isReplyOrForward) = extractKey(subject)
        return (String(decoding: bytes, as: UTF8.self), isReplyOrForward)
    }

    /// ``extract(_:)`` with the base as its UTF-8 octets: the `SUBJECT` sort key.
    public static func extractKey(_ subject: String) -> (base: [UInt8], isReplyOrForward: Bool) {
        var text = SubjectText(EncodedWords.decodeCasemapped(Array(subject.utf8)))
        text.packWhitespace()
        var isReplyOrForward = false
        var start = 0
        repeat {
            // (2) trailers: "(fwd)" and whitespace at the end.
            text.removeTrailers(after: start, isReplyOrForward: &isReplyOrForward)
            var found: Bool
            repeat {
                // (3) a subj-leader: WSP, or blobs then "re"/"fw"/"fwd" [WSP] [blob] ":".
                found = text.removeLeader(at: &start, isReplyOrForward: &isReplyOrForward)
                // (4) a leading blob, when something remains after it.
                found = text.removeBlobWhenNonEmpty(at: &start) || found
            } while found  // (5)
        } while text.removeForwardWrapper(at: &start, isReplyOrForward: &isReplyOrForward)  // (6)
        return (text.cString(from: start), isReplyOrForward)  // (7)
    }
}

/// A subject in Collation form with C-string reading (a 0 octet ends what the steps see, as in
/// Dovecot), and the positions of blobs remembered until the text changes.
private struct SubjectText {
    /// The octets, always ending with one 0 (the buffer's terminator); earlier 0s may occur.
    private var bytes: [UInt8]
    /// `blobEnd[i]`: where a blob starting at `i` ends (after one following space), or -1.
    private var blobEnd: [Int: Int] = [:]
    /// `chainEnd[i]`: the first position after the blobs that follow each other from `i`, or -1.
    private var chainEnd: [Int: Int] = [:]

    init(_ content: [UInt8]) {
        bytes = content + [0]
    }

    /// The octet at `index`, 0 past the end.
    private subscript(_ index: Int) -> UInt8 {
        index >= 0 && index < bytes.count ? bytes[index] : 0
    }

    /// Whether the C string at `index` starts with the ASCII `prefix`.
    private func hasPrefix(_ prefix: StaticString, at index: Int) -> Bool {
        var position = index
        for byte in UnsafeBufferPointer(start: prefix.utf8Start, count: prefix.utf8CodeUnitCount) {
            guard self[position] == byte else { return false }
            position += 1
        }
        return true
    }

    /// The octets from `index` up to the first 0.
    func cString(from index: Int) -> [UInt8] {
        guard index < bytes.count else { return [] }
        let end = bytes[index...].firstIndex(of: 0) ?? bytes.count
        return Array(bytes[index..<end])
    }

    /// Replaces the text by its first `count` octets (plus the terminator); forgets blob positions.
    private mutating func truncate(to count: Int) {
        bytes.removeSubrange(count...)
        bytes.append(0)
        blobEnd.removeAll()
        chainEnd.removeAll()
    }

    /// Step (1)'s whitespace: each run of SP, HTAB, CR, LF becomes one SP (up to the first 0, which
    /// then ends the text — Dovecot's `pack_whitespace`).
    mutating func packWhitespace() {
        func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A }
        var index = 0
        while self[index] != 0 {
            let byte = self[index]
            let next = self[index + 1]
            if byte == 0x09 || byte == 0x0A || byte == 0x0D || (byte == 0x20 && (next == 0x20 || next == 0x09)) {
                break
            }
            index += 1
        }
        guard self[index] != 0 else { return }
        var destination = index
        var lastWasSpace = false
        while self[index] != 0 {
            if isWhitespace(self[index]) {
                if !lastWasSpace {
                    bytes[destination] = 0x20
                    destination += 1
                    lastWasSpace = true
                }
            } else {
                bytes[destination] = bytes[index]
                destination += 1
                lastWasSpace = false
            }
            index += 1
        }
        truncate(to: destination)
    }

    /// Step (2): removes `(FWD)` and SP from the end, never before `start`.
    mutating func removeTrailers(after start: Int, isReplyOrForward: inout Bool) {
        let original = bytes.count - 1
        var size = original
        while size > start {
            if self[size - 1] == 0x20 {
                size -= 1
            } else if size - 5 >= start, hasPrefix("(FWD)", at: size - 5) {
                isReplyOrForward = true
                size -= 5
            } else {
                break
            }
        }
        if size != original { truncate(to: size) }
    }

    /// A subj-blob at `index` (`[` then no `[` or `]` then `]`, and one SP after it): where it ends.
    private mutating func blob(at index: Int) -> Int? {
        if let known = blobEnd[index] { return known < 0 ? nil : known }
        var end: Int? = nil
        if self[index] == UInt8(ascii: "[") {
            var position = index + 1
            while self[position] != 0, self[position] != UInt8(ascii: "["), self[position] != UInt8(ascii: "]") {
                position += 1
            }
            if self[position] == UInt8(ascii: "]") {
                position += 1
                if self[position] == 0x20 { position += 1 }
                end = position
            }
        }
        blobEnd[index] = end ?? -1
        return end
    }

    /// Where the blobs that follow each other from `index` end; nil when one of them is unclosed.
    private mutating func blobChain(from index: Int) -> Int? {
        var visited: [Int] = []
        var position = index
        var result: Int?
        while true {
            if let known = chainEnd[position] {
                result = known < 0 ? nil : known
                break
            }
            guard self[position] == UInt8(ascii: "[") else {
                result = position
                break
            }
            visited.append(position)
            guard let next = blob(at: position) else {
                result = nil
                break
            }
            position = next
        }
        for position in visited { chainEnd[position] = result ?? -1 }
        return result
    }

    /// Step (3): one subj-leader at `start` — a single SP, or `*subj-blob ("RE" / "FWD" / "FW")
    /// [SP] [subj-blob] ":"` (the text is titlecased, whitespace packed).
    mutating func removeLeader(at start: inout Int, isReplyOrForward: inout Bool) -> Bool {
        var removed = false
        if self[start] == 0x20 {
            start += 1
            removed = true
        }
        guard var position = blobChain(from: start) else { return removed }
        if hasPrefix("RE", at: position) {
            position += 2
        } else if hasPrefix("FWD", at: position) {
            position += 3
        } else if hasPrefix("FW", at: position) {
            position += 2
        } else {
            return removed
        }
        if self[position] == 0x20 { position += 1 }
        if self[position] == UInt8(ascii: "[") {
            guard let next = blob(at: position) else { return removed }
            position = next
        }
        guard self[position] == UInt8(ascii: ":") else { return removed }
        start = position + 1
        isReplyOrForward = true
        return true
    }

    /// Step (4): a blob at `start`, removed when text follows it.
    mutating func removeBlobWhenNonEmpty(at start: inout Int) -> Bool {
        guard self[start] == UInt8(ascii: "["), let end = blob(at: start), self[end] != 0 else { return false }
        start = end
        return true
    }

    /// Step (6): `[FWD:` at `start` and `]` at the end are removed.
    mutating func removeForwardWrapper(at start: inout Int, isReplyOrForward: inout Bool) -> Bool {
        guard hasPrefix("[FWD:", at: start), bytes.count >= 2, bytes[bytes.count - 2] == UInt8(ascii: "]") else {
            return false
        }
        isReplyOrForward = true
        truncate(to: bytes.count - 2)
        start += 5
        return true
    }
}

/// RFC 2047 encoded words decoded to UTF-8 and casemapped on the way, as Dovecot's
/// `message_header_decode_utf8` does with its titlecasing normalizer (the form `SORT` and the base
/// subject use). Its reading is lenient, and is kept exactly because it decides the sort order:
/// - `=?` starts a word anywhere, even inside other text; the word is `charset?e?text?=` up to the
///   third `?`, which must be followed by `=`; only the first letter of `e` counts (`Q` or `B`);
/// - whitespace (SP, HTAB, CR, LF) alone before a word is dropped, after the previous word or at
///   the start;
/// - `Q`: `_` is a space, `=XX` a byte, anything else (a broken `=`) as it is; `B`: bytes are taken
///   while the text is base64 or whitespace, up to the first other character (padding included);
/// - `utf-8`, `utf8`, `us-ascii`, `ascii` are read as UTF-8; other charsets through iconv (an
///   invalid byte is one U+FFFD, a truncated last character is dropped);
/// - a charset iconv does not know leaves the text's valid UTF-8 as it is, **not casemapped**, and
///   each invalid byte run as U+FFFD. RFC 5256 does not say how to read unknown charsets; not
///   casemapping that text is Dovecot's choice, kept so that orders agree.
enum EncodedWords {
    /// The casemapped UTF-8 of a header value with its encoded words decoded.
    static func decodeCasemapped(_ data: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(data.count)
        var start = 0
        var position = 0
        while position + 1 < data.count {
            guard data[position] == UInt8(ascii: "="), data[position + 1] == UInt8(ascii: "?") else {
                position += 1
                continue
            }
            if position != start, !data[start..<position].allSatisfy(isWhitespace) {
                Collation.appendCasemapped(data[start..<position], to: &output)
            }
            position += 2
            guard let word = encodedWord(data, from: position) else {
                start = position - 2
                continue
            }
            position = word.end
            if !word.decoded.isEmpty { appendDecoded(word.decoded, charset: word.charset, to: &output) }
            start = position
        }
        if start < data.count { Collation.appendCasemapped(data[start...], to: &output) }
        return output
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }

    /// `charset?e?text?=` from `index` (just after `=?`): the charset, the decoded octets and the
    /// position after `?=`; nil when the word is not well formed (Dovecot's
    /// `message_header_decode_encoded`).
    private static func encodedWord(
        _ data: [UInt8], from index: Int
    ) -> (charset: [UInt8], decoded: [UInt8], end: Int)? {
        var marks: [Int] = []
        var position = index
        while position < data.count {
            if data[position] == UInt8(ascii: "?") {
                marks.append(position)
                if marks.count == 3 { break }
            }
            position += 1
        }
        guard marks.count == 3, position + 1 < data.count, data[position + 1] == UInt8(ascii: "=") else { return nil }
        let charset = Array(data[index..<marks[0]])
        let text = data[(marks[1] + 1)..<marks[2]]
        let decoded: [UInt8]
        switch data[marks[0] + 1] {
        case UInt8(ascii: "q"), UInt8(ascii: "Q"): decoded = decodeQ(text)
        case UInt8(ascii: "b"), UInt8(ascii: "B"): decoded = decodeBase64(text)
        default: return nil
        }
        return (charset, decoded, marks[2] + 2)
    }

    /// The `Q` encoding (Dovecot's `quoted_printable_q_decode`).
    private static func decodeQ(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var index = text.startIndex
        while index < text.endIndex {
            let byte = text[index]
            if byte == UInt8(ascii: "_") {
                out.append(0x20)
            } else if byte == UInt8(ascii: "=") {
                guard index + 2 < text.endIndex else {
                    out += text[index...]
                    return out
                }
                if let high = hexValue(text[index + 1]), let low = hexValue(text[index + 2]) {
                    out.append(high << 4 | low)
                    index += 2
                } else {
                    out.append(byte)
                }
            } else {
                out.append(byte)
            }
            index += 1
        }
        return out
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The `B` encoding (Dovecot's `base64_decode`): each octet as soon as its bits are in,
    /// whitespace skipped, stopping at the first character outside the alphabet (`=` included).
    private static func decodeBase64(_ text: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in text {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case 0x20, 0x09, 0x0D, 0x0A: continue
            default: return out
            }
            buffer = (buffer << 6 | value) & 0xFFFFFF
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }

    /// Appends one word's decoded octets in `charset` (Dovecot's `decode_utf8_callback`).
    private static func appendDecoded(_ decoded: [UInt8], charset: [UInt8], to output: inout [UInt8]) {
        let name = Array(charset.prefix { $0 != 0 })
        let lowercased = name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        if ["us-ascii", "ascii", "utf-8", "utf8"].contains(where: { lowercased == Array($0.utf8) }) {
            Collation.appendCasemapped(decoded, to: &output)
        } else if !convert(decoded, from: iconvName(name), to: &output) {
            appendValidUTF8(decoded, to: &output)
        }
    }

    /// The name Dovecot gives iconv. An empty one means the locale's charset to iconv: Dovecot
    /// runs in the C locale, so that is ASCII; named here so the gateway's locale cannot matter.
    private static func iconvName(_ name: [UInt8]) -> [UInt8] {
        if name.isEmpty { return Array("ANSI_X3.4-1968".utf8) }
        return name == Array("UTF-8//TEST".utf8) ? Array("UTF-8".utf8) : name
    }

    /// Converts through iconv and casemaps the result (Dovecot's `iconv_charset_to_utf8`); false
    /// when iconv does not know the charset.
    private static func convert(_ input: [UInt8], from charset: [UInt8], to output: inout [UInt8]) -> Bool {
        let name = charset.map { CChar(bitPattern: $0) } + [0]
        let descriptor = name.withUnsafeBufferPointer { iconv_open("UTF-8", $0.baseAddress) }
        guard let descriptor, Int(bitPattern: descriptor) != -1 else { return false }
        defer { iconv_close(descriptor) }
        var source = input
        var converted = [UInt8](repeating: 0, count: 8192)
        var position = 0
        var lastInvalid = -1
        while true {
            var sourceLeft = source.count - position
            var destinationLeft = converted.count
            let failed = source.withUnsafeMutableBytes { sourceBytes in
                converted.withUnsafeMutableBytes { destinationBytes in
                    var inPointer = sourceBytes.baseAddress.map { $0.assumingMemoryBound(to: CChar.self) + position }
                    var outPointer = destinationBytes.baseAddress.map { $0.assumingMemoryBound(to: CChar.self) }
                    return iconv(descriptor, &inPointer, &sourceLeft, &outPointer, &destinationLeft) == -1
                }
            }
            let error = failed ? errno : 0
            let consumed = source.count - position - sourceLeft
            position += consumed
            let produced = converted.count - destinationLeft
            Collation.appendCasemapped(converted[0..<produced], to: &output)
            if !failed || error == EINVAL { return true }
            if error == E2BIG {
                if consumed == 0 && produced == 0 { return true }
                continue
            }
            if lastInvalid != output.count {
                output += [0xEF, 0xBF, 0xBD]
                lastInvalid = output.count
            }
            guard position < source.count else { return true }
            position += 1
        }
    }

    /// Valid UTF-8 as it is, each invalid octet run as one U+FFFD (`uni_utf8_get_valid_data`).
    private static func appendValidUTF8(_ bytes: [UInt8], to output: inout [UInt8]) {
        var index = 0
        while index < bytes.count {
            if bytes[index] < 0x80 {
                output.append(bytes[index])
                index += 1
            } else if let length = Collation.validSequenceLength(bytes, at: index) {
                output += bytes[index..<(index + length)]
                index += length
            } else {
                Collation.appendReplacement(to: &output)
                index += 1
            }
        }
    }
}
