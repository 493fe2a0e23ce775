/// A command ready for the wire: one or more parts. After a part that ends in a synchronising
/// literal announcement (`{n}` CRLF) or a bare SASL request, the client must wait for the server's
/// `+` before it sends the next part.
public struct EncodedCommand: Hashable, Sendable {
    public struct Part: Hashable, Sendable {
        public var bytes: [UInt8]
        public var waitsForContinuation: Bool
    }

    public var parts: [Part]

    /// Every octet of the command, as it would appear on the wire.
    public var bytes: [UInt8] { parts.flatMap(\.bytes) }

    /// The longest command line, without literal octets (what a server's line limit applies to).
    public var longestLineLength: Int
}

/// Why a command could not be encoded. No part of such a command is ever sent.
public enum CommandEncodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// CR, LF or NUL in user text, which no IMAP string may carry.
    case forbiddenCharacter(field: String)
    /// A flag that is neither a system flag nor a valid keyword atom.
    case invalidFlag(String)
    /// Text that is not allowed in this position (e.g. a header field name that is not an atom).
    case invalidArgument(field: String, reason: String)

    public var description: String {
        switch self {
        case .forbiddenCharacter(let field): "\(field) contains CR, LF or NUL"
        case .invalidFlag(let flag): "\"\(flag)\" is not a valid IMAP flag or keyword"
        case .invalidArgument(let field, let reason): "\(field): \(reason)"
        }
    }
}

/// Turns commands into wire bytes: atoms, quoted strings and literals chosen per argument,
/// mailbox names in modified UTF-7, and user text checked so it can never break the command line.
public struct CommandEncoder: Sendable {
    /// Use non-synchronising literals (`{n+}`, RFC 7888) instead of waiting for `+`.
    public var useLiteralPlus: Bool

    public init(useLiteralPlus: Bool = false) { self.useLiteralPlus = useLiteralPlus }

    private static let systemFlags: Set<String> = ["\\seen", "\\answered", "\\flagged", "\\deleted", "\\draft"]

