// swift-tools-version:6.1
// libFuzzer target over IMAPCore's response framer and parser. A package of its own so that the
// fuzzer's unsafe build flags never reach the main package; run it with integration/fuzz-parser.sh.
import PackageDescription

let package = Package(
    name: "mailbox-gateway-fuzz",
    dependencies: [
        .package(name: "mailbox-gateway", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .executableTarget(
            name: "IMAPParserFuzzer",
            dependencies: [
                .product(name: "IMAPCore", package: "mailbox-gateway"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    ]
)
