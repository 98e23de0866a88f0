import HyphaeCore
import HyphaeProtocol
import Synchronization

/// Checks `auth` messages (PROTOCOL.md, auth): the key in constant time against
/// every configured key, the timestamp window, the optional HMAC-SHA256 signature,
/// and that a signed message is accepted only once.
public final class Authenticator: Sendable {
    public enum Outcome: Sendable, Equatable {
        case accepted(KeyIdentity)
        /// A well-formed message that failed a check; which one is never told to the client.
        case rejected(reason: String)
        /// A payload missing a field or with a field of the wrong type.
        case malformed(String)
    }

    /// Who an authenticated connection is.
    public struct KeyIdentity: Sendable, Equatable {
        public var displayID: String
        public var pipelines: Set<String>?
        /// What the per-key limits count by: the configured key, never shown; nil for an
        /// anonymous connection, which only the per-address and host limits bound.
        var limitKey: String?

        public func mayRead(_ pipeline: String) -> Bool {
            pipelines?.contains(pipeline) ?? true
        }

        static let anonymous = KeyIdentity(displayID: "anonymous", pipelines: nil, limitKey: nil)

        init(displayID: String, pipelines: Set<String>?, limitKey: String?) {
            self.displayID = displayID
            self.pipelines = pipelines
            self.limitKey = limitKey
        }

        init(_ key: APIKey) {
            self.init(displayID: key.displayID, pipelines: key.pipelines, limitKey: key.secret)
        }
    }

    private let keys: [APIKey]
    public let isRequired: Bool
    private let signatureRequired: Bool
    private let windowMilliseconds: Double
    /// Signed messages seen inside the window, by signature, with when they expire.
    private let seenSignatures = Mutex<[String: Double]>([:])
    /// Signed messages remembered at once. Only holders of a key can add one, and a
    /// full cache refuses new signed auths (it never forgets one early, which would let
    /// it be replayed).
    static let maximumRememberedSignatures = 100_000

    public init(configuration: HostConfiguration) {
        keys = configuration.apiKeys
        isRequired = configuration.requiresAuthentication
        signatureRequired = configuration.signatureRequired
        windowMilliseconds = configuration.timestampWindow * 1000
    }

    public func authenticate(_ payload: JSONObject?, now: Double = WallClock.nowMilliseconds()) -> Outcome {
        guard let payload else { return .malformed("the auth payload is missing; send {\"api_key\": ..., \"timestamp\": ...}") }
        guard let keyValue = payload["api_key"] else { return .malformed("api_key is missing") }
        guard let presentedKey = keyValue.stringValue else { return .malformed("api_key must be a string") }
        guard let timestampValue = payload["timestamp"] else { return .malformed("timestamp is missing (Unix time in milliseconds)") }
        guard let sentTimestamp = timestampValue.numberValue, sentTimestamp.isFinite else {
            return .malformed("timestamp must be a number (Unix time in milliseconds)")
        }
        var signature: String?
        if let signatureValue = payload["signature"], signatureValue != .null {
            guard let text = signatureValue.stringValue else { return .malformed("signature must be a hex string") }
            signature = text.lowercased()
        }

        // Values below 1e12 are seconds: 1e12 ms is in 2001, 1e12 s far in the future.
        let milliseconds = sentTimestamp < 1e12 ? sentTimestamp * 1000 : sentTimestamp
        guard abs(now - milliseconds) <= windowMilliseconds else { return .rejected(reason: "timestamp outside the window") }

        var identity = KeyIdentity.anonymous
        if isRequired {
            guard let key = matchingKey(presentedKey) else { return .rejected(reason: "unknown key") }
            identity = KeyIdentity(key)
        } else if let key = matchingKey(presentedKey) {
            identity = KeyIdentity(key)
        }

        guard let signature else {
            return signatureRequired ? .rejected(reason: "signature required") : .accepted(identity)
        }
        guard let expected = AuthSignature.hex(apiKey: presentedKey, sentTimestamp: sentTimestamp),
            Self.constantTimeEqual(Array(signature.utf8), Array(expected.utf8))
        else {
            return .rejected(reason: "bad signature")
        }
        // Remembered by the signature alone: it is fixed-size, and only the key could have made it.
        let outcome = seenSignatures.withLock { seen -> Outcome in
            guard seen[expected] == nil else { return .rejected(reason: "replayed signature") }
            if seen.count >= Self.maximumRememberedSignatures {
                seen = seen.filter { $0.value >= now }
                guard seen.count < Self.maximumRememberedSignatures else { return .rejected(reason: "replay cache full") }
            }
            seen[expected] = milliseconds + windowMilliseconds
            return .accepted(identity)
        }
        return outcome
    }

    /// Compares with every key, without stopping at the first match, so that the
    /// time taken says nothing about which key is close.
    private func matchingKey(_ presented: String) -> APIKey? {
        let presentedBytes = Array(presented.utf8)
        var match: APIKey?
        for key in keys where Self.constantTimeEqual(presentedBytes, Array(key.secret.utf8)) {
            match = match ?? key
        }
        return match
    }

    static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        // Any difference in length counts in full (folding the lengths' difference into a
        // byte would let a key followed by 256 NUL bytes pass).
        var difference: UInt8 = lhs.count == rhs.count ? 0 : 1
        for index in 0..<max(lhs.count, rhs.count) {
            let left = index < lhs.count ? lhs[index] : 0
            let right = index < rhs.count ? rhs[index] : 0
            difference |= left ^ right
        }
        return difference == 0
    }
}