    public func encode(_ command: Command, tag: String) throws(CommandEncodingError) -> EncodedCommand {
        var w = Writer(useLiteralPlus: useLiteralPlus)
        w.raw(tag)
        w.raw(" ")
        switch command {
        case .capability, .noop, .logout, .startTLS, .unselect, .close, .expunge:
            w.raw(command.name)
        case .login(let username, let password):
            w.raw("LOGIN ")
            try w.string(username, field: "username")
            w.raw(" ")
            try w.string(password, field: "password")
        case .authenticatePlain(let authzid, let username, let password, let initialResponse):
            for (field, value) in [("authorization identity", authzid ?? ""), ("username", username), ("password", password)]
            where value.utf8.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }) {
                throw .forbiddenCharacter(field: field)
            }
            let payload = Array((authzid ?? "").utf8) + [0] + Array(username.utf8) + [0] + Array(password.utf8)
            let encoded = Base64.encode(payload)
            if initialResponse {
                w.raw("AUTHENTICATE PLAIN ")
                w.raw(encoded.isEmpty ? "=" : encoded)
            } else {
                w.raw("AUTHENTICATE PLAIN")
                w.endPartWaitingForContinuation()
                w.raw(encoded)
            }
        case .enable(let capabilities):
            w.raw("ENABLE")
            for capability in capabilities {
                guard Flag.isValidKeyword(capability.rawValue) else {
                    throw .invalidArgument(field: "capability", reason: "not an atom")
                }
                w.raw(" " + capability.rawValue)
            }
        case .select(let mailbox, let condStore), .examine(let mailbox, let condStore):
            w.raw(command.name + " ")
            try w.mailbox(mailbox)
            if condStore { w.raw(" (CONDSTORE)") }
        case .list(let pattern, let returnSpecialUse, let returnStatus):
            w.raw("LIST \"\" ")
            try w.string(pattern, field: "pattern")
            var options: [String] = []
            if returnSpecialUse { options.append("SPECIAL-USE") }
            if !returnStatus.isEmpty {
                options.append("STATUS (" + returnStatus.map(\.rawValue).joined(separator: " ") + ")")
            }
            if !options.isEmpty { w.raw(" RETURN (" + options.joined(separator: " ") + ")") }
        case .status(let mailbox, let items):
            w.raw("STATUS ")
            try w.mailbox(mailbox)
            w.raw(" (" + items.map(\.rawValue).joined(separator: " ") + ")")
        case .create(let mailbox):
            w.raw("CREATE ")
            try w.mailbox(mailbox)
        case .delete(let mailbox):
            w.raw("DELETE ")
            try w.mailbox(mailbox)
        case .append(let mailbox, let flags, let message):
            w.raw("APPEND ")
            try w.mailbox(mailbox)
            if !flags.isEmpty {
                w.raw(" ")
                try w.flagList(flags)
            }
            w.raw(" ")
            w.literal(message)
        case .uidSearch(let key, let returning):
            w.raw("UID SEARCH ")
            if let returning { w.raw("RETURN (" + Self.returnOptions(returning) + ") ") }
            w.raw("CHARSET UTF-8 ")
            try w.searchKey(key)
        case .uidSort(let keys, let key, let returning):
            w.raw("UID SORT ")
            if let returning { w.raw("RETURN (" + Self.returnOptions(returning) + ") ") }
            w.raw("(")
            w.raw(keys.map { ($0.reverse ? "REVERSE " : "") + $0.criterion.rawValue }.joined(separator: " "))
            w.raw(") UTF-8 ")
            try w.searchKey(key)
        case .uidThread(let algorithm, let key):
            guard Flag.isValidKeyword(algorithm) else {
                throw .invalidArgument(field: "algorithm", reason: "not an atom")
            }
            w.raw("UID THREAD \(algorithm) UTF-8 ")
            try w.searchKey(key)
        case .uidFetch(let set, let items, let changedSince):
            w.raw("UID FETCH \(set) (")
            var first = true
            for item in items {
                if !first { w.raw(" ") }
                first = false
                try w.fetchItem(item)
            }
            w.raw(")")
            if let changedSince { w.raw(" (CHANGEDSINCE \(changedSince))") }
        case .uidStore(let set, let operation, let flags, let silent, let unchangedSince):
            w.raw("UID STORE \(set) ")
            if let unchangedSince { w.raw("(UNCHANGEDSINCE \(unchangedSince)) ") }
            w.raw(operation.rawValue + (silent ? ".SILENT " : " "))
            try w.flagList(flags)
        case .uidCopy(let set, let mailbox), .uidMove(let set, let mailbox):
            w.raw("\(command.name) \(set) ")
            try w.mailbox(mailbox)
        case .uidExpunge(let set):
            w.raw("UID EXPUNGE \(set)")
        case .onSavedResult(let inner):
            switch inner {
            case .uidStore(_, let operation, let flags, let silent, let unchangedSince):
                w.raw("UID STORE $ ")
                if let unchangedSince { w.raw("(UNCHANGEDSINCE \(unchangedSince)) ") }
                w.raw(operation.rawValue + (silent ? ".SILENT " : " "))
                try w.flagList(flags)
            case .uidCopy(_, let mailbox), .uidMove(_, let mailbox):
                w.raw("\(inner.name) $ ")
                try w.mailbox(mailbox)
            case .uidExpunge:
                w.raw("UID EXPUNGE $")
            default:
                throw .invalidArgument(field: "command", reason: "\(inner.name) cannot act on a saved search result")
            }
        }
        return w.finish()
    }

    private static func returnOptions(_ options: [SearchReturn]) -> String {
        options.map { option in
            switch option {
            case .min: "MIN"
            case .max: "MAX"
            case .count: "COUNT"
            case .all: "ALL"
            case .save: "SAVE"
            case .partial(let range): "PARTIAL \(range.lowerBound):\(range.upperBound)"
            }
        }.joined(separator: " ")
    }

    /// Accumulates parts and tracks line lengths while a command is written.
    private struct Writer {
        let useLiteralPlus: Bool
        var parts: [EncodedCommand.Part] = []
        var current: [UInt8] = []
        var lineLength = 0
        var longestLine = 0

        init(useLiteralPlus: Bool) { self.useLiteralPlus = useLiteralPlus }

        mutating func raw(_ text: String) {
            current.append(contentsOf: text.utf8)
            lineLength += text.utf8.count
        }

        mutating func endLine() {
            current.append(contentsOf: [13, 10])
            longestLine = Swift.max(longestLine, lineLength + 2)
            lineLength = 0
        }

        mutating func endPartWaitingForContinuation() {
            endLine()
            parts.append(.init(bytes: current, waitsForContinuation: true))
            current = []
        }

        mutating func finish() -> EncodedCommand {
            endLine()
            parts.append(.init(bytes: current, waitsForContinuation: false))
            return EncodedCommand(parts: parts, longestLineLength: longestLine)
        }

        mutating func literal(_ bytes: [UInt8]) {
            if useLiteralPlus {
                raw("{\(bytes.count)+}")
                endLine()
            } else {
                raw("{\(bytes.count)}")
                endPartWaitingForContinuation()
            }
            current.append(contentsOf: bytes)
        }

        /// A string argument: quoted when it is 7-bit text, a literal when it has 8-bit octets.
        /// CR, LF and NUL are refused: they cannot be sent safely in either form.
        mutating func string(_ text: String, field: String) throws(CommandEncodingError) {
            try bytesString(Array(text.utf8), field: field)
        }

        mutating func bytesString(_ bytes: [UInt8], field: String) throws(CommandEncodingError) {
            if bytes.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }) { throw .forbiddenCharacter(field: field) }
            if bytes.contains(where: { $0 >= 0x80 }) {
                literal(bytes)
                return
            }
            var quoted: [UInt8] = [UInt8(ascii: "\"")]
            for b in bytes {
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { quoted.append(UInt8(ascii: "\\")) }
                quoted.append(b)
            }
            quoted.append(UInt8(ascii: "\""))
            current.append(contentsOf: quoted)
            lineLength += quoted.count
        }

        mutating func mailbox(_ name: MailboxName) throws(CommandEncodingError) {
            // Modified UTF-7 would carry CR, LF or NUL in base64 (`&AA0-`): refuse them in the decoded name too.
            if name.name.unicodeScalars.contains(where: { $0 == "\0" || $0 == "\n" || $0 == "\r" }) {
                throw .forbiddenCharacter(field: "mailbox name")
            }
            try bytesString(name.wire, field: "mailbox name")
        }

        mutating func flagList(_ flags: [Flag]) throws(CommandEncodingError) {
            raw("(")
            for (i, flag) in flags.enumerated() {
                let text = flag.rawValue
                if text.hasPrefix("\\") {
                    guard CommandEncoder.systemFlags.contains(text.lowercased()) else { throw .invalidFlag(text) }
                } else if !Flag.isValidKeyword(text) {
                    throw .invalidFlag(text)
                }
                raw(i == 0 ? text : " " + text)
            }
            raw(")")
        }

        mutating func fetchItem(_ item: FetchItem) throws(CommandEncodingError) {
            switch item {
            case .uid: raw("UID")
            case .flags: raw("FLAGS")
            case .rfc822Size: raw("RFC822.SIZE")
            case .internalDate: raw("INTERNALDATE")
            case .envelope: raw("ENVELOPE")
            case .bodyStructure: raw("BODYSTRUCTURE")
            case .modSeq: raw("MODSEQ")
            case .headerFields(let fields):
                for field in fields where !Flag.isValidKeyword(field) || field.contains("[") {
                    throw .invalidArgument(field: "header field", reason: "\"\(field)\" is not a header field name")
                }
                raw("BODY.PEEK[HEADER.FIELDS (" + fields.joined(separator: " ") + ")]")
            case .bodyPeek(let section):
                guard section.utf8.allSatisfy({ IMAPGrammar.isAtomChar($0) || $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "(") || $0 == UInt8(ascii: ")") }) else {
                    throw .invalidArgument(field: "section", reason: "invalid section")
                }
                raw("BODY.PEEK[\(section)]")
            }
        }

        mutating func searchKey(_ key: SearchKey) throws(CommandEncodingError) {
            switch key {
            case .all: raw("ALL")
            case .uid(let set): raw("UID \(set.isEmpty ? "0" : set.description)")
            case .savedResult: raw("UID $")
            case .seen: raw("SEEN")
            case .unseen: raw("UNSEEN")
            case .flagged: raw("FLAGGED")
            case .unflagged: raw("UNFLAGGED")
            case .deleted: raw("DELETED")
            case .undeleted: raw("UNDELETED")
            case .keyword(let flag), .unkeyword(let flag):
                guard Flag.isValidKeyword(flag.rawValue) else { throw .invalidFlag(flag.rawValue) }
                raw((key == .keyword(flag) ? "KEYWORD " : "UNKEYWORD ") + flag.rawValue)
            case .header(let field, let value):
                guard Flag.isValidKeyword(field) else {
                    throw .invalidArgument(field: "header field", reason: "\"\(field)\" is not a header field name")
                }
                raw("HEADER \(field) ")
                try string(value, field: "header value")
            case .larger(let n): raw("LARGER \(n)")
            case .smaller(let n): raw("SMALLER \(n)")
            case .modSeq(let n): raw("MODSEQ \(n)")
            case .not(let inner):
                raw("NOT ")
                try searchKey(inner)
            case .or(let a, let b):
                raw("OR ")
                try searchKey(a)
                raw(" ")
                try searchKey(b)
            case .and(let keys):
                if keys.isEmpty {
                    raw("ALL")
                    return
                }
                raw("(")
                for (i, k) in keys.enumerated() {
                    if i > 0 { raw(" ") }
                    try searchKey(k)
                }
                raw(")")
            }
        }
    }
}

/// Standard base64 (RFC 4648), for SASL.
public enum Base64 {
    private static let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i]
            let b1: UInt8 = i + 1 < bytes.count ? bytes[i + 1] : 0
            let b2: UInt8 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? table[Int((b1 & 0x0f) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? table[Int(b2 & 0x3f)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
