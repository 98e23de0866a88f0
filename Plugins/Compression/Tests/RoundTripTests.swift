import Foundation
import HyphaeCore
import XCTest

@testable import Compression

/// A client that follows Docs/COMPRESSION.md rebuilds what the stage received, within
/// the error each method allows, over a long realistic stream.
final class RoundTripTests: XCTestCase {
    /// 200 simulation steps: a `feature_update` each step (some without
    /// `spatial_variance`), a `simulation_state` with the 64×64 field every second
    /// step (some with an extra metric), and the essential `simulation_complete`.
    static func realisticStream() -> [Frame] {
        var factory = MFNFrameFactory(seed: 42, totalSteps: 200)
        var frames: [Frame] = []
        for step in 1...200 {
            factory.advance()
            frames.append(factory.featureUpdate(omitting: step % 13 == 0 ? ["spatial_variance"] : []))
            if step % 2 == 0 {
                frames.append(factory.simulationState(spikeEvents: step % 7 == 0 ? step / 7 : nil))
            }
        }
        frames.append(factory.simulationComplete())
        return frames
    }

    func testPrecisionAlone() throws {
        try checkRoundTrip(CompressConfiguration(significantDigits: 4))
    }

    func testPackingAloneAtBothWidths() throws {
        for width in PackWidth.allCases {
            try checkRoundTrip(CompressConfiguration(packing: .init(width: width, minimumLength: 64)))
        }
    }

    func testDeltaAloneWithLostFrames() throws {
        let delta = CompressConfiguration.Delta(tolerance: ChangeTolerance(absolute: 0.01, relative: 0.001), keyframeInterval: 10)
        try checkRoundTrip(CompressConfiguration(delta: delta), losing: [37, 38, 150])
    }

    func testAllMethodsTogetherWithLostFrames() throws {
        let configuration = CompressConfiguration(
            significantDigits: 4,
            packing: .init(width: .bits16, minimumLength: 64),
            delta: .init(tolerance: ChangeTolerance(relative: 0.001), keyframeInterval: 10)
        )
        try checkRoundTrip(configuration, losing: [5, 101, 102, 103, 250])
    }

    func testDeltaWithoutToleranceRebuildsExactly() throws {
        try checkRoundTrip(CompressConfiguration(delta: .init(tolerance: ChangeTolerance(), keyframeInterval: 7)))
    }

    // MARK: Checking

    private func checkRoundTrip(_ configuration: CompressConfiguration, losing lost: Set<Int> = [], file: StaticString = #filePath, line: UInt = #line) throws {
        let messages = try CompressedStream.run(Self.realisticStream(), through: configuration)
        let bounds = ErrorBounds(configuration)
        var client = ClientRebuilder()
        var framesPerType: [String: Int] = [:]
        var rebuiltCount = 0
        var waitingCount = 0
        var framesWithRemovals = 0
        for message in messages {
            if message.sent.payload["delta"]?["removed"] != nil { framesWithRemovals += 1 }
            let index = framesPerType[message.sent.type, default: 0]
            framesPerType[message.sent.type] = index + 1
            if let delta = configuration.delta {
                let isKeyframe = message.sent.payload["delta"]?["keyframe"]?.boolValue
                let expected = message.original.isEssential || index % delta.keyframeInterval == 0
                XCTAssertEqual(isKeyframe, expected, "\(message.sent.type) #\(index)", file: file, line: line)
            }
            if lost.contains(message.sent.sequence) { continue }
            guard let rebuilt = try client.receive(message.bytes) else {
                waitingCount += 1
                continue
            }
            rebuiltCount += 1
            XCTAssertEqual(rebuilt.type, message.original.type, file: file, line: line)
            bounds.check(.object(rebuilt.payload), against: .object(message.original.payload), at: "\(message.original.type)#\(message.sent.sequence)", file: file, line: line)
        }
        XCTAssertEqual(rebuiltCount + waitingCount + lost.count, messages.count, file: file, line: line)
        if configuration.delta != nil {
            XCTAssertGreaterThan(framesWithRemovals, 0, "the stream drops members now and then", file: file, line: line)
        }
        if lost.isEmpty {
            XCTAssertEqual(waitingCount, 0, file: file, line: line)
        } else if configuration.delta != nil {
            XCTAssertGreaterThan(waitingCount, 0, "after a gap the client waits for keyframes", file: file, line: line)
            XCTAssertLessThan(waitingCount, 2 * lost.count * 10, file: file, line: line)
        }
    }
}

