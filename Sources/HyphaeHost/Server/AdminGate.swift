import Foundation
import NIOHTTP1
import Synchronization

/// Who may use the admin API, decided from the request head alone, before any of its
/// body is read: the admin key in `Authorization: Bearer`, compared in constant time,
/// and a lock-out for an address that keeps guessing.
final class AdminGate: Sendable {
    enum Verdict: Equatable, Sendable {
        case allowed
        /// No admin key is configured.
        case off
        case unauthorized
        /// Too many wrong keys from this address lately; try again after the delay.
        case throttled(retryAfterSeconds: Int)
    }

    /// Wrong keys an address may send in a window before it is locked out for one.
    static let failuresAllowed = 20
    static let windowSeconds = 60.0
    /// Addresses remembered at once; past it the oldest records go.
    static let rememberedAddresses = 10_000

    private struct Record {
        var failures: Int
        var windowStart: Double
    }

    private let key: String?
    private let records = Mutex<[String: Record]>([:])

    init(key: String?) {
        self.key = key?.isEmpty == true ? nil : key
    }

    /// `now` in seconds on any monotonic clock; `address` nil when unknown.
    func verdict(for headers: HTTPHeaders, from address: String?, now: Double) -> Verdict {
        guard let key else { return .off }
        let place = address ?? "unknown"
        if let record = records.withLock({ $0[place] }), record.failures >= Self.failuresAllowed,
            now - record.windowStart < Self.windowSeconds
        {
            return .throttled(retryAfterSeconds: max(1, Int((Self.windowSeconds - (now - record.windowStart)).rounded(.up))))
        }
        if let presented = Self.bearerToken(headers), Authenticator.constantTimeEqual(Array(presented.utf8), Array(key.utf8)) {
            return .allowed
        }
        records.withLock { records in
            var record = records[place] ?? Record(failures: 0, windowStart: now)
            if now - record.windowStart >= Self.windowSeconds { record = Record(failures: 0, windowStart: now) }
            record.failures += 1
            records[place] = record
            if records.count > Self.rememberedAddresses {
                records = records.filter { now - $0.value.windowStart < Self.windowSeconds }
            }
        }
        return .unauthorized
    }

    private static func bearerToken(_ headers: HTTPHeaders) -> String? {
        guard let value = headers.first(name: "Authorization") else { return nil }
        let prefix = "Bearer "
        guard value.hasPrefix(prefix) else { return nil }
        return String(value.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
    }

    /// The answer to a request the gate did not let through.
    static func refusal(_ verdict: Verdict) -> HTTPResponse? {
        switch verdict {
        case .allowed: nil
        case .off: .problem(.notFound, "the admin API is off; start the host with HYPHAE_ADMIN_KEY, --admin-key-file or 'admin_key' in the host config")
        case .unauthorized: .problem(.unauthorized, "send the admin key as 'Authorization: Bearer <key>'")
        case .throttled(let seconds): .problem(.tooManyRequests, "too many wrong admin keys from this address; try again in \(seconds) s")
        }
    }
}
