/// A log-linear histogram of non-negative integer values (the bench records
/// microseconds): exact below 128, then 64 buckets per power of two, so every
/// value is kept within 1/64 (1.6 %) of its true size. Fixed size, no allocation
/// per value, mergeable across event loops.
public struct LatencyHistogram: Sendable, Equatable {
    static let linearLimit = 128
    static let subBucketBits = 6
    static let subBucketCount = 1 << subBucketBits
    /// Covers values up to 2^40 µs (12 days); larger ones land in the last bucket.
    static let largestExponent = 40
    static let bucketCount = linearLimit + (largestExponent - subBucketBits) * subBucketCount

    private(set) var counts: [Int]
    public private(set) var totalCount = 0
    public private(set) var maximum = 0
    private var sum = 0

    public init() {
        counts = Array(repeating: 0, count: Self.bucketCount)
    }

    static func bucketIndex(of value: Int) -> Int {
        guard value >= linearLimit else { return max(0, value) }
        let exponent = Int.bitWidth - 1 - value.leadingZeroBitCount
        let shift = exponent - subBucketBits
        let subBucket = (value >> shift) & (subBucketCount - 1)
        return min(bucketCount - 1, linearLimit + (exponent - subBucketBits - 1) * subBucketCount + subBucket)
    }

    /// The largest value that falls in a bucket (a conservative report of it).
    static func highestValue(inBucket index: Int) -> Int {
        guard index >= linearLimit else { return index }
        let offset = index - linearLimit
        let exponent = offset / subBucketCount + subBucketBits + 1
        let subBucket = offset % subBucketCount
        let shift = exponent - subBucketBits
        let lowest = (subBucketCount + subBucket) << shift
        return lowest + (1 << shift) - 1
    }

    @inline(__always)
    public mutating func record(_ value: Int) {
        let clamped = max(0, value)
        counts[Self.bucketIndex(of: clamped)] += 1
        totalCount += 1
        sum += clamped
        if clamped > maximum { maximum = clamped }
    }

    public mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        totalCount += other.totalCount
        sum += other.sum
        maximum = max(maximum, other.maximum)
    }

    public var mean: Double {
        totalCount == 0 ? 0 : Double(sum) / Double(totalCount)
    }

    /// The value at or below which `fraction` (0...1) of the recorded values lie,
    /// reported as its bucket's highest value, and never above the true maximum.
    public func value(atFraction fraction: Double) -> Int {
        guard totalCount > 0 else { return 0 }
        let rank = max(1, Int((fraction * Double(totalCount)).rounded(.up)))
        var seen = 0
        for (index, count) in counts.enumerated() where count > 0 {
            seen += count
            if seen >= rank { return min(Self.highestValue(inBucket: index), maximum) }
        }
        return maximum
    }
}
