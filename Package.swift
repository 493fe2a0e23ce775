// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "mailbox-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "IMAPCore", targets: ["IMAPCore"]),
        .library(name: "IMAPClient", targets: ["IMAPClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
    ],
    targets: [
        // Pure IMAP codec: grammar types, incremental response parser, command encoder.
        .target(
            name: "IMAPCore",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio")
            ],
            swiftSettings: swiftSettings
        ),
        // Channel handlers, async connection, per-account pool, TLS.
        .target(
            name: "IMAPClient",
            dependencies: [
                "IMAPCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IMAPCoreTests",
            dependencies: ["IMAPCore"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "IMAPClientTests",
            dependencies: [
                "IMAPClient",
                "IMAPCore",
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
