import Foundation
import HyphaeCore

/// Which of the nine features a frame carries, and how they are written.
public struct FeatureSelection: Sendable, Equatable {
    /// The wire names in wire order.
    public static let allNames: [String] = FieldFeatures.CodingKeys.allCases.map(\.rawValue)

    /// Positions in `allNames` of the features sent, in wire order whatever order the list was given in.
    let positions: [Int]
    /// Significant digits to round to; nil sends full precision.
    let significantDigits: Int?

    public init(names: [String], significantDigits: Int? = nil) {
        let requested = Set(names)
        positions = Self.allNames.indices.filter { requested.contains(Self.allNames[$0]) }
        self.significantDigits = significantDigits
    }

    public var names: [String] { positions.map { Self.allNames[$0] } }

    /// The selected features as a JSON object, `active_nodes` as a number like the others.
    func object(from features: FieldFeatures) -> JSONObject {
        let values = features.namedValues
        var object = JSONObject(minimumCapacity: positions.count)
        for position in positions {
            let (name, value) = values[position]
            object.append(name, .double(significantDigits.map { value.rounded(significantDigits: $0) } ?? value))
        }
        return object
    }
}

extension Double {
    /// Rounded to `digits` significant decimal digits, so that the JSON writer's shortest
    /// representation is short too. Zero, infinities, NaN and values too small to scale come back as is.
    func rounded(significantDigits digits: Int) -> Double {
        guard isFinite, self != 0, digits > 0 else { return self }
        let shift = Double(digits - 1) - Foundation.floor(Foundation.log10(Swift.abs(self)))
        // Multiplying or dividing by a whole power of ten (exact up to 10²²), never by 0.01 and the like, keeps
        // the result at the double nearest the decimal: 12345 → 12350, not 12350.000000000002.
        let rounded: Double
        if shift >= 0 {
            let scale = Foundation.pow(10.0, shift)
            guard scale.isFinite else { return self }
            rounded = (self * scale).rounded() / scale
        } else {
            let scale = Foundation.pow(10.0, -shift)
            rounded = (self / scale).rounded() * scale
        }
        return rounded.isFinite ? rounded : self
    }
}
