import Synchronization

/// The open connections, in all, by source address and by API key, against the
/// host's limits. Touched once per connection and once per authentication, never per frame.
final class ConnectionCounts: Sendable {
    enum Refusal: Equatable, Sendable, CustomStringConvertible {
        case hostFull(limit: Int)
        case addressFull(limit: Int)
        case keyFull(limit: Int)

        var description: String {
            switch self {
            case .hostFull(let limit): "the host holds its limit of \(limit) connections; retry later"
            case .addressFull(let limit): "this address holds its limit of \(limit) connections; close some first"
            case .keyFull(let limit): "this key holds its limit of \(limit) connections; close some first"
            }
        }

        /// The limit's name, for logs.
        var reason: String {
            switch self {
            case .hostFull: "max_connections"
            case .addressFull: "max_connections_per_address"
            case .keyFull: "max_connections_per_key"
            }
        }
    }

    private struct State {
        var total = 0
        var byAddress: [String: Int] = [:]
        var byKey: [String: Int] = [:]
    }

    private let state = Mutex(State())
    private let limits: HostLimits

    init(limits: HostLimits) {
        self.limits = limits
    }

    /// Counts a new connection from `address` (nil: loopback or unknown, counted in all
    /// only), or says which limit it would break.
    func admit(address: String?) -> Refusal? {
        state.withLock { state in
            guard state.total < limits.maxConnections else { return .hostFull(limit: limits.maxConnections) }
            if let address {
                let current = state.byAddress[address, default: 0]
                guard current < limits.maxConnectionsPerAddress else { return .addressFull(limit: limits.maxConnectionsPerAddress) }
                state.byAddress[address] = current + 1
            }
            state.total += 1
            return nil
        }
    }

    func release(address: String?) {
        state.withLock { state in
            state.total -= 1
            guard let address, let current = state.byAddress[address] else { return }
            state.byAddress[address] = current > 1 ? current - 1 : nil
        }
    }

    /// Counts an authenticated connection of `key`, or refuses it.
    func admit(key: String) -> Refusal? {
        state.withLock { state in
            let current = state.byKey[key, default: 0]
            guard current < limits.maxConnectionsPerKey else { return .keyFull(limit: limits.maxConnectionsPerKey) }
            state.byKey[key] = current + 1
            return nil
        }
    }

    func release(key: String) {
        state.withLock { state in
            guard let current = state.byKey[key] else { return }
            state.byKey[key] = current > 1 ? current - 1 : nil
        }
    }

    var total: Int { state.withLock { $0.total } }
}
