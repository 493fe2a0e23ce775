import Foundation

/// A helper script of `integration/` run as a subprocess of a test: a server on 127.0.0.1 that
/// prints the port it chose as its first line (the fake IMAP server, the cutting proxy). Its stdin
/// is a pipe; closing it, or SIGTERM, ends the script.
public final class LoopbackScript {
    public let port: Int
    private let process: Process
    private let input: Pipe

    public struct StartFailed: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `integration/<name>` with `arguments` and waits for its port.
    public init(_ name: String, arguments: [String]) throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("integration").appendingPathComponent(name)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path] + arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line: [UInt8] = []
        while !line.contains(UInt8(ascii: "\n")) {
            let data = output.fileHandleForReading.availableData
            guard !data.isEmpty else {
                process.waitUntilExit()
                throw StartFailed(description: "\(name) exited (\(process.terminationStatus)) before telling its port")
            }
            line += data
        }
        let text = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let port = Int(text) else {
            process.terminate()
            throw StartFailed(description: "\(name) printed \(text), not a port")
        }
        self.port = port
        self.process = process
        self.input = input
    }

    /// Ends the script: closes its stdin and sends SIGTERM (in case it is busy writing), then waits.
    public func stop() {
        try? input.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
    }
}
