import HyphaeCore

/// A frame as it travels through Redis: the protocol's JSON for it without a stream
/// id, with the producing run's `epoch` first (and `"essential":true` when it is):
///
///     {"epoch":"9f3c...","type":"tick","timestamp":1795804001041.31,"payload":{"sequence":7,"timestamp":1795804001041.31,"count":8}}
///
/// The `redis` sink writes it (a stream entry's `frame` field, or a published
/// message); the `redis` source reads it back into a frame with the same type,
/// timestamp, sequence, epoch and payload.
public struct RelayedFrame {
    /// An epoch is a short name; the same rule as a client's `since.epoch`.
    public static let maximumEpochLength = 64
    /// 2^53 - 1: the largest sequence a JSON client holds exactly, and far enough from
    /// Int.max that the host's `sequence + 1` and `since` arithmetic cannot overflow.
    public static let largestSequence = 9_007_199_254_740_991
    /// A relayed frame no longer than this is read; longer ones are refused.
    public static let maximumLength = 8 << 20

    private var encoder = FrameEncoder()
    private var writer = JSONWriter(capacity: 1024)

    public init() {}

    /// The bytes for `frame`, numbered by the run named `epoch` (or by the run it names itself).
    public mutating func encode(_ frame: Frame, epoch: String) -> [UInt8] {
        let body = encoder.encode(frame, streamID: nil)
        writer.reset()
        writer.writeRaw("{\"epoch\":")
        writer.write(frame.epoch ?? epoch)
        if frame.isEssential { writer.writeRaw(",\"essential\":true") }
        writer.writeRaw(",")
        writer.writeRaw(body.dropFirst())
        return writer.bytes
    }

    /// Reads a frame back; the error says what is wrong with the bytes.
    public static func decode(_ bytes: [UInt8]) throws(RelayedFrameError) -> Frame {
        guard bytes.count <= maximumLength else { throw RelayedFrameError("\(bytes.count) bytes, over the limit of \(maximumLength)") }
        let value: JSONValue
        do {
            value = try JSONParser.parse(bytes)
        } catch {
            throw RelayedFrameError("\(error)")
        }
        guard let object = value.objectValue else { throw RelayedFrameError("not a JSON object") }
        guard let epoch = object["epoch"]?.stringValue, isValidEpoch(epoch) else {
            throw RelayedFrameError("no epoch of 1 to \(maximumEpochLength) characters A-Z a-z 0-9 . _ : -")
        }
        guard let type = object["type"]?.stringValue, !type.isEmpty else { throw RelayedFrameError("no type") }
        guard let timestamp = object["timestamp"]?.numberValue, timestamp.isFinite else { throw RelayedFrameError("no timestamp") }
        guard let payload = object["payload"]?.objectValue else { throw RelayedFrameError("no payload object") }
        guard case .int(let sequence)? = payload["sequence"], (0...largestSequence).contains(sequence) else {
            throw RelayedFrameError("no sequence (a whole number from 0 to \(largestSequence)) in the payload")
        }
        // The encoder writes sequence and timestamp again from the frame's own fields.
        var fields = JSONObject(minimumCapacity: max(0, payload.count - 2))
        for (key, member) in payload where key != "sequence" && key != "timestamp" && key != "stream_id" {
            fields.append(key, member)
        }
        let essential = object["essential"]?.boolValue == true
        return Frame(type: type, timestamp: timestamp, payload: fields, delivery: essential ? .essential : .droppable, sequence: sequence, epoch: epoch)
    }

    public static func isValidEpoch(_ text: String) -> Bool {
        let utf8 = text.utf8
        guard !utf8.isEmpty, utf8.count <= maximumEpochLength else { return false }
        return utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }

    /// A name for a new producing run: 16 hex digits from the system's random generator.
    public static func newEpoch() -> String {
        let hex = String(UInt64.random(in: .min ... .max), radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

public struct RelayedFrameError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// How long to wait before the next attempt to reach a server: doubling from
/// `initial` up to `maximum`, each wait drawn between half and all of it (so that
/// many hosts that lost Redis together do not come back in step).
public struct Backoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    public private(set) var failures = 0

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(2)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
    }

    /// The ceiling of the next wait, before jitter.
    public var ceiling: Duration {
        var wait = initial
        for _ in 0..<min(failures, 30) where wait < maximum {
            wait *= 2
        }
        return min(wait, maximum)
    }

    /// Records a failure and returns how long to wait.
    public mutating func nextWait<Generator: RandomNumberGenerator>(using generator: inout Generator) -> Duration {
        let top = ceiling
        failures += 1
        let fraction = Double.random(in: 0.5...1, using: &generator)
        return top * fraction
    }

    public mutating func nextWait() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return nextWait(using: &generator)
    }

    public mutating func reset() {
        failures = 0
    }
}
