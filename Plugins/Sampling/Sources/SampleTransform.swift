import HyphaeCore

/// Thins a stream: every N-th frame, or at most R frames per second.
///
/// Essential frames (the end of a finite stream) always pass.
public struct SampleTransform: TransformStage {
    public struct Configuration: StageConfiguration {
        public enum Mode: Sendable, Equatable {
            case every(Int)
            case maxPerSecond(Double)
        }

        public var mode: Mode

        public init(reading config: inout ConfigReader) {
            let every = config.optionalInt("every", min: 1, summary: "keep the N-th, 2N-th, 3N-th ... frame")
            let rate = config.optionalDouble("max_per_second", min: 0.001, max: 1_000_000, summary: "keep at most this many frames per second, the latest of each interval")
            switch (every, rate) {
            case (let every?, nil): mode = .every(every)
            case (nil, let rate?): mode = .maxPerSecond(rate)
            case (_?, _?):
                config.problem("max_per_second", "set either 'every' or 'max_per_second', not both")
                mode = .every(1)
            case (nil, nil):
                if !config.isDescribing, !config.contains("every"), !config.contains("max_per_second") {
                    config.problem(nil, "set 'every' (keep every N-th frame) or 'max_per_second' (a rate limit)")
                }
                mode = .every(1)
            }
        }
    }

    public static let stageType = "sample"
    public static let summary = "keeps every N-th frame, or at most R frames per second (the latest); never drops essential frames"

    private let mode: Configuration.Mode
    private var seen = 0
    private let minimumGap: Duration
    private var lastEmitted: ContinuousClock.Instant?
    /// The newest frame that arrived too soon after the last one emitted.
    private var held: Frame?

    public init(configuration: Configuration, context: StageContext) {
        mode = configuration.mode
        if case .maxPerSecond(let rate) = mode {
            minimumGap = .nanoseconds(Int64((1e9 / rate).rounded()))
        } else {
            minimumGap = .zero
        }
    }

    public mutating func process(_ frame: Frame, into output: inout [Frame]) {
        if frame.isEssential {
            // Whatever was held is older than this frame, which closes the stream.
            held = nil
            output.append(frame)
            return
        }
        switch mode {
        case .every(let interval):
            seen += 1
            if seen % interval == 0 { output.append(frame) }
        case .maxPerSecond:
            let now = ContinuousClock.now
            if let lastEmitted, now - lastEmitted < minimumGap {
                held = frame
            } else {
                held = nil
                lastEmitted = now
                output.append(frame)
            }
        }
    }

    public mutating func finish(into output: inout [Frame]) {
        if let held {
            output.append(held)
            self.held = nil
        }
    }
}

public enum SamplingPlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(SampleTransform.self)
    }
}
