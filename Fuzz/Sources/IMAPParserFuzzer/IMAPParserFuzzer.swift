import IMAPCore
import NIOCore

/// libFuzzer's entry point: the input is a stream of bytes as an IMAP server might send them.
///
/// The stream is framed whole and framed again in two pieces cut at a point the input chooses;
/// both must give the same frames (the framer is incremental and must not depend on how bytes
/// arrive). Every frame goes to the parser and, when it parses, through the typed views the
/// gateway reads. Errors are expected; a trap, a stack overflow or a mismatch is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = frames(of: bytes, cutAt: nil)
    let cut = bytes.isEmpty ? 0 : Int(bytes[0]) * bytes.count / 256
    let split = frames(of: bytes, cutAt: cut)
    precondition(whole == split, "framing depends on where the input was cut (at \(cut))")
    if !whole.failed {
        let framed = Array(whole.frames.joined())
        precondition(framed == Array(bytes.prefix(bytes.count - whole.leftover)), "the framer lost, reordered or invented bytes")
    }

    // A small nesting limit too, so that the limit's own code paths are exercised at depth.
    let parsers = [ResponseParser(), ResponseParser(maxExpandedSetSize: 1_000, maxNestingDepth: 4, maxThreadDepth: 3)]
    for frame in whole.frames {
        for parser in parsers {
            guard let response = try? parser.parse(frame) else { continue }
            touch(response)
        }
    }
    return 0
}

/// The frames a fresh framer cuts from `bytes` (fed whole, or in two pieces at `cutAt`), and whether it stopped on an error.
private struct Framing: Equatable {
    var frames: [[UInt8]] = []
    var failed = false
    var leftover = 0
}

private func frames(of bytes: [UInt8], cutAt cut: Int?) -> Framing {
    var framer = ResponseFramer()
    var buffer = ByteBuffer()
    var result = Framing()
    let pieces = cut.map { [bytes[..<$0], bytes[$0...]] } ?? [bytes[...]]
    for piece in pieces {
        buffer.writeBytes(piece)
        do {
            while let frame = try framer.nextFrame(from: &buffer) { result.frames.append(Array(frame.readableBytesView)) }
        } catch {
            result.failed = true
            return result
        }
    }
    result.leftover = buffer.readableBytes
    return result
}

/// Keeps a computed value alive so that the optimiser cannot drop the work that produced it.
@inline(never)
func keep(_ value: Int) { withExtendedLifetime(value) {} }

/// Reads what the gateway reads from a response, so that the typed views are fuzzed too.
private func touch(_ response: Response) {
    var sink = 0
    switch response {
    case .untagged(.fetch(let n, let attributes)):
        let message = FetchedMessage(sequenceNumber: n, attributes: attributes)
        if message.bodyStructure?.hasAttachment == true { sink += 1 }
        sink += message.internalDate?.description.count ?? 0
        sink += message.envelope?.from.compactMap(\.email).count ?? 0
    case .untagged(.thread(let roots)):
        sink += roots.reduce(0) { $0 + $1.allNumbers.count }
    case .untagged(.list(let entry)):
        sink += entry.name.name.count
    case .untagged(.mailboxStatus(let status)):
        sink += status.mailbox.name.count
    case .untagged(.esearch(let result)):
        sink += result.all?.count ?? 0
    case .untagged(.vanished(_, let set)):
        sink += set.count
    default:
        break
    }
    keep(sink)
}
