import HyphaeCore

/// Where a reconnecting client left its stream: the `since` of a `subscribe`
/// (PROTOCOL.md, Resume): the epoch it read and the last sequence it received.
public struct ResumePoint: Sendable, Equatable {
    /// An epoch is a short opaque name; longer ones are refused, not cut.
    public static let maxEpochLength = 64
    /// The sequence before a stream's first frame (`subscribe_success` says -1 until one is sent).
    public static let sequenceBeforeFirst = -1
    /// The largest integer a JSON number carries exactly (2^53 - 1).
    public static let maxSequence = 9_007_199_254_740_991

    public var epoch: String
    public var sequence: Int

    public init(epoch: String, sequence: Int) {
        self.epoch = epoch
        self.sequence = sequence
    }

    public var json: JSONValue {
        .object(["epoch": .string(epoch), "sequence": .int(sequence)])
    }

    /// Whether `text` may name an epoch: 1 to 64 of the characters A-Z a-z 0-9 . _ : -.
    public static func isValidEpoch(_ text: String) -> Bool {
        let bytes = text.utf8
        return !bytes.isEmpty && bytes.count <= maxEpochLength && bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "-"):
                true
            default: false
            }
        }
    }

    /// Reads a `since` value as a client sent it; the failure says what is wrong and what is expected.
    public static func parse(_ value: JSONValue) -> Result<ResumePoint, ResumePointError> {
        let shape = "since must be an object {\"epoch\": string, \"sequence\": integer} as subscribe_success gave them"
        guard let object = value.objectValue else {
            return .failure(ResumePointError("\(shape), found \(value.typeDescription)"))
        }
        guard let epochValue = object["epoch"], let epoch = epochValue.stringValue else {
            return .failure(ResumePointError("since.epoch must be a string, found \(object["epoch"]?.typeDescription ?? "nothing")"))
        }
        guard isValidEpoch(epoch) else {
            return .failure(ResumePointError("since.epoch must be 1 to \(maxEpochLength) characters of A-Z a-z 0-9 . _ : - (the epoch subscribe_success gave), found \(epoch.utf8.count) bytes"))
        }
        let range = "an integer from \(sequenceBeforeFirst) to \(maxSequence)"
        let sequence: Int
        switch object["sequence"] {
        case .int(let value)?: sequence = value
        case .double(let value)? where value.rounded() == value && abs(value) <= Double(maxSequence): sequence = Int(value)
        case let other?: return .failure(ResumePointError("since.sequence must be \(range) (the last sequence received), found \(other.jsonText.prefix(utf8Bytes: 32))"))
        case nil: return .failure(ResumePointError("since.sequence must be \(range) (the last sequence received), found nothing"))
        }
        guard (sequenceBeforeFirst...maxSequence).contains(sequence) else {
            return .failure(ResumePointError("since.sequence must be \(range) (the last sequence received), found \(sequence)"))
        }
        return .success(ResumePoint(epoch: epoch, sequence: sequence))
    }
}

public struct ResumePointError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What `subscribe_success` tells a subscriber about resuming: the stream's epoch and
/// latest sequence, and, when it asked with `since`, whether its frames were recovered.
public struct ResumeOutcome: Sendable, Equatable {
    public var epoch: String
    /// The sequence of the last frame before the first one this subscriber is sent live
    /// (-1 before the stream's first frame).
    public var sequence: Int
    /// Set when the subscriber asked with `since`.
    public var recovered: Bool?
    /// The frames after `since` it will not receive, when known (not recovered).
    public var missed: Int?

    public init(epoch: String, sequence: Int, recovered: Bool? = nil, missed: Int? = nil) {
        self.epoch = epoch
        self.sequence = sequence
        self.recovered = recovered
        self.missed = missed
    }
}
