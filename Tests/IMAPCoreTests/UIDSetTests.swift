import IMAPCore
import Testing

struct CompressionCase: Sendable, CustomTestStringConvertible {
    let name: String
    let set: UIDSet
    let wire: String

    init(_ name: String, _ set: UIDSet, _ wire: String) {
        self.name = name
        self.set = set
        self.wire = wire
    }

    var testDescription: String { name }
}

/// Every other UID from 1 to 19,999: 10,000 UIDs that compress to nothing.
let sparse10k = UIDSet(stride(from: UInt32(1), through: 19_999, by: 2))

private let compressionCases: [CompressionCase] = [
    .init("unsorted", [3, 1, 2, 5], "1:3,5"),
    .init("duplicates", [2, 2, 1, 1, 3, 3], "1:3"),
    .init("zero dropped", [0, 1, 2], "1:2"),
    .init("only zero", [0], ""),
    .init("empty", [], ""),
    .init("single", [42], "42"),
    .init("no neighbours", [5, 1, 3], "1,3,5"),
    .init("adjacent numbers merged", [1, 2, 4, 5, 3], "1:5"),
    .init("top of the range", [4_294_967_295, 4_294_967_294, 1], "1,4294967294:4294967295"),
    .init("ranges merged when adjacent", UIDSet(ranges: [1...3, 4...6]), "1:6"),
    .init("ranges merged when overlapping", UIDSet(ranges: [5...9, 1...5]), "1:9"),
    .init("ranges in any order", UIDSet(ranges: [10...12, 1...2, 3...3]), "1:3,10:12"),
    .init("ranges nested", UIDSet(ranges: [1...100, 5...6, 50...150]), "1:150"),
    .init("range from zero starts at one", UIDSet(ranges: [0...3]), "1:3"),
    .init("range of only zero dropped", UIDSet(ranges: [0...0, 5...6]), "5:6"),
    .init("range to UInt32.max", UIDSet(ranges: [4_294_967_290...4_294_967_295, 7...7]), "7,4294967290:4294967295"),
    .init("ranges with gaps kept apart", UIDSet(ranges: [1...2, 4...5]), "1:2,4:5"),
    .init("union", UIDSet([1, 2, 3]).union([4, 9]), "1:4,9"),
    .init("union with empty", UIDSet([1, 2, 3]).union(UIDSet()), "1:3"),
    .init("subtracting", UIDSet(ranges: [1...10]).subtracting([3, 4, 10]), "1:2,5:9"),
    .init("subtracting everything", UIDSet([1, 2]).subtracting([1, 2, 3]), ""),
    .init("intersection", UIDSet(ranges: [1...10]).intersection([0, 5, 6, 11, 12]), "5:6"),
    // A server may answer `ALL 1:4294967295` (issue 13): set operations work on ranges, never on 4 billion numbers.
    .init("intersection with a server's whole UID space", UIDSet(ranges: [1...4_294_967_295]).intersection([3, 7, 8]), "3,7:8"),
    .init("whole UID space intersected by asked", UIDSet([3, 7, 8]).intersection(UIDSet(ranges: [1...4_294_967_295])), "3,7:8"),
    .init("subtracting the whole UID space", UIDSet([3, 7, 8]).subtracting(UIDSet(ranges: [1...4_294_967_295])), ""),
    .init("whole UID space minus a few", UIDSet(ranges: [1...4_294_967_295]).subtracting([1, 5, 4_294_967_295]), "2:4,6:4294967294"),
    .init("subtracting ranges that straddle", UIDSet(ranges: [1...10, 20...30]).subtracting(UIDSet(ranges: [5...25])), "1:4,26:30"),
    .init("intersection of interleaved ranges", UIDSet(ranges: [1...10, 20...30]).intersection(UIDSet(ranges: [5...22, 29...40])), "5:10,20:22,29:30"),
    .init("intersection with empty", UIDSet([1, 2]).intersection(UIDSet()), ""),
    .init("subtracting nothing", UIDSet(ranges: [1...3, 9...9]).subtracting(UIDSet()), "1:3,9"),
]

/// Checks that `pieces` partition `original` in ascending order: non-empty, disjoint, increasing, complete.
func expectPartition(_ pieces: [UIDSet], of original: UIDSet, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(pieces.allSatisfy { !$0.isEmpty }, sourceLocation: sourceLocation)
    for (a, b) in zip(pieces, pieces.dropFirst()) {
        guard let aMax = a.max, let bMin = b.min, aMax < bMin else {
            Issue.record("pieces out of order: \(a) then \(b)", sourceLocation: sourceLocation)
            return
        }
    }
    #expect(UIDSet(pieces.flatMap(\.values)) == original, sourceLocation: sourceLocation)
    #expect(pieces.map(\.count).reduce(0, +) == original.count, sourceLocation: sourceLocation)
}

