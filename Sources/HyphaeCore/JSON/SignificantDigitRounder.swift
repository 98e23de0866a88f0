import Foundation

/// Rounds floating-point numbers to a number of significant digits, so that their
/// JSON text gets shorter.
///
/// JSONWriter prints the shortest text that reads back as the same Double. Scaling
/// by a power of ten and rounding gives a Double *near* the wanted decimal, which
/// may print as `0.30000000000000004`; this rounder instead returns the Double
/// nearest to the decimal itself, whose shortest text then has at most `digits`
/// significant digits.
public struct SignificantDigitRounder: Sendable, Hashable {
    /// The digit counts a rounder can keep: from 16 on, a mantissa no longer fits a
    /// Double's 53 bits exactly, and rounding would not be exact.
    public static let supportedDigits = 1...15

    public let digits: Int
    /// 10^(digits-1) and 10^digits: the range a rounded mantissa lies in.
    private let smallestMantissa: Double
    private let mantissaLimit: Double

    /// A rounder to `digits` significant digits; nil when `digits` is outside `supportedDigits`.
    public init?(digits: Int) {
        guard Self.supportedDigits.contains(digits) else { return nil }
        self.digits = digits
        smallestMantissa = PowersOfTen.exact[digits - 1]
        mantissaLimit = PowersOfTen.exact[digits]
    }

    /// Every `.double` in the object, at any depth and inside `.numbers`, rounded; integers untouched.
    public func rounding(_ object: JSONObject) -> JSONObject {
        var rounded = JSONObject(minimumCapacity: object.count)
        for member in object.members {
            rounded.append(member.key, rounding(member.value))
        }
        return rounded
    }

    public func rounding(_ value: JSONValue) -> JSONValue {
        switch value {
        case .double(let number): .double(rounded(number))
        case .numbers(let numbers): .numbers(numbers.map(rounded))
        case .array(let elements): .array(elements.map(rounding))
        case .object(let object): .object(rounding(object))
        case .null, .bool, .int, .string: value
        }
    }

    /// The Double nearest to `number` rounded to `digits` significant decimal digits.
    /// Zero, infinities and NaN come back as they are, and so does a number whose rounding
    /// would pass the largest Double.
    public func rounded(_ number: Double) -> Double {
        guard number.isFinite, number != 0 else { return number }
        let magnitude = number.magnitude
        // log10 can be off by one next to a power of ten; the loop corrects it.
        var leadingExponent = Int(log10(magnitude).rounded(.down))
        for _ in 0..<3 {
            let shift = digits - 1 - leadingExponent
            guard let mantissa = roundedMantissa(of: magnitude, shiftedBy: shift) else {
                return roundedByFormatting(number)
            }
            if mantissa < smallestMantissa {
                leadingExponent -= 1
                continue
            }
            if mantissa > mantissaLimit {
                leadingExponent += 1
                continue
            }
            // mantissa and the power are exact Doubles, so one IEEE multiplication or
            // division yields the Double nearest to mantissa × 10^-shift. A mantissa equal
            // to mantissaLimit (9.9996 → 10.00) is still exact and prints as a power of ten.
            let result = shift >= 0 ? mantissa / PowersOfTen.exact[shift] : mantissa * PowersOfTen.exact[-shift]
            return number < 0 ? -result : result
        }
        return roundedByFormatting(number)
    }

    /// `magnitude` × 10^shift rounded to an integer, decided on the exact product
    /// (the fused multiply-add recovers what the rounded product lost), or nil when
    /// 10^|shift| is not an exact Double.
    private func roundedMantissa(of magnitude: Double, shiftedBy shift: Int) -> Double? {
        guard shift.magnitude < PowersOfTen.exact.count else { return nil }
        let power = PowersOfTen.exact[Int(shift.magnitude)]
        let approximate: Double
        let error: Double
        if shift >= 0 {
            approximate = magnitude * power
            error = (-approximate).addingProduct(magnitude, power)
        } else {
            approximate = magnitude / power
            error = magnitude.addingProduct(-approximate, power) / power
        }
        var mantissa = approximate.rounded(.toNearestOrAwayFromZero)
        // `approximate - mantissa` is exact (the two are within 0.5 of each other).
        let fraction = (approximate - mantissa) + error
        if fraction > 0.5 {
            mantissa += 1
        } else if fraction < -0.5 {
            mantissa -= 1
        }
        return mantissa
    }

    /// For magnitudes so large or small that 10^shift is not exact: the C library's
    /// correctly rounded decimal conversion, read back.
    /// Near the largest Double the rounded decimal (2e308 for 1.75e308 at one digit) is
    /// beyond it and reads back as infinity, which JSON writes as null: the number then
    /// stays as it is (found by Tests/fuzz, FuzzCompression).
    private func roundedByFormatting(_ number: Double) -> Double {
        guard let rounded = Double(String(format: "%.\(digits - 1)e", number)), rounded.isFinite else { return number }
        return rounded
    }
}

/// The powers of ten that a Double holds exactly: 10^0 ... 10^22.
private enum PowersOfTen {
    static let exact: [Double] = {
        var powers: [Double] = [1]
        // 10^k = 2^k × 5^k, and 5^22 < 2^53, so each product is exact.
        for _ in 1...22 { powers.append(powers[powers.count - 1] * 10) }
        return powers
    }()
}
