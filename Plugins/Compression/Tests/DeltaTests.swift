import HyphaeCore
import XCTest

@testable import Compression

final class DeltaTests: XCTestCase {
    private func encoder(absolute: Double = 0, relative: Double = 0, keyframeInterval: Int = 100) -> DeltaEncoder {
        DeltaEncoder(tolerance: ChangeTolerance(absolute: absolute, relative: relative), keyframeInterval: keyframeInterval)
    }

    private func encode(_ payload: JSONObject, type: String = "feature_update", delivery: Frame.Delivery = .droppable, with encoder: inout DeltaEncoder) throws -> JSONObject {
        var frame = Frame(type: type, timestamp: 0, payload: payload, delivery: delivery)
        try encoder.encode(&frame)
        return frame.payload
    }

    private static let keyframe: JSONValue = ["keyframe": true]
    private static let delta: JSONValue = ["keyframe": false]

    func testFirstFrameIsCompleteAndLaterOnesCarryOnlyChanges() throws {
        var encoder = encoder()
        let first: JSONObject = ["a": 1.0, "b": 2.0, "label": "x"]
        XCTAssertEqual(try encode(first, with: &encoder), ["a": 1.0, "b": 2.0, "label": "x", "delta": Self.keyframe])
        XCTAssertEqual(try encode(["a": 1.0, "b": 2.5, "label": "x"], with: &encoder), ["b": 2.5, "delta": Self.delta])
        XCTAssertEqual(try encode(["a": 1.0, "b": 2.5, "label": "x"], with: &encoder), ["delta": Self.delta])
        XCTAssertEqual(try encode(["a": 1.0, "b": 2.5, "label": "y", "new": true], with: &encoder), ["label": "y", "new": true, "delta": Self.delta])
    }

    /// A change under the tolerance is not sent, and the next frame is compared with
    /// what the client still holds, so small steps cannot add up beyond the tolerance.
    func testReferenceIsWhatTheClientHoldsSoDriftStaysWithinTolerance() throws {
        var encoder = encoder(absolute: 0.1)
        _ = try encode(["x": 1.0], with: &encoder)
        XCTAssertEqual(try encode(["x": 1.05], with: &encoder), ["delta": Self.delta])
        XCTAssertEqual(try encode(["x": 1.09], with: &encoder), ["delta": Self.delta], "1.09 is within 0.1 of the 1.0 the client holds")
        XCTAssertEqual(try encode(["x": 1.15], with: &encoder), ["x": 1.15, "delta": Self.delta], "1.15 is 0.15 from the client's 1.0")
        XCTAssertEqual(try encode(["x": 1.2], with: &encoder), ["delta": Self.delta], "the client now holds 1.15")
    }

    func testRelativeToleranceScalesWithTheClientsValue() throws {
        var encoder = encoder(relative: 0.01)
        _ = try encode(["big": 1000.0, "small": 0.001], with: &encoder)
        XCTAssertEqual(try encode(["big": 1009.0, "small": 0.00102], with: &encoder), ["small": 0.00102, "delta": Self.delta])
    }

    func testIntegersAndKindChangesIgnoreTheTolerance() throws {
        var encoder = encoder(absolute: 10)
        _ = try encode(["step": 1, "value": 4096.0], with: &encoder)
        XCTAssertEqual(try encode(["step": 2, "value": 4096], with: &encoder), ["step": 2, "value": 4096, "delta": Self.delta])
    }

    func testNestedObjectsCarryOnlyTheirChanges() throws {
        var encoder = encoder()
        let first: JSONObject = ["state": ["mean": 1.0, "std": 2.0, "inner": ["k": 1]], "metrics": ["growth": 1.0]]
        _ = try encode(first, with: &encoder)
        let second: JSONObject = ["state": ["mean": 1.0, "std": 2.5, "inner": ["k": 1]], "metrics": ["growth": 1.0]]
        XCTAssertEqual(try encode(second, with: &encoder), ["state": ["std": 2.5], "delta": Self.delta])
    }

