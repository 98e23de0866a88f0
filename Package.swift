// swift-tools-version: 6.1
import Foundation
import PackageDescription

// Stage modules live in Plugins/<Name>/ with their code in Sources/ and their tests
// in Tests/. They are discovered here, so adding one needs no edit to this file:
// only its folder, plus one line in Sources/HyphaePlugins/BundledPlugins.swift.
// A module that needs more than HyphaeCore lists it in `extraPluginDependencies`.
let extraPluginDependencies: [String: [Target.Dependency]] = [
    "Console": [.product(name: "Logging", package: "swift-log")],
    "Exec": [
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
    ],
    "Redis": [
        .product(name: "Logging", package: "swift-log"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
    ],
]
// What a module's tests need beyond the module, HyphaeCore and HyphaeTesting.
let extraPluginTestDependencies: [String: [Target.Dependency]] = [
    "Redis": [
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOEmbedded", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
    ],
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
// The default build runs on any x86-64 CPU and uses no unsafe flags, so that Hyphae can be a
// dependency. HYPHAE_AVX2=1 compiles MFN for AVX2 and FMA (every x86-64 server CPU since Haswell,
// 2013, and AMD Zen); such a binary dies with SIGILL on an older CPU. Swift never fuses a multiply
// and an add on its own, so the results are the same bits either way.
let vectorTuning: [String: [SwiftSetting]] = {
    guard Context.environment["HYPHAE_AVX2"] == "1" else { return [:] }
    return ["MFN": [.unsafeFlags(["-target-cpu", "haswell"], .when(platforms: [.linux])), .define("HYPHAE_VECTOR_TARGET_HASWELL", .when(platforms: [.linux]))]]
}()

// libFuzzer targets (Tests/fuzz, Docs/SECURITY.md): only with HYPHAE_FUZZ=1, so that normal
// builds and packages that depend on Hyphae never see them or their unsafe flags. The modules
// under test get coverage and address-sanitizer instrumentation; the dependencies (NIO, Crypto,
// Yams) are built as usual, which keeps the build short enough for ./test.sh. For the same
// reason no target depends on HyphaeProtocol, whose Crypto (BoringSSL) takes minutes to
// build: the frame fuzzer reads HyphaeWire, which HyphaeProtocol re-exports.
let fuzzing = Context.environment["HYPHAE_FUZZ"] == "1"
let fuzzFlags = ["-sanitize=fuzzer,address"]
// -enable-testing lets a target reach internal API (@testable import) in a release build.
let fuzzInstrumentation: [SwiftSetting] = fuzzing ? [.unsafeFlags(fuzzFlags + ["-enable-testing"])] : []

let fuzzTargets: [Target] = {
    guard fuzzing else { return [] }
    func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
        .executableTarget(
            name: name,
            dependencies: dependencies,
            path: "Tests/fuzz/\(name)",
            // libFuzzer supplies main() and calls LLVMFuzzerTestOneInput.
            swiftSettings: [.unsafeFlags(fuzzFlags + ["-parse-as-library"])],
            // lld: gold warns about a symbol of the address sanitizer's runtime on every link.
            linkerSettings: [.unsafeFlags(fuzzFlags + ["-use-ld=lld"])]
        )
    }
    return [
        // The entry point (FuzzTarget), reading choices from the fuzzer's bytes, failing a run with a message.
        .target(name: "FuzzSupport", path: "Tests/fuzz/FuzzSupport", swiftSettings: fuzzInstrumentation),
        fuzzTarget("FuzzClientMessages", ["FuzzSupport", "HyphaeCore"]),
        fuzzTarget("FuzzWebSocketFrames", [
            "FuzzSupport",
            "HyphaeWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ]),
        fuzzTarget("FuzzPipelineYAML", ["FuzzSupport", "HyphaeCore", "Ticker", "MovingAverage", "Sampling", "Compression", "Console"]),
        fuzzTarget("FuzzCompression", ["FuzzSupport", "HyphaeCore", "Compression"]),
    ]
}()
let fuzzProducts: [Product] = fuzzTargets.filter { $0.type == .executable }.map { .executable(name: $0.name, targets: [$0.name]) }

let pluginTargets: [Target] = pluginNames.flatMap { name -> [Target] in
    var targets: [Target] = [
        .target(
            name: name,
            dependencies: ["HyphaeCore"] + (extraPluginDependencies[name] ?? []),
            path: "Plugins/\(name)/Sources",
            swiftSettings: (vectorTuning[name] ?? []) + fuzzInstrumentation
        )
    ]
    if containsFiles("Plugins/\(name)/Tests") {
        targets.append(
            .testTarget(
                name: "\(name)Tests",
                dependencies: [.target(name: name), "HyphaeCore", "HyphaeTesting"] + (extraPluginTestDependencies[name] ?? []),
                path: "Plugins/\(name)/Tests"
            )
        )
    }
    return targets
}

let package = Package(
    name: "Hyphae",
    platforms: [.macOS(.v15)],
    // A package of your own depends on these to write stage modules (HyphaeCore), to
    // build a `hyphae` with them (HyphaeCommandLine), or to reuse single built-in
    // stage modules; Docs/examples/custom-host shows all three.
    products: [
        .executable(name: "hyphae", targets: ["hyphae"]),
        .library(name: "HyphaeCore", targets: ["HyphaeCore"]),
        .library(name: "HyphaeProtocol", targets: ["HyphaeProtocol"]),
        .library(name: "HyphaeHost", targets: ["HyphaeHost"]),
        .library(name: "HyphaeClient", targets: ["HyphaeClient"]),
        .library(name: "HyphaeCommandLine", targets: ["HyphaeCommandLine"]),
        .library(name: "HyphaePlugins", targets: ["HyphaePlugins"]),
    ] + pluginNames.map { .library(name: $0, targets: [$0]) } + fuzzProducts,
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // TLS for wss:// and https://; its bundled BoringSSL is the project's libssl.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // Frames, stage protocols, the registry, pipeline files: what every other module builds on.
        .target(
            name: "HyphaeCore",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: fuzzInstrumentation
        ),
        // RFC 6455 on its own: close codes, the frame-header writer, the check of each client
        // frame. Only NIO, so that the frame fuzzer builds it without Crypto or Yams.
        .target(
            name: "HyphaeWire",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: fuzzInstrumentation
        ),
        // Sockets the host and the bench accept and write to themselves, past NIO's channel
        // write path: an acceptor that hands connections to NIO by descriptor, and send/writev.
        .target(
            name: "HyphaeSockets",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // The wire protocol's vocabulary and framing, shared by the host, the client and the bench.
        .target(
            name: "HyphaeProtocol",
            dependencies: [
                "HyphaeCore",
                "HyphaeWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The web console and hyphae.js, built into the binary (Docs/CONSOLE.md).
        .target(
            name: "HyphaeConsole",
            resources: [
                .embedInCode("Files/index.html"),
                .embedInCode("Files/hyphae.js"),
                .embedInCode("Files/console.js"),
                .embedInCode("Files/charts.js"),
                .embedInCode("Files/console.css"),
            ]
        ),
        // The system's zlib (Debian: zlib1g-dev), for permessage-deflate on the WebSocket.
        .systemLibrary(
            name: "CZlib",
            path: "Sources/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // glibc's malloc_trim, which Swift's Glibc module does not export (HeapTrimmer).
        .systemLibrary(
            name: "CHeapTrim",
            path: "Sources/CHeapTrim"
        ),
        // The server. It knows no stage module: whoever starts it passes the registry.
        .target(
            name: "HyphaeHost",
            dependencies: [
                "HyphaeCore",
                "HyphaeWire",
                "HyphaeProtocol",
                "HyphaeSockets",
                "HyphaeConsole",
                "CZlib",
                "CHeapTrim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The stage modules this repository ships, as one list.
        .target(
            name: "HyphaePlugins",
            dependencies: ["HyphaeCore"] + pluginNames.map { .target(name: $0) }
        ),
        // A WebSocket client that speaks the protocol: used by `hyphae subscribe`, the tests and the bench.
        .target(
            name: "HyphaeClient",
            dependencies: [
                "HyphaeCore",
                "HyphaeProtocol",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The load generator and the ceiling server behind `hyphae bench run` and `hyphae bench ceiling`.
        .target(
            name: "HyphaeBench",
            dependencies: [
                "HyphaeCore",
                "HyphaeWire",
                "HyphaeProtocol",
                "HyphaeSockets",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // `hyphae bench engine`: times the MFN engine and counts its allocations.
        .target(
            name: "MFNBenchmark",
            dependencies: ["MFN", "HyphaeCore"],
            path: "Plugins/MFN/Benchmark"
        ),
        // The command line as a library, so that a program of your own can run it
        // with stage modules of its own: `HyphaeCommand.main(plugins:)`.
        .target(
            name: "HyphaeCommandLine",
            dependencies: [
                "HyphaeCore",
                "HyphaeProtocol",
                "HyphaeHost",
                "HyphaePlugins",
                "HyphaeClient",
                "HyphaeBench",
                "MFNBenchmark",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // `hyphae` itself: the command line with the bundled stage modules only.
        .executableTarget(
            name: "hyphae",
            dependencies: ["HyphaeCommandLine"]
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
            name: "HyphaeProtocolTests",
            dependencies: ["HyphaeProtocol", "HyphaeCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "HyphaeHostTests",
            dependencies: [
                "HyphaeHost", "HyphaeProtocol", "HyphaePlugins", "HyphaeCore", "HyphaeClient", "HyphaeTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        .testTarget(
            name: "HyphaeBenchTests",
            dependencies: [
                "HyphaeBench", "HyphaeHost", "HyphaePlugins", "HyphaeCore", "HyphaeTesting",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "HyphaeCLITests",
            dependencies: ["HyphaeTesting"]
        ),
    ] + pluginTargets + fuzzTargets,
    swiftLanguageModes: [.v6]
)
