// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "regiond",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "regiond", targets: ["regiond"]),
        .executable(name: "regionctl", targets: ["regionctl"]),
        .executable(name: "demo-fleet", targets: ["demo-fleet"]),
        .executable(name: "regiond-bench", targets: ["regiond-bench"]),
        .executable(name: "regiond-fuzz", targets: ["regiond-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .systemLibrary(name: "CProbeSockets"),
        .target(name: "RegionCore"),
        .target(
            name: "RegionProbes",
            dependencies: [
                "RegionCore", "CProbeSockets",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "RegionDaemon",
            dependencies: [
                "RegionCore", "RegionProbes", "CSystemd",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "regiond",
            dependencies: [
                "RegionCore",
                "RegionDaemon",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "regionctl",
            dependencies: [
                "RegionCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Release builds link the Swift runtime and FoundationEssentials in: regionctl starts
            // in 6 ms instead of 11 (it loads no Swift library; docs/performance.md). regiond,
            // which needs all of Foundation, stays dynamic. Debug builds stay dynamic too:
            // ThreadSanitizer's allocator fails a CHECK in a statically linked runtime.
            // Linked statically, FoundationEssentials needs these named: its static archive does
            // not carry them (SwiftPM's --static-swift-stdlib would, but for every product).
            linkerSettings: [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]
                + ["_FoundationCShims", "_FoundationCollections", "swiftSynchronization", "swift_Concurrency", "swift_StringProcessing", "swift_RegexParser", "swiftGlibc", "util"]
                .map { .linkedLibrary($0, .when(configuration: .release)) }
        ),
        .executableTarget(
            name: "demo-fleet",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(name: "regiond-bench", dependencies: ["RegionCore", "RegionDaemon", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "RegionFuzzing",
            dependencies: [
                "RegionCore", "RegionProbes", "RegionDaemon", "RegionTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "regiond-fuzz", dependencies: ["RegionFuzzing"]),
        .target(name: "RegionTestSupport", dependencies: ["RegionProbes", .product(name: "NIOCore", package: "swift-nio")]),
        .testTarget(
            name: "RegionCoreTests",
            dependencies: [
                "RegionCore",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(
            name: "RegionProbesTests",
            dependencies: [
                "RegionProbes", "RegionTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "RegionDaemonTests",
            dependencies: [
                "RegionDaemon", "RegionTestSupport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["RegionFuzzing"]),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "RegionCore", "RegionDaemon", "RegionTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
    ]
)

for target in package.targets where target.type != .system {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    target.swiftSettings = settings
}
