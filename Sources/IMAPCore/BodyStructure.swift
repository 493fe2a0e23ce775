/// A message's `BODYSTRUCTURE` (RFC 3501 §7.4.2), reduced to what the gateway reasons about:
/// MIME types, parameters, disposition and sizes of each part.
public indirect enum BodyStructure: Hashable, Sendable {
    case single(SinglePart)
    case multipart(parts: [BodyStructure], subtype: String, disposition: Disposition?)

    /// A non-multipart body part.
    public struct SinglePart: Hashable, Sendable {
        public var type: String
        public var subtype: String
        public var parameters: [String: String]
        public var id: String?
        public var encoding: String?
        public var size: UInt64
        public var disposition: Disposition?

        public init(
            type: String, subtype: String, parameters: [String: String] = [:], id: String? = nil,
            encoding: String? = nil, size: UInt64 = 0, disposition: Disposition? = nil
        ) {
            self.type = type
            self.subtype = subtype
            self.parameters = parameters
            self.id = id
            self.encoding = encoding
            self.size = size
            self.disposition = disposition
        }
    }

    /// `Content-Disposition` of a part: `attachment` / `inline` and parameters such as `filename`.
    public struct Disposition: Hashable, Sendable {
        public var kind: String
        public var parameters: [String: String]

        public init(kind: String, parameters: [String: String] = [:]) {
            self.kind = kind
            self.parameters = parameters
        }
    }

    /// Whether any part is an attachment: an `attachment` disposition, or a named non-text part.
    public var hasAttachment: Bool {
        switch self {
        case .multipart(let parts, _, _):
            return parts.contains { $0.hasAttachment }
        case .single(let part):
            if part.disposition?.kind.lowercased() == "attachment" { return true }
            let named = part.parameters["name"] != nil || part.disposition?.parameters["filename"] != nil
            let type = part.type.lowercased()
            return named && type != "text" && type != "multipart"
        }
    }

    init?(_ value: IMAPValue) {
        guard let items = value.list, !items.isEmpty else { return nil }
        if items[0].list != nil {
            // body-type-mpart: 1*body SP media-subtype [SP body-ext-mpart]
            var parts: [BodyStructure] = []
            var index = 0
            while index < items.count, items[index].list != nil {
                guard let part = BodyStructure(items[index]) else { return nil }
                parts.append(part)
                index += 1
            }
            guard index < items.count, let subtype = items[index].text else { return nil }
            // body-ext-mpart: body-fld-param [SP body-fld-dsp ...]
            let disposition = index + 2 < items.count ? Self.disposition(items[index + 2]) : nil
            self = .multipart(parts: parts, subtype: subtype, disposition: disposition)
            return
        }
        guard items.count >= 7, let type = items[0].text, let subtype = items[1].text else { return nil }
        var part = SinglePart(
            type: type, subtype: subtype, parameters: Self.parameters(items[2]), id: items[3].text,
            encoding: items[5].text, size: items[6].number ?? 0
        )
        // Fixed fields, then type-specific ones: text has lines; message/rfc822 has envelope, body, lines.
        var extensionStart = 7
        if type.lowercased() == "text" {
            extensionStart = 8
        } else if type.lowercased() == "message" && subtype.lowercased() == "rfc822" {
            extensionStart = 10
        }
        // body-ext-1part: md5 [SP disposition ...]
        if extensionStart + 1 < items.count {
            part.disposition = Self.disposition(items[extensionStart + 1])
        }
        self = .single(part)
    }

    private static func parameters(_ value: IMAPValue) -> [String: String] {
        guard let list = value.list else { return [:] }
        var out: [String: String] = [:]
        var i = 0
        while i + 1 < list.count {
            if let key = list[i].text?.lowercased(), let v = list[i + 1].text { out[key] = v }
            i += 2
        }
        return out
    }

    private static func disposition(_ value: IMAPValue) -> Disposition? {
        guard let list = value.list, let kind = list.first?.text else { return nil }
        return Disposition(kind: kind, parameters: list.count > 1 ? parameters(list[1]) : [:])
    }
}
