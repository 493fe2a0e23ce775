import GatewayCore
import Testing

/// Tokens and keys the gateway makes. Pure.
@Suite struct RandomTokenTests {
    /// Job keys are read on the `jobs show|cancel <key>` command line, where a leading `-` makes
    /// an option of them: none starts with one. A bare token does once in 64 (about 312 of these
    /// 20,000), so this fails for keys made as bare tokens.
    @Test func jobKeysNeverStartWithADash() {
        let keys = (0..<20_000).map { _ in RandomToken.jobKey() }
        #expect(keys.allSatisfy { !$0.hasPrefix("-") })
        #expect(keys.allSatisfy { $0.count == 43 && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") } })
        #expect(Set(keys).count == keys.count)
    }
}
