import Foundation
import FuzzSupport
import HyphaeCore

@testable import Compression

/// A `compress` configuration and a stream of frames, both read from the input, go through
/// the real stage and the real frame encoder; a client written from Docs/COMPRESSION.md
/// (ClientRebuilder, shared with the unit tests) reads the JSON text back. Properties:
/// nothing traps, the stage throws only its documented error (a payload that already has
/// `delta`), keyframes fall where keyframe_interval and essential frames put them, the
/// client can always read what it gets, waits only after a lost frame, and what it rebuilds
/// equals the original within the error each method allows.
@main
enum CompressionFuzzer: FuzzTarget {
    static func fuzz(_ bytes: [UInt8]) { fuzzCompression(bytes) }
}

private func fuzzCompression(_ bytes: [UInt8]) {
    var input = FuzzInput(bytes)
    let configuration = readConfiguration(&input)
    let generator = PayloadGenerator()
    var stage = CompressTransform(configuration: configuration)
    var encoder = FrameEncoder()
    var client = ClientRebuilder()
    let bounds = ErrorBounds(configuration: configuration)
    var framesSinceKeyframe: [String: Int] = [:]
    var previousPayloads: [String: JSONObject] = [:]
    var anyLost = false

    for sequence in 0..<input.int(in: 1...10) {
        let type = input.bool() ? "state" : "update"
        var payload =
            previousPayloads[type].map { generator.mutating($0, &input) } ?? generator.object(depth: 0, &input)
        let hasMarkerName = configuration.delta != nil && input.chance(40)
        if hasMarkerName { payload["delta"] = .int(1) }
        previousPayloads[type] = payload
        let original = Frame(type: type, timestamp: 1_700_000_000_000, payload: payload, delivery: input.chance(8) ? .essential : .droppable)

        var output: [Frame] = []
        do {
            try stage.process(original, into: &output)
        } catch {
            // The one documented failure; the run stops there, as a pipeline's does.
            fuzzCheck(hasMarkerName && "\(error)".contains("already has a member 'delta'"), "unexpected stage error: \(error)")
            return
        }
        fuzzCheck(!hasMarkerName, "a payload with a 'delta' member went through delta encoding")
        fuzzCheck(output.count == 1, "compress emitted \(output.count) frames for one")
        var sent = output[0]
        sent.sequence = sequence

        if let delta = configuration.delta {
            let since = framesSinceKeyframe[type]
            let expectKeyframe = since == nil || original.isEssential || since! + 1 >= delta.keyframeInterval
            let isKeyframe = sent.payload["delta"]?["keyframe"]?.boolValue
            fuzzCheck(isKeyframe == expectKeyframe, "frame \(sequence) of '\(type)': keyframe \(String(describing: isKeyframe)), expected \(expectKeyframe)")
            framesSinceKeyframe[type] = expectKeyframe ? 0 : since! + 1
        }
        let bytes = encoder.encode(sent, streamID: "s1")

        if input.chance(6) {
            anyLost = true
            continue
        }
        let rebuilt: (type: String, payload: JSONObject)?
        do {
            rebuilt = try client.receive(bytes)
        } catch {
            fuzzCheck(false, "the client cannot read frame \(sequence): \(error)")
            return
        }
        guard let rebuilt else {
            fuzzCheck(anyLost && configuration.delta != nil, "the client waits for a keyframe though no frame was lost")
            continue
        }
        fuzzCheck(rebuilt.type == type, "rebuilt type \(rebuilt.type), sent \(type)")
        bounds.check(.object(rebuilt.payload), against: .object(payload), at: "\(type)#\(sequence)")
    }
}

