import GatewayStore
import IMAPClient
import IMAPCore
import Logging

/// `mailbox-gateway check`: reads the configuration, connects to the IMAP server and opens the
/// database as the server would, prints what it found — the server's capabilities and, for each
/// one the gateway uses, what it does when the server lacks it — and says whether the gateway
/// can run. Nothing on the server changes; the database is created or migrated when needed.
public enum ServerCheck {
    /// How long the database may take to answer.
    static let databaseTimeout: Duration = .seconds(10)

    /// The database did not answer in time.
    struct NoAnswer: Error, CustomStringConvertible {
        var timeout: Duration
        // The PostgreSQL client's pool retries failed connections without saying why: the
        // server down, the password refused and the database missing all look alike from here.
        var description: String {
            "no answer within \(timeout) (server unreachable, credentials refused, or no such database)"
        }
    }

    /// A capability the gateway uses, and what it does without it.
    public struct Use: Sendable {
        public var capability: Capability
        public var usedFor: String
        public var without: String
    }

    /// The capabilities that change the gateway's plan (SPEC §4), in the order the report lists them.
    public static let uses: [Use] = [
        Use(
            capability: .move, usedFor: "moves (UID MOVE)",
            without: "COPY, then STORE \\Deleted and UID EXPUNGE of exactly the copied originals (needs UIDPLUS)"),
        Use(
            capability: .uidPlus, usedFor: "UID EXPUNGE of exactly the batch, COPYUID for newIds",
            without: "moves on a server without MOVE and permanent deletes are refused (502 upstreamUnsupported); copies give no newIds"),
        Use(
            capability: .sort, usedFor: "listing order by subject, from, to, date, size (UID SORT)",
            without: "the gateway orders by RFC 5256 itself, from sort keys it fetches once and keeps"),
        Use(capability: .esort, usedFor: "partial SORT results", without: "plain UID SORT"),
        Use(
            capability: .threadReferences, usedFor: "not used: the gateway threads conversations itself, across folders",
            without: "conversations are always threaded by the gateway (RFC 5256 REFERENCES, across folders)"),
        Use(
            capability: .condStore, usedFor: "flag changes since a mod-sequence",
            without: "flags refetched in chunks on each metadata sync; flag orders are not cached"),
        Use(capability: .qresync, usedFor: "not used (expunges are found by comparing UIDs)", without: "expunges found by comparing UIDs"),
        Use(
            capability: .searchRes, usedFor: "one command for a large UID set (UID SEARCH RETURN (SAVE))",
            without: "large UID sets sent as several commands of at most imap.maxLineLength octets"),
        Use(capability: .esearch, usedFor: "compact search answers", without: "plain UID SEARCH; large sets sent in pieces"),
        Use(capability: .literalPlus, usedFor: "non-synchronising literals", without: "synchronising literals (one round trip each)"),
        Use(
            capability: .specialUse, usedFor: "folder roles (Trash for delete, Sent and Drafts for conversations)",
            without: "roles only where LIST still shows the attributes; else delete-to-Trash answers 422 noTrashFolder"),
        Use(capability: .saslIR, usedFor: "master-user login in one round trip", without: "AUTHENTICATE PLAIN with a continuation"),
    ]

    /// `text` with every control character (ESC of a terminal escape sequence, BEL, …) shown as
    /// `\u{1b}`: a server's text reaches an operator's terminal only as text.
    public static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// The report's capability lines: each capability the gateway uses, present or what happens without it.
    public static func capabilityReport(_ capabilities: Set<Capability>) -> [String] {
        uses.map { use in
            capabilities.contains(use.capability)
                ? "  yes  \(use.capability): \(use.usedFor)"
                : "  no   \(use.capability): \(use.without)"
        }
    }

    /// Runs the check, writing the report line by line. `login`: an account to log in as, to see
    /// the capabilities the server offers after login (Dovecot announces MOVE, SORT and the
    /// rest only then); without it the configured master user is used, if any, else the
    /// greeting's capabilities are reported. Returns whether everything needed works.
    public static func run(configuration: GatewayConfiguration, login: (user: String, password: String)?, print write: (String) -> Void) async
        -> Bool
    {
        // Lines carry the server's own words (capabilities, refusals): never its control characters
        // to the operator's terminal.
        func print(_ line: String) { write(printable(line)) }
        var ok = true
        let problems = configuration.problems()
        if problems.isEmpty {
            print("configuration: ok")
        } else {
            for problem in problems { print("configuration: \(problem)") }
            return false
        }

        let imap = configuration.imap
        let target = "\(imap.host):\(imap.port) (tls: \(imap.tlsMode.rawValue))"
        let logger = Logger(label: "mailbox-gateway.check", factory: { _ in SwiftLogNoOpLogHandler() })
        do {
            let connection = try await IMAPConnection.connect(to: imap, logger: logger)
            print("imap: \(target) answers")
            var credentials: IMAPCredentials?
            var who = ""
            if let login {
                credentials = IMAPCredentials(user: login.user, password: login.password)
                who = login.user
            } else if let master = configuration.masterUser, let password = configuration.masterPassword {
                credentials = IMAPCredentials(user: master, password: password)
                who = "\(master) (the master user)"
            }
            var loggedIn = false
            if let credentials {
                do {
                    try await connection.login(credentials)
                    loggedIn = true
                } catch {
                    print("imap: login as \(who) failed: \(error)")
                    ok = false
                }
            }
            print(
                loggedIn
                    ? "imap: logged in as \(who); capabilities after login:"
                    : "imap: capabilities before login (servers may offer more after it; --user shows those):")
            let capabilities = connection.capabilities
            print("  " + capabilities.map(\.description).sorted().joined(separator: " "))
            print("what the gateway uses, and what it does without it:")
            for line in capabilityReport(capabilities) { print(line) }
            await connection.logout()
        } catch {
            print("imap: \(target) failed: \(error)")
            ok = false
        }

        let location = configuration.databaseURL.map(GatewayStorage.redacted(url:)) ?? configuration.databasePath
        do {
            var logger = Logger(label: "mailbox-gateway.check")
            logger.logLevel = .error
            let storage = try GatewayStorage.open(configuration, asServer: false, logger: logger)
            // A PostgreSQL client retries an unreachable server for about a minute before it
            // gives up; the check answers sooner.
            let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await storage.run { try await $0.probeWrite() }
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: databaseTimeout)
                    return false
                }
                defer { group.cancelAll() }
                return try await group.next() ?? false
            }
            guard answered else { throw NoAnswer(timeout: databaseTimeout) }
            print("database: \(location) opens and takes writes")
        } catch {
            print("database: \(location) failed: \(error)")
            ok = false
        }
        print(ok ? "check: ok" : "check: FAILED")
        return ok
    }
}
