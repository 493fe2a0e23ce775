/// `FETCH` response items (RFC 3501 §7.4.2, RFC 7162 MODSEQ).
extension Cursor {
    mutating func fetchAttributes() throws(IMAPParseError) -> [FetchAttribute] {
        try expect(UInt8(ascii: "("))
        var attributes: [FetchAttribute] = []
        while true {
            while take(UInt8(ascii: " ")) {}
            if take(UInt8(ascii: ")")) { return attributes }
            attributes.append(try fetchAttribute())
        }
    }

    private mutating func fetchAttribute() throws(IMAPParseError) -> FetchAttribute {
        let nameStart = index
        while let c = peek, IMAPGrammar.isAtomChar(c), c != UInt8(ascii: "[") { index += 1 }
        guard index > nameStart else { throw error("expected a fetch item name") }
        let name = String(decoding: bytes[nameStart..<index], as: UTF8.self).uppercased()
        if peek == UInt8(ascii: "[") {
            // BODY[section]<origin> / BINARY[section]
            index += 1
            let start = index
            while let c = peek, c != UInt8(ascii: "]") {
                if atEndOfLine { throw error("unterminated section") }
                index += 1
            }
            let section = String(decoding: bytes[start..<index], as: UTF8.self)
            try expect(UInt8(ascii: "]"))
            var origin: UInt32?
            if take(UInt8(ascii: "<")) {
                origin = try number32()
                try expect(UInt8(ascii: ">"))
            }
            try expectSpace()
            return .bodySection(section: section, origin: origin, data: try nstring())
        }
        try expectSpace()
        switch name {
        case "UID":
            return .uid(try number32())
        case "FLAGS":
            return .flags(try flagList())
        case "RFC822.SIZE":
            return .rfc822Size(try number())
        case "MODSEQ":
            try expect(UInt8(ascii: "("))
            let n = try number()
            try expect(UInt8(ascii: ")"))
            return .modSeq(n)
        case "INTERNALDATE":
            let raw = try string()
            // RFC 3501 date-time is 26 octets; a longer one could carry numbers whose date
            // arithmetic overflows, so it is refused before it is read.
            guard raw.count <= 26 else { throw error("INTERNALDATE longer than a date-time") }
            let text = String(decoding: raw, as: UTF8.self)
            guard let date = InternalDate(parsing: text) else { throw error("bad INTERNALDATE") }
            return .internalDate(date)
        case "ENVELOPE":
            let raw = try value()
            guard let envelope = Envelope(raw) else { throw error("bad ENVELOPE") }
            return .envelope(envelope)
        case "BODYSTRUCTURE", "BODY":
            let raw = try value()
            guard let structure = BodyStructure(raw) else { throw error("bad BODYSTRUCTURE") }
            return .bodyStructure(structure)
        case "RFC822", "RFC822.HEADER", "RFC822.TEXT":
            return .bodySection(section: String(name.dropFirst("RFC822".count).drop { $0 == "." }),
                                origin: nil, data: try nstring())
        default:
            return .other(name: name, value: try value())
        }
    }
}