private func readConfiguration(_ input: inout FuzzInput) -> CompressConfiguration {
    let flags = input.byte()
    var configuration = CompressConfiguration()
    if flags & 1 != 0 {
        configuration.significantDigits = input.int(in: SignificantDigitRounder.supportedDigits)
    }
    if flags & 2 != 0 {
        configuration.packing = .init(width: input.bool() ? .bits8 : .bits16, minimumLength: input.int(in: 2...6))
    }
    if flags & 4 != 0 {
        let tolerance = ChangeTolerance(
            absolute: input.bool() ? 0 : Double(input.int(in: 0...255)) / 64,
            relative: input.bool() ? 0 : Double(input.int(in: 0...255)) / 512)
        configuration.delta = .init(tolerance: tolerance, keyframeInterval: input.int(in: 1...6))
    }
    return configuration
}

/// Payloads from a small vocabulary, so that frames of one type share members and delta
/// encoding has something to compare.
private struct PayloadGenerator {
    // Not `delta` (the stage's marker), `packed`/`data` (a packed array's shape) nor the
    // members the encoder adds: a client could not tell those apart.
    static let keys = ["a", "b", "c", "grid", "x", "é"]

    func object(depth: Int, _ input: inout FuzzInput) -> JSONObject {
        var object = JSONObject()
        for _ in 0..<input.int(in: 0...4) {
            object[Self.keys[input.int(in: 0...(Self.keys.count - 1))]] = value(depth: depth + 1, &input)
        }
        return object
    }

    func value(depth: Int, _ input: inout FuzzInput) -> JSONValue {
        switch input.int(in: 0...11) {
        case 0: return .null
        case 1: return .bool(input.bool())
        case 2: return .int(input.chance(4) ? Int(bitPattern: UInt(input.uint64())) : input.int(in: -300...300))
        case 3, 4: return .double(double(&input))
        case 5: return .string(Self.keys[input.int(in: 0...(Self.keys.count - 1))])
        case 6, 7: return .numbers(numbers(&input))
        case 8: return .array(numbers(&input).map { input.chance(3) ? .int(Int($0.rounded(.towardZero).clamped)) : .double($0) })
        case 9 where depth < 4: return .array((0..<input.int(in: 0...3)).map { _ in value(depth: depth + 1, &input) })
        case 10 where depth < 4: return .object(object(depth: depth, &input))
        default: return .double(double(&input))
        }
    }

    /// Mostly values a stream carries; now and then any bit pattern.
    func double(_ input: inout FuzzInput) -> Double {
        switch input.int(in: 0...7) {
        case 0: return input.anyDouble()
        case 1: return Double(input.int(in: -1000...1000)) * pow(10, Double(input.int(in: -30...30)))
        default: return Double(input.int(in: -2000...2000)) / 16
        }
    }

    func numbers(_ input: inout FuzzInput) -> [Double] {
        let count = input.int(in: 0...12)
        let base = double(&input)
        let step = double(&input)
        return (0..<count).map { index in input.chance(5) ? double(&input) : base + Double(index) * step }
    }

    /// The previous payload of the type with a few changes: what delta encoding sees.
    func mutating(_ previous: JSONObject, _ input: inout FuzzInput) -> JSONObject {
        var next = JSONObject()
        for (key, value) in previous {
            switch input.int(in: 0...7) {
            case 0: continue
            case 1: next[key] = self.value(depth: 1, &input)
            case 2: next[key] = nudged(value, &input)
            default: next[key] = value
            }
        }
        if input.chance(3) {
            next[Self.keys[input.int(in: 0...(Self.keys.count - 1))]] = value(depth: 1, &input)
        }
        return next
    }

    private func nudged(_ value: JSONValue, _ input: inout FuzzInput) -> JSONValue {
        let amount = Double(input.int(in: -128...128)) / 1024
        switch value {
        case .double(let number): return .double(number + amount)
        case .numbers(let numbers): return .numbers(numbers.map { $0 + amount })
        case .object(let object): return .object(mutating(object, &input))
        default: return value
        }
    }
}

extension Double {
    fileprivate var clamped: Double {
        guard isFinite else { return 0 }
        return Swift.min(Swift.max(self, -9e15), 9e15)
    }
}

