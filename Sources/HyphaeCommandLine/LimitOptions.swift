import ArgumentParser
import HyphaeHost

/// `hyphae serve`'s flags for the host's limits (Docs/SECURITY.md); each overrides the
/// host config file's key of the same name under `limits:`.
struct LimitOptions: ParsableArguments {
    @Option(help: "Open connections in all (default 50000); past it new ones get HTTP 503.")
    var maxConnections: Int?

    @Option(help: "Open connections from one address, trusted addresses excepted (default 1000).")
    var maxConnectionsPerAddress: Int?

    @Option(name: .customLong("trusted-address"), help: ArgumentHelp("An address or CIDR block exempt from --max-connections-per-address, such as a reverse proxy's; repeat for more (default: loopback, 127.0.0.0/8 and ::1; 'none' exempts no one).", valueName: "cidr"))
    var trustedAddresses: [String] = []

    @Option(help: "Authenticated connections per API key (default 1000).")
    var maxConnectionsPerKey: Int?

    @Option(help: "Seconds a new connection has to send a complete request head (default 10).")
    var handshakeTimeout: Double?

    @Option(help: "Seconds an idle HTTP keep-alive connection is kept (default 60).")
    var httpIdleTimeout: Double?

    @Option(help: "Client messages per second per connection, twice as many at once (default 50).")
    var maxMessagesPerSecond: Double?

    @Option(help: "Bytes held for a connection that does not read (default 4194304); past it close 4009.")
    var maxOutboundBytes: Int?

    @Option(help: "Bytes all subscription queues may hold together (default 536870912).")
    var maxQueuedBytes: Int?

    @Option(help: "Pipeline instances running at once (default 1000).")
    var maxInstances: Int?

    @Option(help: "Pipeline instances the subscribers of one key may start (default 100).")
    var maxInstancesPerKey: Int?

    func validate() throws {
        _ = try trustedAddressRanges()
    }

    /// The `--trusted-address` values, or nil when none is given; `none` alone is the empty list.
    private func trustedAddressRanges() throws -> [AddressRange]? {
        guard !trustedAddresses.isEmpty else { return nil }
        if trustedAddresses == ["none"] { return [] }
        return try trustedAddresses.map { text in
            do {
                return try AddressRange(parsing: text)
            } catch {
                throw ValidationError("--trusted-address: \(error)")
            }
        }
    }

    func apply(to limits: inout HostLimits) {
        if let trusted = try? trustedAddressRanges() { limits.trustedAddresses = trusted }
        if let maxConnections { limits.maxConnections = maxConnections }
        if let maxConnectionsPerAddress { limits.maxConnectionsPerAddress = maxConnectionsPerAddress }
        if let maxConnectionsPerKey { limits.maxConnectionsPerKey = maxConnectionsPerKey }
        if let handshakeTimeout { limits.handshakeTimeout = handshakeTimeout }
        if let httpIdleTimeout { limits.httpIdleTimeout = httpIdleTimeout }
        if let maxMessagesPerSecond { limits.maxMessagesPerSecond = maxMessagesPerSecond }
        if let maxOutboundBytes { limits.maxOutboundBytes = maxOutboundBytes }
        if let maxQueuedBytes { limits.maxQueuedBytes = maxQueuedBytes }
        if let maxInstances { limits.maxInstances = maxInstances }
        if let maxInstancesPerKey { limits.maxInstancesPerKey = maxInstancesPerKey }
    }
}
