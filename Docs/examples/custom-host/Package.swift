// swift-tools-version: 6.1
import PackageDescription

// A `hyphae` of your own: every built-in stage plus the `scale` transform of this package.
//
// A package of yours depends on Hyphae by its URL:
//
//     .package(url: "https://github.com/<org>/hyphae", from: "0.1.0"),
//
// This one lives inside Hyphae's repository and uses the checkout around it instead,
// so that Hyphae's own tests build it against the code they test.
let package = Package(
    name: "custom-host",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Hyphae", path: "../../.."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // The stage module: stage types and the plugin that registers them. It needs HyphaeCore only.
        .target(
            name: "Scale",
            dependencies: [.product(name: "HyphaeCore", package: "Hyphae")]
        ),
        // The program: Hyphae's whole command line, with Scale installed.
        .executableTarget(
            name: "my-hyphae",
            dependencies: ["Scale", .product(name: "HyphaeCommandLine", package: "Hyphae")]
        ),
        // The stage's tests run it in a real pipeline, behind Hyphae's own ticker.
        .testTarget(
            name: "ScaleTests",
            dependencies: [
                "Scale",
                .product(name: "HyphaeCore", package: "Hyphae"),
                .product(name: "Ticker", package: "Hyphae"),
                .product(name: "Console", package: "Hyphae"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
