import Configuration
import Foundation
import GatewayApp
import Logging
import Synchronization
import Testing

/// `log.format: json` (issue 18): one JSON object per line, metadata as keys, the message's
/// quotes and newlines escaped, so a hostile folder name in a message cannot forge a line.
struct JSONLogHandlerTests {
    final class Lines: Sendable {
        let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
    }

    @Test func oneObjectPerLineWithMetadata() throws {
        let lines = Lines()
        var logger = Logger(label: "mailbox-gateway", factory: { JSONLogHandler(label: $0, write: lines.append) })
        logger[metadataKey: "requestId"] = "req-1"
        logger.info("moved \"Inbox\"\nforged line", metadata: ["count": "3", "level": "forged", "ids": ["a", "b"]])
        logger.debug("below the level")
        let written = lines.lines.withLock { $0 }
        #expect(written.count == 1)
        let line = try #require(written.first)
        #expect(!line.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == "moved \"Inbox\"\nforged line")
        #expect(object["level"] as? String == "info")
        #expect(object["label"] as? String == "mailbox-gateway")
        #expect(object["requestId"] as? String == "req-1")
        #expect(object["count"] as? String == "3")
        #expect(object["ids"] as? [String] == ["a", "b"])
        let time = try #require(object["time"] as? String)
        #expect(time.hasSuffix("Z") && time.count >= 20, "\(time)")
    }

    @Test func formatIsReadAndCheckedAtStart() throws {
        func settings(_ format: String) throws -> GatewaySettings {
            let environment = EnvironmentVariablesProvider(environmentVariables: ["GATEWAY_LOG_FORMAT": format])
            return try GatewaySettings.make(ConfigReader(providers: [GatewaySettings.environmentProvider(environment)]))
        }
        #expect(try settings("json").logFormat == .json)
        #expect(try settings("text").logFormat == .text)
        #expect {
            _ = try settings("xml")
        } throws: { error in
            (error as? GatewaySettings.InvalidSetting)?.key == "log.format"
        }
    }
}
