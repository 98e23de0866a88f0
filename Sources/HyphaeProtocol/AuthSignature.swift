import Crypto
import HyphaeCore

/// The `auth` message's optional signature (PROTOCOL.md, auth): lowercase hex of
/// HMAC-SHA256 keyed by the API key, over the decimal digits of the timestamp's
/// integer part as the client sent it. The one implementation the host checks and
/// the Swift client and the bench sign with.
public enum AuthSignature {
    /// The signature of a timestamp in whole milliseconds (or seconds, as sent).
    public static func hex(apiKey: String, timestamp: Int64) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: Array(String(timestamp).utf8), using: SymmetricKey(data: Array(apiKey.utf8)))
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(SHA256.byteCount * 2)
        for byte in code {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The signature of a timestamp as a client sent it, a JSON number that may carry a
    /// fraction; nil when its integer part does not fit 64 bits (no client could have signed it).
    public static func hex(apiKey: String, sentTimestamp: Double) -> String? {
        guard let whole = Int64(exactly: sentTimestamp.rounded(.towardZero)) else { return nil }
        return hex(apiKey: apiKey, timestamp: whole)
    }

    /// The payload of an `auth` message: the key, the timestamp in milliseconds, and the
    /// signature when `signed`.
    public static func authPayload(apiKey: String, timestamp: Int64, signed: Bool) -> JSONObject {
        var payload: JSONObject = ["api_key": .string(apiKey), "timestamp": .int(Int(timestamp))]
        if signed { payload["signature"] = .string(hex(apiKey: apiKey, timestamp: timestamp)) }
        return payload
    }
}
