import Foundation
import HyphaeCore

/// What a client of a `compress` stage does, written from Docs/COMPRESSION.md and
/// working on the JSON text it receives: it rebuilds delta frames on top of the
/// previous frame of their type, forgets everything after a sequence gap until the
/// next keyframe, and unpacks packed arrays.
struct ClientRebuilder {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Per message type, the payload as rebuilt so far (arrays still packed).
    private var views: [String: JSONObject] = [:]
    private var lastSequence: Int?

    /// The frame's payload as the server's stage saw it before compression, with packed
    /// arrays turned back into numbers; nil while waiting for a keyframe.
    mutating func receive(_ message: [UInt8]) throws -> (type: String, payload: JSONObject)? {
        guard case .object(let envelope) = try JSONParser.parse(message),
            let type = envelope["type"]?.stringValue,
            var payload = envelope["payload"]?.objectValue,
            case .int(let sequence) = payload["sequence"]
        else { throw Failure(description: "not a data frame: \(String(decoding: message, as: UTF8.self).prefix(200))") }

        if let lastSequence, sequence != lastSequence + 1 {
            // Frames were lost: any view may be missing a change.
            views.removeAll()
        }
        lastSequence = sequence

        // Without delta encoding there is no marker and every frame is complete.
        let marker = payload["delta"]?.objectValue ?? [:]
        let isKeyframe = marker["keyframe"]?.boolValue ?? true
        for key in ["delta", "stream_id", "sequence", "timestamp"] { payload[key] = nil }

        if isKeyframe {
            views[type] = payload
        } else {
            guard var view = views[type] else { return nil }
            for path in marker["removed"]?.arrayValue ?? [] {
                let keys = (path.arrayValue ?? []).compactMap(\.stringValue)
                Self.remove(keys[...], from: &view)
            }
            Self.merge(payload, into: &view)
            views[type] = view
        }
        guard let view = views[type] else { return nil }
        return (type, try Self.unpacked(view))
    }

    private static func remove(_ path: ArraySlice<String>, from object: inout JSONObject) {
        guard let key = path.first else { return }
        if path.count == 1 {
            object[key] = nil
        } else if var nested = object[key]?.objectValue {
            remove(path.dropFirst(), from: &nested)
            object[key] = .object(nested)
        }
    }

    private static func merge(_ delta: JSONObject, into view: inout JSONObject) {
        for (key, value) in delta {
            if case .object(let changes) = value, case .object(var current) = view[key], !isPacked(changes) {
                merge(changes, into: &current)
                view[key] = .object(current)
            } else {
                view[key] = value
            }
        }
    }

    static func isPacked(_ object: JSONObject) -> Bool {
        ["u8", "u16"].contains(object["packed"]?.stringValue ?? "") && object["data"]?.stringValue != nil
    }

    static func unpacked(_ object: JSONObject) throws -> JSONObject {
        var result = JSONObject()
        for (key, value) in object { result.append(key, try unpacked(value)) }
        return result
    }

    static func unpacked(_ value: JSONValue) throws -> JSONValue {
        switch value {
        case .object(let object) where isPacked(object):
            return .numbers(try unpack(object))
        case .object(let object):
            return .object(try unpacked(object))
        case .array(let elements):
            return .array(try elements.map(unpacked))
        default:
            return value
        }
    }

    /// `value[i] = offset + q[i] * scale`, q read as unsigned little-endian integers.
    static func unpack(_ packed: JSONObject) throws -> [Double] {
        guard let format = packed["packed"]?.stringValue,
            let offset = packed["offset"]?.numberValue,
            let scale = packed["scale"]?.numberValue,
            case .int(let length) = packed["length"],
            let text = packed["data"]?.stringValue,
            let data = Data(base64Encoded: text)
        else { throw Failure(description: "a malformed packed array: \(JSONValue.object(packed).jsonText.prefix(200))") }
        let bytes = [UInt8](data)
        let width = format == "u8" ? 1 : 2
        guard bytes.count == length * width else {
            throw Failure(description: "packed data holds \(bytes.count) bytes for \(length) values of \(width) bytes")
        }
        return (0..<length).map { index in
            let quantum = width == 1 ? Int(bytes[index]) : Int(bytes[2 * index]) | Int(bytes[2 * index + 1]) << 8
            return offset + Double(quantum) * scale
        }
    }
}
