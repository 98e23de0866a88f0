import HyphaeCore

/// The settings of a `compress` stage: three methods, each switched on by its own flag.
public struct CompressConfiguration: StageConfiguration, Equatable {
    public struct Packing: Sendable, Equatable {
        public var width: PackWidth
        public var minimumLength: Int
    }

    public struct Delta: Sendable, Equatable {
        public var tolerance: ChangeTolerance
        public var keyframeInterval: Int
    }

    /// Significant digits floats are rounded to; nil when precision is off.
    public var significantDigits: Int?
    public var packing: Packing?
    public var delta: Delta?

    public init(significantDigits: Int? = nil, packing: Packing? = nil, delta: Delta? = nil) {
        self.significantDigits = significantDigits
        self.packing = packing
        self.delta = delta
    }

    /// Each method's switch and the fields that only matter when it is on.
    static let switches: [(name: String, tuning: [String])] = [
        ("precision", ["significant_digits"]),
        ("pack", ["pack_bits", "pack_min_length"]),
        ("delta", ["keyframe_interval", "delta_absolute_tolerance", "delta_relative_tolerance"]),
    ]

    public init(reading config: inout ConfigReader) {
        let precision = config.bool("precision", default: false, summary: "round every floating-point number in the payload to significant_digits digits")
        let digits = config.int(
            "significant_digits", default: 6,
            min: SignificantDigitRounder.supportedDigits.lowerBound, max: SignificantDigitRounder.supportedDigits.upperBound,
            summary: "how many significant digits floats keep when precision is on")

        let pack = config.bool("pack", default: false, summary: "replace long arrays of numbers by quantised integers in base64")
        let bits = config.int("pack_bits", default: 16, summary: "bits per packed value: 8 or 16 (the error is at most range / (2^bits - 1) / 2)")
        let minimumLength = config.int("pack_min_length", default: 64, min: 2, summary: "pack arrays of numbers with at least this many elements")

        let delta = config.bool("delta", default: false, summary: "send only what changed since the previous frame of the same type")
        let keyframeInterval = config.int("keyframe_interval", default: 10, min: 1, max: 1_000_000, summary: "send a complete frame every N frames of a type (1: every frame)")
        let absoluteTolerance = config.double("delta_absolute_tolerance", default: 0, min: 0, summary: "a float that moved by at most this much is not sent")
        let relativeTolerance = config.double("delta_relative_tolerance", default: 0, min: 0, below: 1, summary: "a float that moved by at most this fraction of the client's value is not sent")

        let width = PackWidth(rawValue: bits)
        if width == nil {
            config.problem("pack_bits", "expected 8 or 16, found \(bits)")
        }
        if !config.isDescribing {
            Self.reportMisplacedFields(in: &config)
        }

        significantDigits = precision ? digits : nil
        packing = pack ? Packing(width: width ?? .bits16, minimumLength: minimumLength) : nil
        self.delta = delta ? Delta(tolerance: ChangeTolerance(absolute: absoluteTolerance, relative: relativeTolerance), keyframeInterval: keyframeInterval) : nil
    }

    /// A stage that names no method, or tunes one it never switches on, is most
    /// likely a mistake. A switch that is present but false (often a param) is not.
    private static func reportMisplacedFields(in config: inout ConfigReader) {
        var anySwitchWritten = false
        for method in switches {
            if config.contains(method.name) {
                anySwitchWritten = true
                continue
            }
            for field in method.tuning where config.contains(field) {
                config.problem(field, "'\(field)' has no effect unless '\(method.name)' is on; add '\(method.name): true'")
            }
        }
        if !anySwitchWritten {
            config.problem(nil, "turn on at least one method: 'precision: true', 'pack: true' or 'delta: true'")
        }
    }
}
