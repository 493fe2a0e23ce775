/// A set of message numbers (UIDs or sequence numbers) kept as sorted, disjoint, non-adjacent ranges.
///
/// Its wire form is RFC 3501's `sequence-set`, compressed: `[3, 1, 2, 5]` encodes as `1:3,5`.
/// `*` is not representable: callers always name concrete numbers.
public struct UIDSet: Hashable, Sendable, CustomStringConvertible {
    /// Sorted, disjoint and non-adjacent ranges.
    public private(set) var ranges: [ClosedRange<UInt32>]

    public init() { ranges = [] }

    /// Builds a set from any numbers, in any order, with duplicates. Zero is not a valid UID and is dropped.
    public init<S: Sequence>(_ numbers: S) where S.Element == UInt32 {
        let sorted = numbers.filter { $0 > 0 }.sorted()
        var ranges: [ClosedRange<UInt32>] = []
        ranges.reserveCapacity(8)
        for n in sorted {
            if let last = ranges.last {
                if n <= last.upperBound { continue }
                if n == last.upperBound + 1 {
                    ranges[ranges.count - 1] = last.lowerBound...n
                    continue
                }
            }
            ranges.append(n...n)
        }
        self.ranges = ranges
    }

    /// Builds a set from ranges in any order; overlapping or adjacent ranges are merged. Zero is dropped.
    public init(ranges input: [ClosedRange<UInt32>]) {
        let sorted = input.filter { $0.upperBound > 0 }.map { Swift.max($0.lowerBound, 1)...$0.upperBound }
            .sorted { $0.lowerBound < $1.lowerBound }
        var ranges: [ClosedRange<UInt32>] = []
        for r in sorted {
            if let last = ranges.last, r.lowerBound <= last.upperBound || r.lowerBound - 1 == last.upperBound {
                ranges[ranges.count - 1] = last.lowerBound...Swift.max(last.upperBound, r.upperBound)
                continue
            }
            ranges.append(r)
        }
        self.ranges = ranges
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// How many numbers the set holds.
    public var count: Int { ranges.reduce(0) { $0 + Int($1.upperBound - $1.lowerBound) + 1 } }

    public var min: UInt32? { ranges.first?.lowerBound }
    public var max: UInt32? { ranges.last?.upperBound }

    public func contains(_ n: UInt32) -> Bool {
        var low = 0
        var high = ranges.count - 1
        while low <= high {
            let mid = (low + high) / 2
            if ranges[mid].upperBound < n {
                low = mid + 1
            } else if ranges[mid].lowerBound > n {
                high = mid - 1
            } else {
                return true
            }
        }
        return false
    }

    /// Every number in ascending order.
    public var values: [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(count)
        for r in ranges { out.append(contentsOf: r) }
        return out
    }

    public func union(_ other: UIDSet) -> UIDSet { UIDSet(ranges: ranges + other.ranges) }

    /// The numbers of this set that are not in `other`. Works on ranges, never on single numbers, so
    /// a server's `1:4294967295` costs as little as `1:2`.
    public func subtracting(_ other: UIDSet) -> UIDSet {
        var out: [ClosedRange<UInt32>] = []
        var j = 0
        for r in ranges {
            var lower = r.lowerBound
            var exhausted = false
            while j < other.ranges.count, other.ranges[j].upperBound < lower { j += 1 }
            var k = j
            while k < other.ranges.count, other.ranges[k].lowerBound <= r.upperBound {
                let cut = other.ranges[k]
                if cut.lowerBound > lower { out.append(lower...(cut.lowerBound - 1)) }
                if cut.upperBound >= r.upperBound {
                    exhausted = true
                    break
                }
                lower = cut.upperBound + 1
                k += 1
            }
            if !exhausted { out.append(lower...r.upperBound) }
        }
        return UIDSet(sortedRanges: out)
    }

    /// The numbers in both sets, computed on ranges (bounded by the smaller set's range count).
    public func intersection(_ other: UIDSet) -> UIDSet {
        var out: [ClosedRange<UInt32>] = []
        var i = 0
        var j = 0
        while i < ranges.count, j < other.ranges.count {
            let a = ranges[i]
            let b = other.ranges[j]
            let lower = Swift.max(a.lowerBound, b.lowerBound)
            let upper = Swift.min(a.upperBound, b.upperBound)
            if lower <= upper { out.append(lower...upper) }
            if a.upperBound < b.upperBound { i += 1 } else { j += 1 }
        }
        return UIDSet(sortedRanges: out)
    }

    /// The compressed wire form, e.g. `1:500,502,510:900`; empty for an empty set.
    public var description: String {
        var out = ""
        out.reserveCapacity(ranges.count * 12)
        for (i, r) in ranges.enumerated() {
            if i > 0 { out.append(",") }
            out.append(String(r.lowerBound))
            if r.upperBound != r.lowerBound {
                out.append(":")
                out.append(String(r.upperBound))
            }
        }
        return out
    }

    /// Splits the set into consecutive pieces whose wire form is at most `maxLength` octets each.
    ///
    /// Used to keep every command line under the server's (or RFC 7162's recommended) line limit.
    /// A single range always fits once `maxLength` is at least 21 (`4294967295:4294967295`).
    public func split(maxEncodedLength maxLength: Int) -> [UIDSet] {
        precondition(maxLength >= 21, "a UID range needs up to 21 octets")
        var pieces: [UIDSet] = []
        var current: [ClosedRange<UInt32>] = []
        var length = 0
        for r in ranges {
            let itemLength = Self.encodedLength(r)
            let needed = current.isEmpty ? itemLength : length + 1 + itemLength
            if needed > maxLength {
                pieces.append(UIDSet(sortedRanges: current))
                current = [r]
                length = itemLength
            } else {
                current.append(r)
                length = needed
            }
        }
        if !current.isEmpty { pieces.append(UIDSet(sortedRanges: current)) }
        return pieces
    }

    /// Splits the set into pieces of at most `maxCount` numbers each, in ascending order.
    public func split(maxCount: Int) -> [UIDSet] {
        precondition(maxCount > 0)
        var pieces: [UIDSet] = []
        var current: [ClosedRange<UInt32>] = []
        var inCurrent = 0
        for r in ranges {
            var lower = r.lowerBound
            while true {
                let room = maxCount - inCurrent
                let available = Int(r.upperBound - lower) + 1
                if available <= room {
                    current.append(lower...r.upperBound)
                    inCurrent += available
                    break
                }
                let upper = lower + UInt32(room) - 1
                current.append(lower...upper)
                pieces.append(UIDSet(sortedRanges: current))
                current = []
                inCurrent = 0
                lower = upper + 1
            }
            if inCurrent == maxCount {
                pieces.append(UIDSet(sortedRanges: current))
                current = []
                inCurrent = 0
            }
        }
        if !current.isEmpty { pieces.append(UIDSet(sortedRanges: current)) }
        return pieces
    }

    private init(sortedRanges: [ClosedRange<UInt32>]) { ranges = sortedRanges }

    private static func encodedLength(_ r: ClosedRange<UInt32>) -> Int {
        let low = decimalDigits(r.lowerBound)
        return r.lowerBound == r.upperBound ? low : low + 1 + decimalDigits(r.upperBound)
    }

    private static func decimalDigits(_ n: UInt32) -> Int {
        var n = n
        var digits = 1
        while n >= 10 {
            n /= 10
            digits += 1
        }
        return digits
    }
}

extension UIDSet: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: UInt32...) { self.init(elements) }
}
