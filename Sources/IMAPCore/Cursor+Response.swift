/// Top-level productions: `response`, status responses, response codes and untagged data.
extension Cursor {
    mutating func response() throws(IMAPParseError) -> Response {
        if take(UInt8(ascii: "+")) {
            _ = take(UInt8(ascii: " "))
            return .continuation(textToEndOfLine())
        }
        if take(UInt8(ascii: "*")) {
            try expectSpace()
            return .untagged(try untagged())
        }
        let tag = try atom(allowing: { _ in false })
        try expectSpace()
        let status: ResponseStatus
        if takeKeyword("OK") {
            status = .ok
        } else if takeKeyword("NO") {
            status = .no
        } else if takeKeyword("BAD") {
            status = .bad
        } else {
            throw error("expected OK, NO or BAD after tag")
        }
        return .tagged(TaggedResponse(tag: tag, status: status, text: try responseText()))
    }

    mutating func untagged() throws(IMAPParseError) -> UntaggedResponse {
        let lineStart = index
        if let c = peek, c >= UInt8(ascii: "0"), c <= UInt8(ascii: "9") {
            let n = try number32()
            try expectSpace()
            if takeKeyword("EXISTS") { return .exists(n) }
            if takeKeyword("RECENT") { return .recent(n) }
            if takeKeyword("EXPUNGE") { return .expunge(n) }
            if takeKeyword("FETCH") {
                try expectSpace()
                return .fetch(sequenceNumber: n, attributes: try fetchAttributes())
            }
            index = lineStart
            return unknownToEnd()
        }
        for status in [ResponseStatus.ok, .no, .bad, .bye, .preauth] where takeKeyword(status.rawValue) {
            return .status(status, try responseText())
        }
        if takeKeyword("CAPABILITY") { return .capability(capabilities(until: nil)) }
        if takeKeyword("ENABLED") { return .enabled(capabilities(until: nil)) }
        if takeKeyword("FLAGS") {
            try expectSpace()
            return .flags(try flagList())
        }
        if takeKeyword("LIST") || takeKeyword("LSUB") { return .list(try listEntry()) }
        if takeKeyword("STATUS") { return .mailboxStatus(try mailboxStatus()) }
        if takeKeyword("SEARCH") {
            let (numbers, modSeq) = try numberList()
            return .search(numbers, modSeq: modSeq)
        }
        if takeKeyword("SORT") {
            let (numbers, modSeq) = try numberList()
            return .sort(numbers, modSeq: modSeq)
        }
        if takeKeyword("ESEARCH") { return .esearch(try esearch()) }
        if takeKeyword("THREAD") { return .thread(try threads()) }
        if takeKeyword("VANISHED") {
            try expectSpace()
            var earlier = false
            if peek == UInt8(ascii: "(") {
                try expect(UInt8(ascii: "("))
                guard takeKeyword("EARLIER") else { throw error("expected EARLIER") }
                try expect(UInt8(ascii: ")"))
                try expectSpace()
                earlier = true
            }
            return .vanished(earlier: earlier, try uidSet())
        }
        return unknownToEnd()
    }

    private mutating func unknownToEnd() -> UntaggedResponse {
        // Keep the whole raw response; literal octets are part of the frame.
        var end = bytes.count
        if end > index, bytes[end - 1] == UInt8(ascii: "\n") { end -= 1 }
        if end > index, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let text = String(decoding: bytes[index..<end], as: UTF8.self)
        index = end
        return .unknown(text)
    }

    /// resp-text = ["[" resp-text-code "]" SP] text — tolerant of a missing SP or empty text.
    mutating func responseText() throws(IMAPParseError) -> ResponseText {
        _ = take(UInt8(ascii: " "))
        var code: ResponseCode?
        if take(UInt8(ascii: "[")) {
            code = try responseCode()
            try expect(UInt8(ascii: "]"))
            _ = take(UInt8(ascii: " "))
        }
        return ResponseText(code: code, text: textToEndOfLine())
    }

    mutating func responseCode() throws(IMAPParseError) -> ResponseCode {
        let nameStart = index
        while let c = peek, c != UInt8(ascii: " "), c != UInt8(ascii: "]"), !atEndOfLine { index += 1 }
        let name = String(decoding: bytes[nameStart..<index], as: UTF8.self).uppercased()
        let afterName = index
        if let known = try? knownCode(name), peek == UInt8(ascii: "]") { return known }
        // Unknown, or a known code with an argument we cannot read: keep it raw rather than fail.
        index = afterName
        var argument: String?
        if take(UInt8(ascii: " ")) {
            let start = index
            while let c = peek, c != UInt8(ascii: "]"), !atEndOfLine { index += 1 }
            argument = String(decoding: bytes[start..<index], as: UTF8.self)
        }
        return .other(name: name, argument: argument)
    }

