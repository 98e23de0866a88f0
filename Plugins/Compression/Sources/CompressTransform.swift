import HyphaeCore

/// Shrinks frames that clients still read as JSON: rounds floats to fewer
/// significant digits, packs long numeric arrays into base64 quanta, and sends only
/// what changed since the previous frame of the same type.
///
/// The methods run in that order. Packing comes after rounding so that rounding
/// does not touch the packed parameters, and delta comes last so that it compares
/// exactly what clients receive (packed arrays by their data).
///
/// Delta frames are rebuilt against the frame before, identified by `sequence`,
/// which the run assigns after the transforms; so no stage after this one may
/// drop frames, or clients would apply a delta to the wrong frame unawares.
public struct CompressTransform: TransformStage {
    public typealias Configuration = CompressConfiguration

    public static let stageType = "compress"
    public static let summary = "shrinks frames: rounds floats, packs long numeric arrays, sends only changes (see Docs/COMPRESSION.md)"

    private let rounder: SignificantDigitRounder?
    private let packer: NumericArrayPacker?
    private var deltaEncoder: DeltaEncoder?

    public init(configuration: Configuration, context: StageContext) {
        self.init(configuration: configuration)
    }

    public init(configuration: Configuration) {
        rounder = configuration.significantDigits.flatMap(SignificantDigitRounder.init(digits:))
        packer = configuration.packing.map { NumericArrayPacker(width: $0.width, minimumLength: $0.minimumLength) }
        deltaEncoder = configuration.delta.map { DeltaEncoder(tolerance: $0.tolerance, keyframeInterval: $0.keyframeInterval) }
    }

    public mutating func process(_ frame: Frame, into output: inout [Frame]) throws {
        var compressed = frame
        if let rounder {
            compressed.payload = rounder.rounding(compressed.payload)
        }
        if let packer {
            compressed.payload = packer.packing(compressed.payload)
        }
        try deltaEncoder?.encode(&compressed)
        output.append(compressed)
    }
}

public enum CompressionPlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(CompressTransform.self)
    }
}
