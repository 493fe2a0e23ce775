extension CommandEncoder {
    /// The tag length the split reserves room for (the client's tags are shorter).
    public static let maxTagLength = 10

    /// Splits a command that acts on a UID set into several, each acting on part of the set, so that
    /// no command line exceeds `maxLineLength` octets (CRLF included). Other commands come back unchanged.
    public func split(_ command: Command, maxLineLength: Int) throws(CommandEncodingError) -> [Command] {
        guard let set = command.uidSet, set.ranges.count > 1 || set.count > 1 else { return [command] }
        let probe = try encode(command.replacingUIDSet([1]), tag: String(repeating: "A", count: Self.maxTagLength))
        // The probe's set "1" takes one octet of its longest line.
        let budget = maxLineLength - (probe.longestLineLength - 1)
        guard budget >= 21 else {
            throw .invalidArgument(field: "maxLineLength", reason: "\(maxLineLength) leaves no room for a UID range")
        }
        return set.split(maxEncodedLength: budget).map { command.replacingUIDSet($0) }
    }
}
