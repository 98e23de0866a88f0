import HyphaeCore
import XCTest

@testable import Compression

/// Encoded bytes per frame, raw and under each method, on realistic MFN frames.
/// Deterministic (seeded frames, byte counts): the numbers in Docs/COMPRESSION.md come from here.
final class SizeReportTests: XCTestCase {
    private static let frameCount = 100

    private static let methods: [(name: String, configuration: CompressConfiguration?)] = [
        ("raw", nil),
        ("precision (significant_digits: 4)", CompressConfiguration(significantDigits: 4)),
        ("pack (pack_bits: 16)", CompressConfiguration(packing: .init(width: .bits16, minimumLength: 64))),
        ("pack (pack_bits: 8)", CompressConfiguration(packing: .init(width: .bits8, minimumLength: 64))),
        ("delta (tolerance 0, keyframe_interval: 10)", CompressConfiguration(delta: .init(tolerance: ChangeTolerance(), keyframeInterval: 10))),
        ("delta (delta_relative_tolerance: 0.001)", CompressConfiguration(delta: .init(tolerance: ChangeTolerance(relative: 0.001), keyframeInterval: 10))),
        ("all: 4 digits + pack 16 + delta 0.001", combined(.bits16)),
        ("all: 4 digits + pack 8 + delta 0.001", combined(.bits8)),
    ]

    private static func combined(_ width: PackWidth) -> CompressConfiguration {
        CompressConfiguration(
            significantDigits: 4,
            packing: .init(width: width, minimumLength: 64),
            delta: .init(tolerance: ChangeTolerance(relative: 0.001), keyframeInterval: 10)
        )
    }

    /// Which rows the combined rows are made of: together they must beat each alone.
    private static let combinations: [String: [String]] = [
        "all: 4 digits + pack 16 + delta 0.001": ["precision (significant_digits: 4)", "pack (pack_bits: 16)", "delta (delta_relative_tolerance: 0.001)"],
        "all: 4 digits + pack 8 + delta 0.001": ["precision (significant_digits: 4)", "pack (pack_bits: 8)", "delta (delta_relative_tolerance: 0.001)"],
    ]

    private static func featureUpdates() -> [Frame] {
        var factory = MFNFrameFactory(seed: 1)
        return (0..<frameCount).map { _ in
            factory.advance()
            return factory.featureUpdate()
        }
    }

    private static func simulationStates() -> [Frame] {
        var factory = MFNFrameFactory(seed: 2, totalSteps: frameCount)
        return (0..<frameCount).map { _ in
            factory.advance()
            return factory.simulationState()
        }
    }

    func testEveryMethodSavesBytesOnRealisticFrames() throws {
        let streams: [(name: String, frames: [Frame], hasLongArrays: Bool)] = [
            ("feature_update", Self.featureUpdates(), false),
            ("simulation_state 64×64", Self.simulationStates(), true),
        ]
        var sizes: [String: [Double]] = [:]
        for stream in streams {
            sizes[stream.name] = try Self.methods.map { try CompressedStream.meanSize(of: stream.frames, through: $0.configuration) }
        }

        var table = "| method (mean bytes per frame over \(Self.frameCount) frames) | " + streams.map(\.name).joined(separator: " | ") + " |\n"
        table += "| --- |" + String(repeating: " ---: |", count: streams.count) + "\n"
        for (index, method) in Self.methods.enumerated() {
            let cells = streams.map { stream -> String in
                let raw = sizes[stream.name]?[0] ?? 0
                let size = sizes[stream.name]?[index] ?? 0
                let saved = raw > 0 ? (1 - size / raw) * 100 : 0
                return index == 0 ? Self.format(size) : "\(Self.format(size)) (−\(Self.format(saved, decimals: 1)) %)"
            }
            table += "| \(method.name) | " + cells.joined(separator: " | ") + " |\n"
        }
        print("\nCompression size report\n" + table)

        for stream in streams {
            let streamSizes = try XCTUnwrap(sizes[stream.name])
            let raw = streamSizes[0]
            for (index, method) in Self.methods.enumerated().dropFirst() {
                if method.name.hasPrefix("pack"), !stream.hasLongArrays {
                    XCTAssertEqual(streamSizes[index], raw, "\(stream.name): packing has nothing to pack")
                } else {
                    XCTAssertLessThan(streamSizes[index], raw, "\(stream.name): \(method.name)")
                }
            }
            for (combination, parts) in Self.combinations {
                let size = try XCTUnwrap(Self.methods.firstIndex { $0.name == combination }.map { streamSizes[$0] })
                for part in parts {
                    let partSize = try XCTUnwrap(Self.methods.firstIndex { $0.name == part }.map { streamSizes[$0] })
                    XCTAssertLessThanOrEqual(size, partSize, "\(stream.name): \(combination) against \(part) alone")
                }
            }
        }
    }

    private static func format(_ value: Double, decimals: Int = 0) -> String {
        let scale = pow(10, Double(decimals))
        let rounded = (value * scale).rounded() / scale
        return decimals == 0 ? String(Int(rounded)) : String(rounded)
    }
}
