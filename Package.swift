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

let pluginTargets: [Target] = pluginNames.flatMap { name -> [Target] in
    var targets: [Target] = [
        .target(
            name: name,
            dependencies: ["HyphaeCore"] + (extraPluginDependencies[name] ?? []),
            path: "Plugins/\(name)/Sources"
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
            dependencies: ["HyphaeCore"] + pluginNames.map { .target(name: $0) }
        ),
        .executableTarget(
            name: "hyphae",
            dependencies: [
                "HyphaeCore",
                "HyphaeHost",
                // bench-engine times the MFN engine directly.
                "MFN",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Helpers shared by every test target: fixtures, temporary folders, running the CLI.
        .target(
            name: "HyphaeTesting",
            dependencies: ["HyphaeCore"],
            path: "Tests/HyphaeTesting"
        ),
        .testTarget(
            name: "HyphaeCoreTests",
            dependencies: ["HyphaeCore", "HyphaeTesting"]
        ),
        .testTarget(
            name: "HyphaeHostTests",
            dependencies: ["HyphaeHost", "HyphaeCore", "HyphaeTesting"]
        ),
        .testTarget(
            name: "HyphaeCLITests",
            dependencies: ["HyphaeTesting"]
        ),
    ] + pluginTargets,
    swiftLanguageModes: [.v6]
)
