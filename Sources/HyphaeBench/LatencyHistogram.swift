import Histogram

/// Durations in microseconds, kept in an HdrHistogram with three significant digits
/// (every value within 0.1 % of its true size) from 1 µs to one hour; longer ones
/// count as one hour. Its range is fixed, so recording never allocates, and the
/// histograms of the event loops merge into one.
public struct LatencyHistogram: Sendable, Equatable {
    static let highestTrackableMicroseconds: UInt64 = 3_600_000_000

    private var histogram = Histogram<UInt64>(
        highestTrackableValue: LatencyHistogram.highestTrackableMicroseconds, numberOfSignificantValueDigits: .three)

    public init() {}

    public var totalCount: Int { Int(histogram.totalCount) }

    public var maximum: Int { Int(histogram.maxRecorded) }

    public var mean: Double { totalCount == 0 ? 0 : histogram.mean }

    /// Records one duration; a negative one (a clock step) counts as 0.
    @inline(__always)
    public mutating func record(_ microseconds: Int) {
        let value = UInt64(max(0, microseconds))
        _ = histogram.record(min(value, Self.highestTrackableMicroseconds))
    }

    public mutating func merge(_ other: LatencyHistogram) {
        histogram.add(other.histogram)
    }

    /// The value at or below which `fraction` (0...1) of the recorded values lie, as
    /// HdrHistogram reports it: the highest value equivalent to it at the histogram's
    /// precision, never above the recorded maximum.
    public func value(atFraction fraction: Double) -> Int {
        guard totalCount > 0 else { return 0 }
        return min(Int(histogram.valueAtPercentile(fraction * 100)), maximum)
    }
}
