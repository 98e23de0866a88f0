// swift-tools-version: 6.1
import Foundation
import PackageDescription

// Stage modules live in Plugins/<Name>/ with their code in Sources/ and their tests
// in Tests/. They are discovered here, so adding one needs no edit to this file:
// only its folder, plus one line in Sources/HyphaeHost/InstalledPlugins.swift.
// A module that needs more than HyphaeCore lists it in `extraPluginDependencies`.
let extraPluginDependencies: [String: [Target.Dependency]] = [
    "Console": [.product(name: "Logging", package: "swift-log")],
]

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
func containsFiles(_ relativePath: String) -> Bool {
    let path = packageRoot.appendingPathComponent(relativePath).path
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    return entries.contains { !$0.hasPrefix(".") }
}

let pluginNames: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: packageRoot.appendingPathComponent("Plugins").path)) ?? []
    return names.filter { containsFiles("Plugins/\($0)/Sources") }.sorted()
}()

// The MFN engine's stencil loops run about twice as fast on 256-bit vectors (Docs/PERFORMANCE.md).
// When the machine building Hyphae has AVX2 and FMA (every x86-64 server CPU since Haswell, 2013, and
// AMD Zen), MFN is compiled for that level; the binary then needs such a CPU to run. Set
// HYPHAE_PORTABLE_BUILD=1 to build for any x86-64. Swift never fuses a multiply and an add on its own,
// so the results are the same bits either way.
let vectorTuning: [String: [SwiftSetting]] = {
    #if os(Linux) && arch(x86_64)
    guard ProcessInfo.processInfo.environment["HYPHAE_PORTABLE_BUILD"] != "1",
        let cpuInfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
        let flags = cpuInfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
    else { return [:] }
    let features = Set(flags.split(separator: " ").map(String.init))
    guard features.isSuperset(of: ["avx2", "fma", "bmi2"]) else { return [:] }
    return ["MFN": [.unsafeFlags(["-target-cpu", "haswell"]), .define("HYPHAE_VECTOR_TARGET_HASWELL")]]
    #else
    return [:]
    #endif
}()

let pluginTargets: [Target] = pluginNames.flatMap { name -> [Target] in
    var targets: [Target] = [
        .target(
            name: name,
            dependencies: ["HyphaeCore"] + (extraPluginDependencies[name] ?? []),
            path: "Plugins/\(name)/Sources",
            swiftSettings: vectorTuning[name] ?? []
        )
    ]
    if containsFiles("Plugins/\(name)/Tests") {
        targets.append(
            .testTarget(
                name: "\(name)Tests",
                dependencies: [.target(name: name), "HyphaeCore", "HyphaeTesting"],
                path: "Plugins/\(name)/Tests"
            )
        )
    }
    return targets
}

let package = Package(
    name: "Hyphae",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hyphae", targets: ["hyphae"]),
        .library(name: "HyphaeCore", targets: ["HyphaeCore"]),
        .library(name: "HyphaeHost", targets: ["HyphaeHost"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        .target(
            name: "HyphaeCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "HyphaeHost",
            dependencies: [
                "HyphaeCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ] + pluginNames.map { .target(name: $0) }
        ),
        // A WebSocket client that speaks the protocol: used by `hyphae subscribe`, the tests and the bench.
        .target(
            name: "HyphaeClient",
            dependencies: [
                "HyphaeCore",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The load generator and the ceiling server behind `hyphae bench run` and `hyphae bench ceiling`.
        .target(
            name: "HyphaeBench",
            dependencies: [
                "HyphaeCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .executableTarget(
            name: "hyphae",
            dependencies: [
                "HyphaeCore",
                "HyphaeHost",
                "HyphaeClient",
                "HyphaeBench",
                // `hyphae bench engine` times the MFN engine directly.
                "MFN",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers shared by every test target: fixtures, temporary folders, running the CLI.
        .target(
            name: "HyphaeTesting",
            dependencies: ["HyphaeCore", .product(name: "Logging", package: "swift-log")],
            path: "Tests/HyphaeTesting"
        ),
        .testTarget(
            name: "HyphaeCoreTests",
            dependencies: ["HyphaeCore", "HyphaeTesting"]
        ),
        .testTarget(
            name: "HyphaeHostTests",
            dependencies: [
                "HyphaeHost", "HyphaeCore", "HyphaeClient", "HyphaeTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "HyphaeBenchTests",
            dependencies: ["HyphaeBench", "HyphaeHost", "HyphaeCore", "HyphaeTesting", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "HyphaeCLITests",
            dependencies: ["HyphaeTesting"]
        ),
    ] + pluginTargets,
    swiftLanguageModes: [.v6]
)