    func testArraysAreSentWholeWhenAnyElementChanges() throws {
        var encoder = encoder(absolute: 0.01)
        _ = try encode(["field": .numbers([1, 2, 3]), "shape": [3]], with: &encoder)
        XCTAssertEqual(try encode(["field": .numbers([1.005, 2, 3]), "shape": [3]], with: &encoder), ["delta": Self.delta])
        XCTAssertEqual(try encode(["field": .numbers([1, 2, 3.5]), "shape": [3]], with: &encoder), ["field": .numbers([1, 2, 3.5]), "delta": Self.delta])
        XCTAssertEqual(try encode(["field": .numbers([1, 2, 3.5, 4]), "shape": [4]], with: &encoder), ["field": .numbers([1, 2, 3.5, 4]), "shape": [4], "delta": Self.delta])
    }

    func testRemovedMembersAreListedByPath() throws {
        var encoder = encoder()
        _ = try encode(["a": 1, "b": 2, "state": ["x": 1, "y": 2, "deep": ["z": 3]]], with: &encoder)
        let delta = try encode(["a": 1, "state": ["x": 1, "deep": [:]]], with: &encoder)
        XCTAssertEqual(delta, ["delta": ["keyframe": false, "removed": [["state", "deep", "z"], ["state", "y"], ["b"]]]])
    }

    func testKeyframeEveryIntervalFramesAndForEssentialFrames() throws {
        var encoder = encoder(keyframeInterval: 3)
        var kinds: [Bool] = []
        for index in 0..<8 {
            let delivery: Frame.Delivery = index == 4 ? .essential : .droppable
            let payload = try encode(["i": .int(index)], delivery: delivery, with: &encoder)
            kinds.append(payload["delta"]?["keyframe"]?.boolValue ?? false)
        }
        // Keyframes at 0 and 3, at 4 (essential), then 3 frames later at 7.
        XCTAssertEqual(kinds, [true, false, false, true, true, false, false, true])
    }

    func testEachMessageTypeHasItsOwnReference() throws {
        var encoder = encoder()
        XCTAssertEqual(try encode(["x": 1], type: "a", with: &encoder)["delta"], Self.keyframe)
        XCTAssertEqual(try encode(["x": 1], type: "b", with: &encoder)["delta"], Self.keyframe)
        XCTAssertEqual(try encode(["x": 2], type: "a", with: &encoder), ["x": 2, "delta": Self.delta])
        XCTAssertEqual(try encode(["x": 1], type: "b", with: &encoder), ["delta": Self.delta])
    }

    func testAPayloadThatAlreadyHasTheMarkerMemberIsAnError() {
        var encoder = encoder()
        XCTAssertThrowsError(try encode(["delta": 3.0], with: &encoder)) { error in
            XCTAssertTrue("\(error)".contains("already has a member 'delta'"), "\(error)")
        }
    }

    func testPackedArraysAreComparedByTheirDataAndSentWhole() throws {
        let configuration = CompressConfiguration(
            packing: .init(width: .bits8, minimumLength: 4),
            delta: .init(tolerance: ChangeTolerance(absolute: 1), keyframeInterval: 100)
        )
        var stage = CompressTransform(configuration: configuration)
        func run(_ numbers: [Double]) throws -> JSONObject {
            var output: [Frame] = []
            try stage.process(Frame(type: "t", timestamp: 0, payload: ["field": .numbers(numbers)]), into: &output)
            return output[0].payload
        }
        _ = try run([0, 1, 2, 3, 255])
        XCTAssertEqual(try run([0, 1, 2, 3, 255]), ["delta": Self.delta])
        // 3.4 still quantises to 3: the same data, nothing to send.
        XCTAssertEqual(try run([0, 1, 2, 3.4, 255]), ["delta": Self.delta])
        // Within the absolute tolerance of 1, but the data differs, so the whole packed object goes.
        let changed = try run([0, 1, 2, 3.6, 255])
        XCTAssertEqual(changed["field"]?.objectValue?.keys, ["packed", "offset", "scale", "length", "data"])
    }
}