/// How far a rebuilt value may be from the original under a configuration
/// (Docs/COMPRESSION.md): half a unit in the last kept digit, half a quantisation step
/// of a packed array, and delta's tolerance against the client's value. A non-finite
/// number travels as null.
private struct ErrorBounds {
    let configuration: CompressConfiguration

    private func roundingError(_ number: Double) -> Double {
        guard let digits = configuration.significantDigits else { return 0 }
        return number.magnitude * 0.5 * pow(10, Double(1 - digits)) * (1 + 1e-12)
    }

    private func toleranceError(clientValue: Double) -> Double {
        guard let tolerance = configuration.delta?.tolerance else { return 0 }
        return max(tolerance.absolute, tolerance.relative * clientValue.magnitude) * (1 + 1e-12)
    }

    private func packingError(_ numbers: [Double]) -> Double? {
        guard let packing = configuration.packing, numbers.count >= packing.minimumLength,
            numbers.allSatisfy(\.isFinite), let lowest = numbers.min(), let highest = numbers.max()
        else { return nil }
        let largest = max(lowest.magnitude, highest.magnitude)
        let largestQuantum = Double((1 << packing.width.rawValue) - 1)
        // Divided before added: near the largest Double the range itself overflows, while
        // the stage packs the rounded values, whose range may not.
        let step = (highest - lowest) / largestQuantum + 2 * (roundingError(largest) / largestQuantum)
        guard step.isFinite else { return .infinity }
        // offset + q * scale in Doubles: the scale's own rounding is multiplied by q, which
        // matters only where the scale is subnormal (found by this target on a range of 1e-320).
        return step / 2 + largestQuantum * step.ulp + 4 * largest.ulp
    }

    func check(_ rebuilt: JSONValue, against original: JSONValue, at path: String) {
        switch original {
        case .object(let object):
            guard let rebuiltObject = rebuilt.objectValue else {
                return fuzzCheck(false, "\(path): expected an object, rebuilt \(rebuilt.jsonText.prefix(80))")
            }
            fuzzCheck(Set(rebuiltObject.keys) == Set(object.keys), "\(path): members \(rebuiltObject.keys), expected \(object.keys)")
            for (key, value) in object {
                check(rebuiltObject[key] ?? .null, against: value, at: "\(path).\(key)")
            }
        case .double(let number) where !number.isFinite:
            fuzzCheck(rebuilt == .null, "\(path): \(number) rebuilt as \(rebuilt.jsonText)")
        case .double(let number):
            guard let rebuiltNumber = rebuilt.numberValue else {
                return fuzzCheck(false, "\(path): expected a number near \(number), rebuilt \(rebuilt.jsonText)")
            }
            let allowed = roundingError(number) + toleranceError(clientValue: rebuiltNumber)
            fuzzCheck(abs(rebuiltNumber - number) <= allowed, "\(path): \(rebuiltNumber) for \(number), allowed \(allowed)")
        case .numbers, .array:
            guard let originals = original.arrayValue, let rebuilts = rebuilt.arrayValue, originals.count == rebuilts.count else {
                return fuzzCheck(false, "\(path): expected an array of \(original.arrayValue?.count ?? -1), rebuilt \(rebuilt.jsonText.prefix(80))")
            }
            let numbers = originals.compactMap(\.numberValue)
            if numbers.count == originals.count, let packingError = packingError(numbers) {
                let worst = zip(rebuilts, numbers).map { abs(($0.numberValue ?? .nan) - $1) - roundingError($1) }.max() ?? 0
                fuzzCheck(worst <= packingError, "\(path): packed values off by \(worst), allowed \(packingError)")
            } else {
                for (index, pair) in zip(rebuilts, originals).enumerated() {
                    check(pair.0, against: pair.1, at: "\(path)[\(index)]")
                }
            }
        case .null, .bool, .int, .string:
            fuzzCheck(rebuilt == original, "\(path): \(original.jsonText) rebuilt as \(rebuilt.jsonText)")
        }
    }
}
