import HyphaeCore

/// How many bits each quantised value of a packed array takes.
public enum PackWidth: Int, Sendable, CaseIterable {
    case bits8 = 8
    case bits16 = 16

    /// The name clients read in the packed object's `packed` member.
    public var wireName: String {
        switch self {
        case .bits8: "u8"
        case .bits16: "u16"
        }
    }

    var largestQuantum: Int { (1 << rawValue) - 1 }
}

/// The members of a packed array, shared by the packer and by delta's exact comparison.
enum PackedArrayShape {
    static let formatKey = "packed"
    static let offsetKey = "offset"
    static let scaleKey = "scale"
    static let lengthKey = "length"
    static let dataKey = "data"

    /// Whether an object is one this stage packed: delta then compares it as a whole.
    static func isPacked(_ object: JSONObject) -> Bool {
        guard object.count == 5, let format = object[formatKey]?.stringValue else { return false }
        return PackWidth.allCases.contains { $0.wireName == format } && object[dataKey]?.stringValue != nil
    }
}

/// Replaces long arrays of numbers by quantised unsigned integers in base64:
/// `{"packed":"u16","offset":o,"scale":s,"length":n,"data":"..."}`, where value i
/// is read back as `offset + q[i] * scale`, within `scale / 2` of the original.
///
/// Arrays holding a non-finite value are left as they are: JSON prints those as
/// `null`, and a quantum cannot carry them without a reserved code that every
/// client would have to know.
public struct NumericArrayPacker: Sendable {
    public let width: PackWidth
    public let minimumLength: Int

    public init(width: PackWidth, minimumLength: Int) {
        self.width = width
        self.minimumLength = minimumLength
    }

    /// The object with every long numeric array, at any depth, packed.
    public func packing(_ object: JSONObject) -> JSONObject {
        var packed = JSONObject(minimumCapacity: object.count)
        for member in object.members {
            packed.append(member.key, packing(member.value))
        }
        return packed
    }

    public func packing(_ value: JSONValue) -> JSONValue {
        switch value {
        case .numbers(let numbers):
            guard numbers.count >= minimumLength, let packed = pack(numbers) else { return value }
            return .object(packed)
        case .array(let elements):
            if elements.count >= minimumLength, let numbers = Self.numbers(in: elements), let packed = pack(numbers) {
                return .object(packed)
            }
            return .array(elements.map(packing))
        case .object(let object):
            return .object(packing(object))
        case .null, .bool, .int, .double, .string:
            return value
        }
    }

    /// The packed object for `numbers`, or nil when one of them is not finite, their
    /// range overflows, or the largest quantum would decode beyond the largest Double.
    public func pack(_ numbers: [Double]) -> JSONObject? {
        guard let quantisation = Quantisation(numbers, width: width) else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(numbers.count * width.rawValue / 8)
        for number in numbers {
            let quantum = quantisation.quantum(of: number)
            bytes.append(UInt8(truncatingIfNeeded: quantum))
            if width == .bits16 {
                bytes.append(UInt8(truncatingIfNeeded: quantum >> 8))
            }
        }
        var packed = JSONObject(minimumCapacity: 5)
        packed.append(PackedArrayShape.formatKey, .string(width.wireName))
        packed.append(PackedArrayShape.offsetKey, .double(quantisation.offset))
        packed.append(PackedArrayShape.scaleKey, .double(quantisation.scale))
        packed.append(PackedArrayShape.lengthKey, .int(numbers.count))
        packed.append(PackedArrayShape.dataKey, .string(Base64.encode(bytes)))
        return packed
    }

    /// The elements as Doubles when every one is a number; nil otherwise.
    private static func numbers(in elements: [JSONValue]) -> [Double]? {
        var numbers: [Double] = []
        numbers.reserveCapacity(elements.count)
        for element in elements {
            guard let number = element.numberValue else { return nil }
            numbers.append(number)
        }
        return numbers
    }
}

/// The affine map from an array's values to quanta 0 ... 2^bits - 1.
struct Quantisation {
    let offset: Double
    let scale: Double
    private let largestQuantum: Double

    init?(_ numbers: [Double], width: PackWidth) {
        var lowest = Double.infinity
        var highest = -Double.infinity
        var allWhole = true
        for number in numbers {
            guard number.isFinite else { return nil }
            lowest = min(lowest, number)
            highest = max(highest, number)
            if allWhole, number != number.rounded() { allWhole = false }
        }
        guard lowest <= highest else { return nil }
        let range = highest - lowest
        guard range.isFinite else { return nil }
        largestQuantum = Double(width.largestQuantum)
        offset = lowest
        if allWhole, range <= largestQuantum {
            // Whole numbers that fit the width travel exactly, one step per unit.
            scale = range == 0 ? 0 : 1
        } else {
            scale = range / largestQuantum
        }
        // The rounded scale times the largest quantum can exceed the range by an ulp; next to
        // the largest Double that pushes a client's `offset + q * scale` to infinity. Those
        // arrays travel unpacked, which every client reads, rather than with a scale other
        // than the documented `range / (2^bits - 1)`.
        guard (offset + largestQuantum * scale).isFinite else { return nil }
    }

    func quantum(of number: Double) -> Int {
        guard scale > 0 else { return 0 }
        let steps = ((number - offset) / scale).rounded(.toNearestOrAwayFromZero)
        return Int(min(max(steps, 0), largestQuantum))
    }
}
