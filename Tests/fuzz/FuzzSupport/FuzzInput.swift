#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Choices read one after another from a fuzzer's input. Once the bytes run out every
/// read returns zero, so that any input, however short, describes a complete case and
/// libFuzzer's mutations of one byte change one choice.
public struct FuzzInput {
    private let bytes: [UInt8]
    private var index = 0

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    public var isExhausted: Bool { index >= bytes.count }

    public mutating func byte() -> UInt8 {
        guard index < bytes.count else { return 0 }
        defer { index += 1 }
        return bytes[index]
    }

    /// A number in `range`, from one byte (two when the range is wider than 256).
    public mutating func int(in range: ClosedRange<Int>) -> Int {
        let width = UInt64(range.upperBound - range.lowerBound) + 1
        let raw = width <= 256 ? UInt64(byte()) : UInt64(byte()) << 8 | UInt64(byte())
        return range.lowerBound + Int(raw % width)
    }

    /// True about once in `odds` reads.
    public mutating func chance(_ odds: Int) -> Bool {
        int(in: 0...(odds - 1)) == 0
    }

    public mutating func bool() -> Bool {
        byte() & 1 == 1
    }

    public mutating func uint64() -> UInt64 {
        (0..<8).reduce(UInt64(0)) { value, _ in value << 8 | UInt64(byte()) }
    }

    /// Any bit pattern: NaN, infinities, subnormals and the extremes included.
    public mutating func anyDouble() -> Double {
        Double(bitPattern: uint64())
    }

    /// What is left, taken whole.
    public mutating func rest() -> [UInt8] {
        guard index < bytes.count else { return [] }
        defer { index = bytes.count }
        return Array(bytes[index...])
    }

    /// The next `count` bytes, or fewer at the end.
    public mutating func take(_ count: Int) -> [UInt8] {
        let end = min(bytes.count, index + max(0, count))
        guard index < end else { return [] }
        defer { index = end }
        return Array(bytes[index..<end])
    }
}

/// Fails the run when a property does not hold: libFuzzer reports the abort as a crash
/// and saves the input, so a broken property is found like a trap.
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    guard !condition() else { return }
    let text = Array("fuzz property failed: \(message())\n".utf8)
    _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}