/// How far a rebuilt number may be from the original under a configuration.
private struct ErrorBounds {
    let configuration: CompressConfiguration

    init(_ configuration: CompressConfiguration) {
        self.configuration = configuration
    }

    /// Half a unit in the last kept digit, which is at most that fraction of the number.
    private func roundingError(_ number: Double) -> Double {
        guard let digits = configuration.significantDigits else { return 0 }
        return number.magnitude * 0.5 * pow(10, Double(1 - digits)) * (1 + 1e-12)
    }

    private func toleranceError(clientValue: Double) -> Double {
        guard let tolerance = configuration.delta?.tolerance else { return 0 }
        return max(tolerance.absolute, tolerance.relative * clientValue.magnitude) * (1 + 1e-12)
    }

    /// Half a quantisation step of the (rounded) array, or nil when it is not packed.
    private func packingError(_ numbers: [Double]) -> Double? {
        guard let packing = configuration.packing, numbers.count >= packing.minimumLength,
            numbers.allSatisfy(\.isFinite), let lowest = numbers.min(), let highest = numbers.max()
        else { return nil }
        let largest = max(lowest.magnitude, highest.magnitude)
        let range = (highest - lowest) + 2 * roundingError(largest)
        return range / Double((1 << packing.width.rawValue) - 1) / 2 + 4 * largest.ulp
    }

    func check(_ rebuilt: JSONValue, against original: JSONValue, at path: String, file: StaticString, line: UInt) {
        switch original {
        case .object(let object):
            guard let rebuiltObject = rebuilt.objectValue else {
                return XCTFail("\(path): expected an object, rebuilt \(rebuilt.jsonText.prefix(80))", file: file, line: line)
            }
            XCTAssertEqual(Set(rebuiltObject.keys), Set(object.keys), "\(path): members", file: file, line: line)
            for (key, value) in object {
                check(rebuiltObject[key] ?? .null, against: value, at: "\(path).\(key)", file: file, line: line)
            }
        case .double(let number):
            guard let rebuiltNumber = rebuilt.numberValue else {
                return XCTFail("\(path): expected a number, rebuilt \(rebuilt.jsonText)", file: file, line: line)
            }
            let allowed = roundingError(number) + toleranceError(clientValue: rebuiltNumber)
            XCTAssertLessThanOrEqual(abs(rebuiltNumber - number), allowed, "\(path): \(rebuiltNumber) for \(number)", file: file, line: line)
        case .numbers, .array:
            guard let originals = original.arrayValue, let rebuilts = rebuilt.arrayValue, originals.count == rebuilts.count else {
                return XCTFail("\(path): expected an array of \(original.arrayValue?.count ?? -1), rebuilt \(rebuilt.jsonText.prefix(80))", file: file, line: line)
            }
            let numbers = originals.compactMap(\.numberValue)
            if numbers.count == originals.count, let packingError = packingError(numbers) {
                // Delta compares packed arrays exactly, so no tolerance applies to them.
                let worst = zip(rebuilts, numbers).map { abs(($0.numberValue ?? .nan) - $1) - roundingError($1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, packingError, "\(path): packed", file: file, line: line)
            } else {
                for (index, pair) in zip(rebuilts, originals).enumerated() {
                    check(pair.0, against: pair.1, at: "\(path)[\(index)]", file: file, line: line)
                }
            }
        case .null, .bool, .int, .string:
            XCTAssertEqual(rebuilt, original, path, file: file, line: line)
        }
    }
}