@Suite("UIDSet")
struct UIDSetTests {
    @Test("compresses", arguments: compressionCases)
    func compresses(_ c: CompressionCase) {
        #expect(c.set.description == c.wire)
        #expect(c.set.isEmpty == c.wire.isEmpty)
        // The ranges stay sorted, disjoint and non-adjacent, and never hold zero.
        for (a, b) in zip(c.set.ranges, c.set.ranges.dropFirst()) { #expect(UInt64(a.upperBound) + 1 < UInt64(b.lowerBound)) }
        #expect(!c.set.contains(0))
        // Expanding is only checked on sets small enough to expand (the whole-UID-space cases are not).
        if c.set.count <= 1_000_000 { #expect(c.set.values.count == c.set.count) }
    }

    @Test func membershipAndCounts() {
        let set = UIDSet(ranges: [1...3, 5...5, 10...20])
        for n: UInt32 in [1, 2, 3, 5, 10, 15, 20] { #expect(set.contains(n), "\(n)") }
        for n: UInt32 in [0, 4, 6, 9, 21, 1000, .max] { #expect(!set.contains(n), "\(n)") }
        #expect(set.count == 15)
        #expect(set.min == 1)
        #expect(set.max == 20)
        #expect(set.values == [1, 2, 3, 5] + Array(10...20))
        #expect(UIDSet().min == nil)
        #expect(UIDSet().max == nil)
        #expect(UIDSet().count == 0)
        #expect(!UIDSet().contains(1))
        #expect(UIDSet(ranges: [1...UInt32.max]).count == Int(UInt32.max))
    }

    @Test func equalSetsFromDifferentInputs() {
        #expect(UIDSet([5, 4, 3, 1]) == UIDSet(ranges: [1...1, 3...5]))
        #expect(Set([UIDSet([1, 2]), UIDSet(ranges: [1...2])]).count == 1)
    }

    @Test func setAlgebraOnSparseSets() {
        let evens = UIDSet(stride(from: UInt32(2), through: 20_000, by: 2))
        #expect(sparse10k.count == 10_000)
        #expect(sparse10k.union(evens) == UIDSet(ranges: [1...20_000]))
        #expect(UIDSet(ranges: [1...20_000]).subtracting(evens) == sparse10k)
        #expect(sparse10k.intersection(evens).isEmpty)
        #expect(sparse10k.ranges.count == 10_000)
    }

    // MARK: split(maxEncodedLength:)

    @Test(arguments: [21, 22, 30, 100, 200, 1000, 8192])
    func splitSparseByEncodedLength(limit: Int) {
        let pieces = sparse10k.split(maxEncodedLength: limit)
        #expect(pieces.allSatisfy { $0.description.utf8.count <= limit })
        expectPartition(pieces, of: sparse10k)
        // Greedy: a piece stops only where the next range would not fit.
        for (piece, next) in zip(pieces, pieces.dropFirst()) {
            let nextRange = UIDSet(ranges: [next.ranges[0]]).description
            #expect(piece.description.utf8.count + 1 + nextRange.utf8.count > limit)
        }
    }

    @Test(arguments: [
        CompressionCase("single range", UIDSet(ranges: [1...100_000]), ""),
        CompressionCase("mixed ranges", UIDSet(ranges: [1...500, 502...502, 510...900, 4_294_960_000...4_294_967_295]), ""),
        CompressionCase("empty", UIDSet(), ""),
        CompressionCase("widest numbers", UIDSet(stride(from: UInt32.max - 2000, through: UInt32.max, by: 2)), ""),
    ])
    func splitByEncodedLength(_ c: CompressionCase) {
        for limit in [21, 25, 64, 8192] {
            let pieces = c.set.split(maxEncodedLength: limit)
            #expect(pieces.allSatisfy { $0.description.utf8.count <= limit }, "limit \(limit)")
            expectPartition(pieces, of: c.set)
        }
    }

    @Test func splitKeepsAFittingSetWhole() {
        let set: UIDSet = [1, 2, 3, 5]
        #expect(set.split(maxEncodedLength: 21) == [set])
        #expect(set.split(maxEncodedLength: 8192) == [set])
    }

    // MARK: split(maxCount:)

    @Test func splitRangeByCount() {
        let pieces = UIDSet(ranges: [1...10]).split(maxCount: 3)
        #expect(pieces.map(\.description) == ["1:3", "4:6", "7:9", "10"])
    }

    @Test func splitAcrossRangesByCount() {
        let pieces = UIDSet(ranges: [1...2, 5...9, 20...20]).split(maxCount: 3)
        #expect(pieces.map(\.description) == ["1:2,5", "6:8", "9,20"])
    }

    @Test(arguments: [1, 2, 7, 1000, 3333, 10_000, 20_000])
    func splitSparseByCount(maxCount: Int) {
        let pieces = sparse10k.split(maxCount: maxCount)
        #expect(pieces.allSatisfy { $0.count <= maxCount })
        #expect(pieces.dropLast().allSatisfy { $0.count == maxCount })
        #expect(pieces.count == (10_000 + maxCount - 1) / maxCount)
        expectPartition(pieces, of: sparse10k)
    }

    @Test(arguments: [1, 3, 64, 99_999, 100_000, 1_000_000])
    func splitDenseByCount(maxCount: Int) {
        let set = UIDSet(ranges: [1...50_000, 60_001...110_000])
        let pieces = set.split(maxCount: maxCount)
        #expect(pieces.allSatisfy { $0.count <= maxCount })
        #expect(pieces.dropLast().allSatisfy { $0.count == maxCount })
        expectPartition(pieces, of: set)
        #expect(pieces.map(\.count).reduce(0, +) == 100_000)
    }

    @Test func splitEmptyByCount() {
        #expect(UIDSet().split(maxCount: 5).isEmpty)
    }

    // MARK: CommandEncoder.split

    @Test(
        arguments: [
            Command.uidStore(sparse10k, .add, flags: [.seen, Flag("$Label1")], silent: true, unchangedSince: 123_456_789),
            Command.uidMove(sparse10k, MailboxName("Archive/Société/Été 2024")),
            Command.uidCopy(sparse10k, MailboxName("Trash")),
            Command.uidExpunge(sparse10k),
            Command.uidFetch(sparse10k, [.uid, .flags, .headerFields(["X-Priority", "Importance"])], changedSince: 77),
            Command.uidSearch(.uid(sparse10k), returning: nil),
            Command.uidSearch(.and([.uid(sparse10k), .unseen, .not(.deleted)]), returning: [.all]),
        ],
        [200, 8192]
    )
    func commandSplitKeepsEveryLineUnderTheLimit(command: Command, maxLineLength: Int) throws {
        let encoder = CommandEncoder()
        let commands = try encoder.split(command, maxLineLength: maxLineLength)
        #expect(commands.count > 1)
        var sets: [UIDSet] = []
        for piece in commands {
            #expect(piece.replacingUIDSet([1]) == command.replacingUIDSet([1]), "only the set changes")
            for tag in ["A1", "A123456789"] {
                let encoded = try encoder.encode(piece, tag: tag)
                #expect(encoded.longestLineLength <= maxLineLength)
                #expect(encoded.bytes.count <= maxLineLength)
            }
            sets.append(try #require(piece.uidSet))
        }
        expectPartition(sets, of: sparse10k)
    }

    @Test func commandSplitLeavesSmallAndOtherCommandsAlone() throws {
        let encoder = CommandEncoder()
        let small = Command.uidMove([1, 2, 3], .inbox)
        #expect(try encoder.split(small, maxLineLength: 8192) == [small])
        let single = Command.uidStore([7], .add, flags: [.seen], silent: true, unchangedSince: nil)
        #expect(try encoder.split(single, maxLineLength: 30) == [single])
        #expect(try encoder.split(.noop, maxLineLength: 10) == [.noop])
        let search = Command.uidSearch(.and([.unseen, .uid(sparse10k)]), returning: nil)
        #expect(try encoder.split(search, maxLineLength: 100) == [search], "a UID criterion that is not first is left alone")
    }

    @Test func commandSplitRefusesALimitWithoutRoom() {
        let command = Command.uidMove(sparse10k, MailboxName("Trash"))
        #expect(throws: CommandEncodingError.invalidArgument(
            field: "maxLineLength", reason: "40 leaves no room for a UID range")) {
            try CommandEncoder().split(command, maxLineLength: 40)
        }
    }

    @Test func commandSplitAtTheTightestLimit() throws {
        // "A123456789 UID EXPUNGE " + CRLF = 25 octets: a limit of 46 leaves exactly 21 for the set.
        let commands = try CommandEncoder().split(.uidExpunge(sparse10k), maxLineLength: 46)
        for command in commands {
            #expect(try CommandEncoder().encode(command, tag: "A123456789").longestLineLength <= 46)
        }
        expectPartition(commands.compactMap(\.uidSet), of: sparse10k)
    }
}