    private mutating func knownCode(_ name: String) throws(IMAPParseError) -> ResponseCode? {
        switch name {
        case "ALERT": return .alert
        case "PARSE": return .parse
        case "READ-ONLY": return .readOnly
        case "READ-WRITE": return .readWrite
        case "TRYCREATE": return .tryCreate
        case "UIDNOTSTICKY": return .uidNotSticky
        case "NOMODSEQ": return .noModSeq
        case "CLOSED": return .closed
        case "CAPABILITY": return .capability(capabilities(until: UInt8(ascii: "]")))
        case "PERMANENTFLAGS":
            try expectSpace()
            return .permanentFlags(try flagList())
        case "UIDNEXT":
            try expectSpace()
            return .uidNext(try number32())
        case "UIDVALIDITY":
            try expectSpace()
            return .uidValidity(try number32())
        case "UNSEEN":
            try expectSpace()
            return .unseen(try number32())
        case "HIGHESTMODSEQ":
            try expectSpace()
            return .highestModSeq(try number())
        case "APPENDUID":
            try expectSpace()
            let validity = try number32()
            try expectSpace()
            return .appendUID(uidValidity: validity, uids: try orderedNumbers())
        case "COPYUID":
            try expectSpace()
            let validity = try number32()
            try expectSpace()
            let source = try orderedNumbers()
            try expectSpace()
            let destination = try orderedNumbers()
            guard source.count == destination.count else { throw error("COPYUID sets differ in size") }
            return .copyUID(uidValidity: validity, source: source, destination: destination)
        case "MODIFIED":
            try expectSpace()
            return .modified(try uidSet())
        default:
            return nil
        }
    }

    /// Space-separated capability atoms up to the end of the line (or `terminator`).
    mutating func capabilities(until terminator: UInt8?) -> [Capability] {
        var caps: [Capability] = []
        while true {
            while take(UInt8(ascii: " ")) {}
            if atEndOfLine || (terminator != nil && peek == terminator) { return caps }
            let start = index
            while let c = peek, c != UInt8(ascii: " "), c != terminator, !atEndOfLine { index += 1 }
            caps.append(Capability(String(decoding: bytes[start..<index], as: UTF8.self)))
        }
    }

    /// `LIST (attrs) delimiter mailbox [extended data]`
    mutating func listEntry() throws(IMAPParseError) -> ListEntry {
        try expectSpace()
        try expect(UInt8(ascii: "("))
        var attributes: [String] = []
        while true {
            while take(UInt8(ascii: " ")) {}
            if take(UInt8(ascii: ")")) { break }
            attributes.append(try atom(allowing: { $0 == UInt8(ascii: "\\") }))
        }
        try expectSpace()
        var delimiter: Character?
        if !takeKeyword("NIL") {
            let d = try quoted()
            guard d.count == 1 else { throw error("hierarchy delimiter must be one character") }
            delimiter = Character(Unicode.Scalar(d[0]))
        }
        try expectSpace()
        let name = MailboxName(wire: try astring())
        if take(UInt8(ascii: " ")) {
            _ = try value()  // mbox-list-extended, e.g. ("CHILDINFO" ("SUBSCRIBED"))
        }
        return ListEntry(attributes: attributes, delimiter: delimiter, name: name)
    }

    /// `STATUS mailbox (MESSAGES n UIDNEXT n …)`
    mutating func mailboxStatus() throws(IMAPParseError) -> MailboxStatus {
        try expectSpace()
        var status = MailboxStatus(mailbox: MailboxName(wire: try astring()))
        try expectSpace()
        try expect(UInt8(ascii: "("))
        while true {
            while take(UInt8(ascii: " ")) {}
            if take(UInt8(ascii: ")")) { break }
            let key = try atom().uppercased()
            try expectSpace()
            let n = try number()
            switch key {
            case "MESSAGES": status.messages = UInt32(clamping: n)
            case "RECENT": status.recent = UInt32(clamping: n)
            case "UIDNEXT": status.uidNext = UInt32(clamping: n)
            case "UIDVALIDITY": status.uidValidity = UInt32(clamping: n)
            case "UNSEEN": status.unseen = UInt32(clamping: n)
            case "HIGHESTMODSEQ": status.highestModSeq = n
            case "SIZE": status.size = n
            default: break
            }
        }
        return status
    }

