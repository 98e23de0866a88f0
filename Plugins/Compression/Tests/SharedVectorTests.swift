import Foundation
import HyphaeCore
import HyphaeTesting
import XCTest

@testable import Compression

/// Tests/vectors/compress.json: the messages a real `compress` stage (precision, pack
/// and delta at once) sends, and the payloads a client rebuilds from them when it gets
/// every frame and when it loses two. hyphae.js's tests decode the same file in Chromium
/// (ConsoleBrowserTests), so the JavaScript client and the stage cannot drift apart: this
/// test makes the file again from the stage and from `ClientRebuilder` and compares.
/// `HYPHAE_WRITE_VECTORS=1 swift test --filter SharedVectorTests` rewrites it.
final class SharedVectorTests: XCTestCase {
    static let file = PackagePaths.root.appendingPathComponent("Tests/vectors/compress.json")

    static let configuration = CompressConfiguration(
        significantDigits: 6,
        packing: .init(width: .bits16, minimumLength: 4),
        delta: .init(tolerance: ChangeTolerance(absolute: 0, relative: 0), keyframeInterval: 4)
    )

    /// Ten frames: nine states whose 8-cell field and mean drift, one member that goes
    /// away after frame 2, a constant shape; then the essential completion.
    static func frames() -> [Frame] {
        var random = SeededGenerator(seed: 12)
        var field = (0..<8).map { _ in -0.07 + Double.random(in: -0.005...0.005, using: &random) }
        var frames: [Frame] = []
        for step in 1...9 {
            for index in field.indices where index % 3 != 0 || step % 2 == 0 {
                field[index] += Double.random(in: -0.0003...0.0003, using: &random)
            }
            var state: JSONObject = [
                "field_shape": .array([.int(2), .int(4)]),
                "field": .numbers(field),
                "pot_mean_mV": .double(field.reduce(0, +) / 8 * 1000),
                "active_nodes": .int(step < 5 ? 8 : 7),
            ]
            if step <= 3 { state["spike_events"] = .int(step) }
            frames.append(Frame(
                type: "simulation_state", timestamp: 1_764_756_000_000 + Double(step) * 100,
                payload: ["step": .int(step), "total_steps": .int(9), "state": .object(state)],
                delivery: step == 9 ? .essential : .droppable))
        }
        frames.append(Frame(
            type: "simulation_complete", timestamp: 1_764_756_001_000,
            payload: ["final_metrics": .object(["fractal_dimension": .double(1.4534452978042631), "growth_events": .double(3)])],
            delivery: .essential))
        return frames
    }

    static let cases: [(name: String, deliver: [Int])] = [
        ("every frame arrives", Array(0..<10)),
        ("frames 2 and 3 are lost: nothing is rebuilt until the next keyframe (frame 4)", [0, 1, 4, 5, 6, 7, 8, 9]),
        ("joined at frame 1: the deltas before the keyframe are skipped", Array(1..<10)),
    ]

    static func document() throws -> String {
        let messages = try CompressedStream.run(frames(), through: configuration)
        var lines: [String] = [
            "{",
            "\"about\": \(JSONValue.string("Messages of a compress stage (precision 6 digits, pack u16 from 4 values, delta with keyframe_interval 4) as subscribers receive them, and the payloads a client rebuilds (Docs/COMPRESSION.md) for each delivered message, null while it waits for a keyframe; stream_id, sequence and timestamp left out. Made by SharedVectorTests from the stage itself; decoded by hyphae.js in ConsoleBrowserTests.").jsonText),",
            "\"messages\": [",
        ]
        lines.append(messages.map { "  " + String(decoding: $0.bytes, as: UTF8.self) }.joined(separator: ",\n"))
        lines.append("],")
        lines.append("\"cases\": [")
        var caseTexts: [String] = []
        for testCase in cases {
            var rebuilder = ClientRebuilder()
            var expected: [String] = []
            for index in testCase.deliver {
                let rebuilt = try rebuilder.receive(messages[index].bytes)
                expected.append("    " + (rebuilt.map { JSONValue.object($0.payload).jsonText } ?? "null"))
            }
            caseTexts.append(
                "  {\"name\": \(JSONValue.string(testCase.name).jsonText), \"deliver\": \(JSONValue.array(testCase.deliver.map { .int($0) }).jsonText), \"expect\": [\n"
                    + expected.joined(separator: ",\n") + "\n  ]}")
        }
        lines.append(caseTexts.joined(separator: ",\n"))
        lines.append("]")
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    func testTheSharedFileIsWhatTheStageSends() throws {
        let made = try Self.document()
        if ProcessInfo.processInfo.environment["HYPHAE_WRITE_VECTORS"] == "1" {
            try made.write(to: Self.file, atomically: true, encoding: .utf8)
        }
        let stored = try String(contentsOf: Self.file, encoding: .utf8)
        XCTAssertEqual(stored, made, "Tests/vectors/compress.json is not what the stage sends now; if the change is intended, run with HYPHAE_WRITE_VECTORS=1 and commit the file")
        // The file exercises every shape a client must handle.
        XCTAssertTrue(stored.contains("\"packed\":\"u16\""))
        XCTAssertTrue(stored.contains("\"keyframe\":false"))
        XCTAssertTrue(stored.contains("\"removed\":[[\"state\",\"spike_events\"]]"))
        XCTAssertTrue(stored.contains("null"))
    }
}
