import Foundation

/// The engine's own seeded random source, so that a seed gives the same field on every run and machine.
///
/// - Seeding: the 64-bit seed is expanded by SplitMix64 (Steele, Lea & Flood 2014; constants
///   `0x9E3779B97F4A7C15`, `0xBF58476D1CE4E5B9`, `0x94D049BB133111EB`) into the four words of a
///   xoshiro256** generator (Blackman & Vigna 2018), which produces every draw.
/// - Uniform doubles take the top 53 bits: `Double(x >> 11) * 2⁻⁵³`, in [0, 1).
/// - Cell indices use the high word of `x × count` (Lemire's multiply-shift without rejection;
///   the bias is below count / 2⁶⁴, far under anything a 2048×2048 grid could show).
/// - Normals use the Box–Muller transform on two uniforms, `u1` in (0, 1] and `u2` in [0, 1):
///   `sqrt(-2 ln u1) · cos(2π u2)` is returned and `sqrt(-2 ln u1) · sin(2π u2)` is kept for the next
///   normal draw. It is exact in distribution; the integer stream is bit-identical everywhere, while
///   `log`, `cos` and `sin` come from the platform's libm (identical on the same libm, and at most an
///   ulp apart between libms).
struct FieldRandom: Sendable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64
    private var spareNormal: Double?

    init(seed: UInt64) {
        var splitMix = seed
        func nextSplitMix() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = nextSplitMix()
        s1 = nextSplitMix()
        s2 = nextSplitMix()
        s3 = nextSplitMix()
    }

    @inline(__always)
    mutating func next() -> UInt64 {
        let result = rotateLeft(s1 &* 5, by: 7) &* 9
        let shifted = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= shifted
        s3 = rotateLeft(s3, by: 45)
        return result
    }

    /// A double in [0, 1).
    @inline(__always)
    mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// An index in `0..<count`.
    @inline(__always)
    mutating func index(below count: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(count)).high)
    }

    mutating func normal(mean: Double, standardDeviation: Double) -> Double {
        mean + standardDeviation * standardNormal()
    }

    mutating func standardNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        let u1 = Double((next() >> 11) + 1) * 0x1.0p-53
        let u2 = Double(next() >> 11) * 0x1.0p-53
        let radius = (-2.0 * log(u1)).squareRoot()
        let angle = 2.0 * Double.pi * u2
        spareNormal = radius * sin(angle)
        return radius * cos(angle)
    }

    @inline(__always)
    private func rotateLeft(_ value: UInt64, by amount: UInt64) -> UInt64 {
        (value << amount) | (value >> (64 - amount))
    }
}
