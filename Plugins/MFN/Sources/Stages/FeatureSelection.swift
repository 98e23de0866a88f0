import HyphaeCore

/// Which of the nine features a frame carries, and how they are written.
public struct FeatureSelection: Sendable, Equatable {
    /// The wire names in wire order.
    public static let allNames: [String] = FieldFeatures.CodingKeys.allCases.map(\.rawValue)

    /// Positions in `allNames` of the features sent, in wire order whatever order the list was given in.
    let positions: [Int]
    /// Rounds each feature; nil sends full precision.
    let rounder: SignificantDigitRounder?

    /// `significantDigits` outside `SignificantDigitRounder.supportedDigits` sends full precision.
    public init(names: [String], significantDigits: Int? = nil) {
        let requested = Set(names)
        positions = Self.allNames.indices.filter { requested.contains(Self.allNames[$0]) }
        rounder = significantDigits.flatMap(SignificantDigitRounder.init(digits:))
    }

    /// Significant digits the features are rounded to; nil when they are sent in full.
    public var significantDigits: Int? { rounder?.digits }

    public var names: [String] { positions.map { Self.allNames[$0] } }

    /// The selected features as a JSON object, `active_nodes` as a number like the others.
    func object(from features: FieldFeatures) -> JSONObject {
        let values = features.namedValues
        var object = JSONObject(minimumCapacity: positions.count)
        for position in positions {
            let (name, value) = values[position]
            object.append(name, .double(rounder?.rounded(value) ?? value))
        }
        return object
    }
}
