import Foundation

/// `integration/refusing-proxy.py` as a subprocess: an IMAP proxy on 127.0.0.1 in front of the test
/// bed's plain port that truly lacks the refused capabilities — it removes them from CAPABILITY,
/// answers BAD to the commands that need them, and strips what they would add to responses (see the
/// script's header). Dovecot's `imap_capability` only hides a capability; behind this proxy a client
/// that uses it anyway fails, so fallbacks are proven against a server that does not have it.
///
/// `@unchecked Sendable`: every stored property is a `let` set in `init`; the one non-Sendable
/// piece, the `LoopbackScript` (a `Process` and a pipe), is only used again by `stop()`, which
/// closes the pipe and signals the process — calls Foundation allows from any thread.
public final class RefusingProxy: @unchecked Sendable {
    /// Where clients connect (plaintext only: the proxy removes STARTTLS).
    public let port: Int
    /// The server's port the proxy forwards to.
    public let targetPort: Int
    /// The capabilities asked to be refused, upper-cased.
    public let refused: Set<String>
    private let script: LoopbackScript

    /// Starts a proxy to `targetPort` refusing `capabilities` (e.g. `["MOVE"]`). `forwardRefused`
    /// passes refused commands on instead of answering BAD (only to test the response filter: it
    /// lets the server produce what the capability adds); `log` appends what the proxy refused or stripped.
    public init(targetPort: Int, refusing capabilities: [String], forwardRefused: Bool = false, log: String? = nil) throws {
        var arguments = ["--target-port", "\(targetPort)", "--refuse", capabilities.joined(separator: ",")]
        if forwardRefused { arguments.append("--forward-refused") }
        if let log { arguments += ["--log", log] }
        script = try LoopbackScript("refusing-proxy.py", arguments: arguments)
        port = script.port
        self.targetPort = targetPort
        refused = Set(capabilities.map { $0.uppercased() })
    }

    public func stop() { script.stop() }

    // MARK: The IMAP_TEST_REFUSE mode of the end-to-end suite

    /// `IMAP_TEST_REFUSE=MOVE` (or `SORT,ESORT,THREAD,CONDSTORE,QRESYNC`, …): the test bed's
    /// ``TestBed/server(tls:trustTestCA:maxCommandLineLength:)`` points at one proxy refusing these,
    /// started once per test process in front of Dovecot. Empty: the default mode.
    public static let environmentRefusals: Set<String> = Set(
        (ProcessInfo.processInfo.environment["IMAP_TEST_REFUSE"] ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).uppercased() }.filter { !$0.isEmpty })

    private static let sharedLock = NSLock()
    nonisolated(unsafe) private static var sharedProxy: RefusingProxy?

    /// The process's proxy for `IMAP_TEST_REFUSE`, started on first use in front of `targetPort`; it
    /// lives as long as the test process (its stdin closes when the process ends, which stops it).
    /// `IMAP_TEST_REFUSE_LOG` names a file for the proxy's log.
    static func shared(targetPort: Int) throws -> RefusingProxy {
        try sharedLock.withLock {
            if let sharedProxy { return sharedProxy }
            let started = try RefusingProxy(
                targetPort: targetPort, refusing: environmentRefusals.sorted(),
                log: ProcessInfo.processInfo.environment["IMAP_TEST_REFUSE_LOG"])
            sharedProxy = started
            return started
        }
    }

    /// The shared proxy, if this process started one.
    static var current: RefusingProxy? { sharedLock.withLock { sharedProxy } }
}

extension TestBed {
    /// The capabilities the server behind ``server(tls:trustTestCA:maxCommandLineLength:)`` lacks in
    /// this run (`IMAP_TEST_REFUSE`); empty in the default mode.
    public static var refusedCapabilities: Set<String> { RefusingProxy.environmentRefusals }

    /// True when `IMAP_TEST_REFUSE` names any of `capabilities` (not counting what the proxy refuses
    /// with them, e.g. QRESYNC with CONDSTORE): for `.disabled(if:)` of a test that is about a
    /// capability the mode takes away, with its reason; it keeps running in the default mode.
    public static func refuses(_ capabilities: String...) -> Bool {
        !refusedCapabilities.isDisjoint(with: capabilities.map { $0.uppercased() })
    }

    /// Dovecot's own plain port. It differs from ``port`` only in an `IMAP_TEST_REFUSE` run, where
    /// ``port`` (and so `server()`, what the gateway is given) is the refusing proxy's.
    public var dovecotPort: Int { RefusingProxy.current?.targetPort ?? port }
}
