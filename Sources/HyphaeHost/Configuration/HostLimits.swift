import HyphaeCore

/// The bounds that keep one client, one address or one key from taking the host's
/// memory, connections or CPU from everyone else. Each is a host config key (under
/// `limits:`) and a `hyphae serve` flag; the defaults protect a public host without
/// getting in the way of many clients behind one NAT address, dashboards with a dozen
/// streams, or the bundled benchmarks (10,000 connections from loopback).
public struct HostLimits: Sendable, Equatable {
    /// Open connections, WebSocket or HTTP, in all.
    public var maxConnections = 50_000
    /// Open connections from one source address. Addresses in `trustedAddresses` count
    /// only against `maxConnections`.
    public var maxConnectionsPerAddress = 1_000
    /// Addresses exempt from `maxConnectionsPerAddress`: a local reverse proxy or load
    /// balancer, through which every client has its address, or a benchmark. Loopback
    /// unless set; empty exempts no one.
    public var trustedAddresses = AddressRange.loopback
    /// Authenticated connections per API key.
    public var maxConnectionsPerKey = 1_000
    /// Seconds a new connection has to send a complete HTTP request head.
    public var handshakeTimeout = 10.0
    /// Seconds an HTTP keep-alive connection may wait idle for its next request.
    public var httpIdleTimeout = 60.0
    /// Client messages per second per connection, on average; twice as many may come at once.
    public var maxMessagesPerSecond = 50.0
    /// Bytes the host may hold for one connection that does not read (replies, notices).
    public var maxOutboundBytes = 4 << 20
    /// Bytes all subscription queues together may hold; past it, queues act as full.
    public var maxQueuedBytes = 512 << 20
    /// Pipeline instances running at once, in all.
    public var maxInstances = 1_000
    /// Pipeline instances that subscribers of one API key may have started.
    public var maxInstancesPerKey = 100

    public init() {}

    // The ranges a value may take, shared by the config file and the flags.
    static let connectionRange = 1...10_000_000
    static let timeoutRange = 0.1...86_400.0
    static let messageRateRange = 0.1...1_000_000.0
    static let outboundRange = 65_536...(1 << 34)
    static let queuedRange = (1 << 20)...(1 << 40)
    static let instanceRange = 1...1_000_000

    /// The fields of the host config file's `limits` mapping.
    mutating func read(from config: inout ConfigReader) {
        maxConnections = config.int("max_connections", default: maxConnections, min: Self.connectionRange.lowerBound, max: Self.connectionRange.upperBound, summary: "open connections in all; past it new ones get HTTP 503")
        maxConnectionsPerAddress = config.int("max_connections_per_address", default: maxConnectionsPerAddress, min: Self.connectionRange.lowerBound, max: Self.connectionRange.upperBound, summary: "open connections from one address (trusted_addresses count only in all); past it HTTP 503")
        let trusted = config.stringList("trusted_addresses", default: trustedAddresses.map(\.description), summary: "addresses and CIDR blocks exempt from max_connections_per_address, such as a reverse proxy's (default: loopback; [] exempts no one)")
        var ranges: [AddressRange] = []
        for text in trusted {
            do {
                ranges.append(try AddressRange(parsing: text))
            } catch {
                config.problem("trusted_addresses", error.description)
            }
        }
        trustedAddresses = ranges
        maxConnectionsPerKey = config.int("max_connections_per_key", default: maxConnectionsPerKey, min: Self.connectionRange.lowerBound, max: Self.connectionRange.upperBound, summary: "authenticated connections per API key; past it auth_failed TOO_MANY_CONNECTIONS and close 1008")
        handshakeTimeout = config.double("handshake_timeout", default: handshakeTimeout, min: Self.timeoutRange.lowerBound, max: Self.timeoutRange.upperBound, summary: "seconds a new connection has to send a complete request head")
        httpIdleTimeout = config.double("http_idle_timeout", default: httpIdleTimeout, min: Self.timeoutRange.lowerBound, max: Self.timeoutRange.upperBound, summary: "seconds an idle HTTP keep-alive connection is kept")
        maxMessagesPerSecond = config.double("max_messages_per_second", default: maxMessagesPerSecond, min: Self.messageRateRange.lowerBound, max: Self.messageRateRange.upperBound, summary: "client messages per second per connection (twice as many may come at once); past it close 1008")
        maxOutboundBytes = config.int("max_outbound_bytes", default: maxOutboundBytes, min: Self.outboundRange.lowerBound, max: Self.outboundRange.upperBound, summary: "bytes held for a connection that does not read its replies; past it close 4009")
        maxQueuedBytes = config.int("max_queued_bytes", default: maxQueuedBytes, min: Self.queuedRange.lowerBound, max: Self.queuedRange.upperBound, summary: "bytes all subscription queues may hold together; past it queues act as full")
        maxInstances = config.int("max_instances", default: maxInstances, min: Self.instanceRange.lowerBound, max: Self.instanceRange.upperBound, summary: "pipeline instances running at once; past it subscribe_failed CAPACITY")
        maxInstancesPerKey = config.int("max_instances_per_key", default: maxInstancesPerKey, min: Self.instanceRange.lowerBound, max: Self.instanceRange.upperBound, summary: "instances the subscribers of one key may have started; past it subscribe_failed CAPACITY")
    }

    /// Values out of range, as set by flags (the config file's reader checks its own).
    func problems() -> [String] {
        var problems: [String] = []
        func check<Value: Comparable>(_ name: String, _ value: Value, _ range: ClosedRange<Value>) {
            if !range.contains(value) { problems.append("\(name) is \(value); use \(range.lowerBound) to \(range.upperBound)") }
        }
        check("max-connections", maxConnections, Self.connectionRange)
        check("max-connections-per-address", maxConnectionsPerAddress, Self.connectionRange)
        check("max-connections-per-key", maxConnectionsPerKey, Self.connectionRange)
        check("handshake-timeout", handshakeTimeout, Self.timeoutRange)
        check("http-idle-timeout", httpIdleTimeout, Self.timeoutRange)
        check("max-messages-per-second", maxMessagesPerSecond, Self.messageRateRange)
        check("max-outbound-bytes", maxOutboundBytes, Self.outboundRange)
        check("max-queued-bytes", maxQueuedBytes, Self.queuedRange)
        check("max-instances", maxInstances, Self.instanceRange)
        check("max-instances-per-key", maxInstancesPerKey, Self.instanceRange)
        return problems
    }
}
