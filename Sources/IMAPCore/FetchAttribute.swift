/// One item of a `FETCH` response.
public enum FetchAttribute: Hashable, Sendable {
    case uid(UInt32)
    case flags([Flag])
    case rfc822Size(UInt64)
    case internalDate(InternalDate)
    case envelope(Envelope)
    case bodyStructure(BodyStructure)
    /// `BODY[section]<origin>` data, e.g. `HEADER.FIELDS (X-PRIORITY)`; nil for NIL.
    case bodySection(section: String, origin: UInt32?, data: [UInt8]?)
    case modSeq(UInt64)
    /// Anything else, by name with its raw value.
    case other(name: String, value: IMAPValue)
}

/// A `FETCH` response folded into a record, for convenient access.
public struct FetchedMessage: Hashable, Sendable {
    public var sequenceNumber: UInt32
    public var uid: UInt32?
    public var flags: [Flag]?
    public var size: UInt64?
    public var internalDate: InternalDate?
    public var envelope: Envelope?
    public var bodyStructure: BodyStructure?
    public var modSeq: UInt64?
    /// Section data by section name as the server echoed it (upper-cased), e.g. `HEADER.FIELDS (X-PRIORITY)`.
    public var sections: [String: [UInt8]]

    public init(sequenceNumber: UInt32, attributes: [FetchAttribute]) {
        self.sequenceNumber = sequenceNumber
        sections = [:]
        for attribute in attributes {
            switch attribute {
            case .uid(let v): uid = v
            case .flags(let v): flags = v
            case .rfc822Size(let v): size = v
            case .internalDate(let v): internalDate = v
            case .envelope(let v): envelope = v
            case .bodyStructure(let v): bodyStructure = v
            case .modSeq(let v): modSeq = v
            case .bodySection(let section, _, let data): sections[section.uppercased()] = data ?? []
            case .other: break
            }
        }
    }
}
