import Foundation
import Testing

/// Writes the fuzzer's seed corpus (`Fuzz/corpus/`) from the fixture tables, so that the fuzzer
/// starts from every response shape the tests know. Skipped unless asked for:
///
///     IMAPCORE_FUZZ_CORPUS=$PWD/Fuzz/corpus swift test --filter FuzzSeedCorpus
@Suite("Fuzz seed corpus")
struct FuzzSeedCorpus {
    static let directory = ProcessInfo.processInfo.environment["IMAPCORE_FUZZ_CORPUS"]
    /// Seeds longer than the fuzzer's `-max_len` would only be truncated.
    static let maxSeedLength = 4096

    /// Every small fixture alone, well-formed or not, and runs of five well-formed ones back to back.
    static var seeds: [(name: String, wire: [UInt8])] {
        var seeds = ResponseFixtures.all.map { (name: $0.name, wire: $0.wire) }
            + ResponseFixtures.malformed.map { (name: "malformed " + $0.name, wire: $0.wire) }
        let all = ResponseFixtures.all
        for start in stride(from: 0, to: all.count, by: 5) {
            let run = all[start..<min(start + 5, all.count)]
            seeds.append((name: "stream \(start)", wire: run.flatMap(\.wire)))
        }
        return seeds.filter { $0.wire.count <= maxSeedLength }
    }

    /// A file name from a fixture name: lower-case letters, digits and dashes.
    static func fileName(_ name: String) -> String {
        var out = ""
        for c in name.lowercased().unicodeScalars {
            if ("a"..."z").contains(c) || ("0"..."9").contains(c) {
                out.unicodeScalars.append(c)
            } else if !out.hasSuffix("-") {
                out += "-"
            }
        }
        return String(out.trimmingCharacters(in: CharacterSet(charactersIn: "-")).prefix(80))
    }

    @Test(.enabled(if: directory != nil, "set IMAPCORE_FUZZ_CORPUS to the directory to write"))
    func write() throws {
        let directory = URL(fileURLWithPath: try #require(Self.directory), isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let seeds = Self.seeds
        #expect(Set(seeds.map { Self.fileName($0.name) }).count == seeds.count, "two seeds would share a file name")
        for seed in seeds {
            try Data(seed.wire).write(to: directory.appendingPathComponent(Self.fileName(seed.name)))
        }
    }
}