    /// `SEARCH` / `SORT` data: numbers, then an optional `(MODSEQ n)`.
    mutating func numberList() throws(IMAPParseError) -> ([UInt32], UInt64?) {
        var numbers: [UInt32] = []
        var modSeq: UInt64?
        while take(UInt8(ascii: " ")) {
            if atEndOfLine { break }
            if take(UInt8(ascii: "(")) {
                guard takeKeyword("MODSEQ") else { throw error("expected MODSEQ") }
                try expectSpace()
                modSeq = try number()
                try expect(UInt8(ascii: ")"))
                continue
            }
            numbers.append(try number32())
        }
        return (numbers, modSeq)
    }

    /// RFC 4731 / RFC 5267 `ESEARCH [(TAG "x")] [UID] *(SP name SP value)`.
    mutating func esearch() throws(IMAPParseError) -> ESearchResponse {
        var result = ESearchResponse()
        while take(UInt8(ascii: " ")) {
            if atEndOfLine { break }
            if take(UInt8(ascii: "(")) {
                guard takeKeyword("TAG") else { throw error("expected TAG") }
                try expectSpace()
                result.correlator = String(decoding: try string(), as: UTF8.self)
                try expect(UInt8(ascii: ")"))
                continue
            }
            let name = try atom().uppercased()
            if name == "UID" {
                result.uid = true
                continue
            }
            try expectSpace()
            switch name {
            case "MIN": result.min = try number32()
            case "MAX": result.max = try number32()
            case "COUNT": result.count = try number32()
            case "ALL": result.all = try uidSet()
            case "MODSEQ": result.modSeq = try number()
            case "PARTIAL":
                try expect(UInt8(ascii: "("))
                let low = try signedNumber()
                try expect(UInt8(ascii: ":"))
                let high = try signedNumber()
                try expectSpace()
                let numbers = takeKeyword("NIL") ? [] : try orderedNumbers()
                try expect(UInt8(ascii: ")"))
                result.partial = .init(range: Swift.min(low, high)...Swift.max(low, high), numbers: numbers)
            default:
                _ = try value()  // unknown return data: skip its value
            }
        }
        return result
    }

    private mutating func signedNumber() throws(IMAPParseError) -> Int32 {
        let negative = take(UInt8(ascii: "-"))
        let n = try number()
        guard n <= UInt64(Int32.max) else { throw error("number out of range") }
        return negative ? -Int32(n) : Int32(n)
    }

    /// `THREAD` data: zero or more thread lists (RFC 5256 §4).
    mutating func threads() throws(IMAPParseError) -> [ThreadNode] {
        var roots: [ThreadNode] = []
        _ = take(UInt8(ascii: " "))
        while peek == UInt8(ascii: "(") {
            roots.append(try threadNode(from: try value(), depth: 1))
            _ = take(UInt8(ascii: " "))
        }
        return roots
    }

    /// thread-list = "(" (thread-members / thread-nested) ")": members form a chain of parent
    /// and child; nested lists hang under the last member (or under a missing parent).
    ///
    /// `depth` is where the returned node sits (a root is 1). A chain is linked only down to
    /// ``ResponseParser/maxThreadDepth``; the members past it, and the nested lists, hang side by
    /// side under the last linked member, so the thread keeps every message in the same order.
    private func threadNode(from value: IMAPValue, depth: Int) throws(IMAPParseError) -> ThreadNode {
        guard let items = value.list, !items.isEmpty else { throw error("empty thread list") }
        var chain: [UInt32] = []
        var nested: [IMAPValue] = []
        for item in items {
            if item.list != nil {
                nested.append(item)
            } else if let n = item.number, n > 0, n <= UInt64(UInt32.max), nested.isEmpty {
                chain.append(UInt32(n))
            } else {
                throw error("bad thread member")
            }
        }
        guard !chain.isEmpty else {
            // Only nested lists: siblings without a common parent message.
            if nested.count == 1 { return try threadNode(from: nested[0], depth: depth) }
            var children: [ThreadNode] = []
            for item in nested { children.append(try threadNode(from: item, depth: depth + 1)) }
            return ThreadNode(nil, children: children)
        }
        let linked = Swift.max(1, Swift.min(chain.count, maxThreadDepth - depth + 1))
        var children = chain[linked...].map { ThreadNode($0) }
        for item in nested { children.append(try threadNode(from: item, depth: depth + linked)) }
        var node = ThreadNode(chain[linked - 1], children: children)
        for parent in chain[..<(linked - 1)].reversed() { node = ThreadNode(parent, children: [node]) }
        return node
    }
}
