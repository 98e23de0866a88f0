import HyphaeCore

/// When a number counts as changed for delta encoding.
public struct ChangeTolerance: Sendable, Equatable {
    /// A change up to this much is not sent.
    public var absolute: Double
    /// A change up to this fraction of the client's current value is not sent.
    public var relative: Double

    public init(absolute: Double = 0, relative: Double = 0) {
        self.absolute = absolute
        self.relative = relative
    }

    /// Whether the client, holding `reference`, must be sent `value`.
    ///
    /// Only floating-point numbers get a tolerance: integers are counters, steps and
    /// sizes, where any change matters. A change of kind (integer to float, number to
    /// string, ...) is always a change.
    func differs(_ value: JSONValue, from reference: JSONValue) -> Bool {
        switch (value, reference) {
        case (.double(let new), .double(let old)):
            return differs(new, from: old)
        case (.numbers(let new), .numbers(let old)):
            guard new.count == old.count else { return true }
            return zip(new, old).contains { differs($0, from: $1) }
        case (.array(let new), .array(let old)):
            guard new.count == old.count else { return true }
            return zip(new, old).contains { differs($0, from: $1) }
        case (.numbers, .array), (.array, .numbers):
            guard let new = value.arrayValue, let old = reference.arrayValue, new.count == old.count else { return true }
            return zip(new, old).contains { differs($0, from: $1) }
        case (.object(let new), .object(let old)):
            guard new.count == old.count else { return true }
            return zip(new.members, old.members).contains { $0.key != $1.key || differs($0.value, from: $1.value) }
        default:
            return value != reference
        }
    }

    private func differs(_ new: Double, from old: Double) -> Bool {
        guard new.isFinite, old.isFinite else {
            // Every non-finite number is written as null, so null to null is no change.
            return new.isFinite || old.isFinite
        }
        let allowed = max(absolute, relative * old.magnitude)
        return (new - old).magnitude > allowed
    }
}

/// Sends, per message type, only what changed since the frame the client holds.
///
/// Each frame gets a `delta` payload member: `{"keyframe":true}` on a complete
/// frame, `{"keyframe":false}` on a delta, with `"removed":[[path...],...]` when
/// members of the previous frame are gone. The reference kept for the next delta
/// is what the client has rebuilt, not the last frame seen: a number that moved
/// less than the tolerance is not sent, so the client keeps its old value, and the
/// next comparison must be against that value or small changes would add up
/// unseen beyond the tolerance.
public struct DeltaEncoder: Sendable {
    /// The payload member that carries the marker.
    public static let markerKey = "delta"
    static let keyframeKey = "keyframe"
    static let removedKey = "removed"

    public let tolerance: ChangeTolerance
    public let keyframeInterval: Int
    private var streams: [String: ClientView] = [:]

    /// What a client has rebuilt of one message type.
    private struct ClientView {
        var payload: JSONObject
        var framesSinceKeyframe: Int
    }

    public init(tolerance: ChangeTolerance, keyframeInterval: Int) {
        self.tolerance = tolerance
        self.keyframeInterval = keyframeInterval
    }

    /// Rewrites the payload of `frame` as a keyframe or a delta and adds the marker.
    public mutating func encode(_ frame: inout Frame) throws {
        guard frame.payload[Self.markerKey] == nil else {
            throw StageError(
                "compress: a '\(frame.type)' payload already has a member '\(Self.markerKey)', which delta encoding needs for its marker; rename that field in an earlier stage or turn delta off"
            )
        }
        let previous = streams[frame.type]
        guard let previous, !frame.isEssential, previous.framesSinceKeyframe + 1 < keyframeInterval else {
            streams[frame.type] = ClientView(payload: frame.payload, framesSinceKeyframe: 0)
            frame.payload.append(Self.markerKey, .object([Self.keyframeKey: true]))
            return
        }
        var differences = ObjectDifference()
        differences.compare(frame.payload, against: previous.payload, at: [], tolerance: tolerance)
        streams[frame.type] = ClientView(payload: differences.clientView, framesSinceKeyframe: previous.framesSinceKeyframe + 1)

        var marker: JSONObject = [Self.keyframeKey: false]
        if !differences.removedPaths.isEmpty {
            marker.append(Self.removedKey, .array(differences.removedPaths.map { path in .array(path.map { .string($0) }) }))
        }
        var delta = differences.changed
        delta.append(Self.markerKey, .object(marker))
        frame.payload = delta
    }
}

/// The difference between a new object and the client's copy of it.
struct ObjectDifference {
    /// The members to send: changed or new values, and objects holding only what changed in them.
    private(set) var changed = JSONObject()
    /// What the client will hold after applying `changed` and `removedPaths`.
    private(set) var clientView = JSONObject()
    /// Paths of members the client holds that the new object no longer has.
    private(set) var removedPaths: [[String]] = []

    mutating func compare(_ new: JSONObject, against reference: JSONObject, at path: [String], tolerance: ChangeTolerance) {
        var changedHere = JSONObject()
        var viewHere = JSONObject(minimumCapacity: new.count)
        for (key, value) in new {
            guard let old = reference[key] else {
                changedHere.append(key, value)
                viewHere.append(key, value)
                continue
            }
            if case .object(let newObject) = value, case .object(let oldObject) = old,
                !(PackedArrayShape.isPacked(newObject) && PackedArrayShape.isPacked(oldObject))
            {
                // Clients merge a sent object into theirs, so nested objects carry only their changes.
                var nested = ObjectDifference()
                nested.compare(newObject, against: oldObject, at: path + [key], tolerance: tolerance)
                if !nested.changed.isEmpty { changedHere.append(key, .object(nested.changed)) }
                viewHere.append(key, .object(nested.clientView))
                removedPaths.append(contentsOf: nested.removedPaths)
            } else if Self.mustSend(value, replacing: old, tolerance: tolerance) {
                changedHere.append(key, value)
                viewHere.append(key, value)
            } else {
                viewHere.append(key, old)
            }
        }
        for (key, _) in reference where new[key] == nil {
            removedPaths.append(path + [key])
        }
        changed = changedHere
        clientView = viewHere
    }

    /// Packed arrays are compared exactly, by their data and parameters: their
    /// quanta already carry the loss the configuration allows.
    private static func mustSend(_ value: JSONValue, replacing old: JSONValue, tolerance: ChangeTolerance) -> Bool {
        if case .object(let object) = value, PackedArrayShape.isPacked(object) {
            return value != old
        }
        return tolerance.differs(value, from: old)
    }
}
