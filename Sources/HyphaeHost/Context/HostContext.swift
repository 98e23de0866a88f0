import HyphaeCore
import Logging
import NIOCore
import Synchronization

/// What every connection of a running host shares: its settings, the loaded
/// pipelines, auth, the running instances and the metrics.
public final class HostContext: Sendable {
    public let configuration: HostConfiguration
    public let metrics: HostMetrics
    let authenticator: Authenticator
    let instances: InstanceManager
    let connections: ConnectionCounts
    let queuedBytes: QueuedBytesBudget
    let heartbeats: HeartbeatSchedule
    let logger: Logger
    let registry: StageRegistry
    private let catalog: Mutex<PipelineCatalog>
    private let shuttingDown = Atomic<Bool>(false)
    private let draining = Atomic<Bool>(false)
    private let openChannels = Mutex<[ObjectIdentifier: Channel]>([:])

    public init(configuration: HostConfiguration, catalog: PipelineCatalog, registry: StageRegistry, logger: Logger) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.catalog = Mutex(catalog)
        metrics = HostMetrics()
        authenticator = Authenticator(configuration: configuration)
        instances = InstanceManager(metrics: metrics, logger: logger, limits: configuration.limits)
        connections = ConnectionCounts(limits: configuration.limits)
        queuedBytes = QueuedBytesBudget(limit: configuration.limits.maxQueuedBytes, counting: metrics.queuedBytes)
        heartbeats = HeartbeatSchedule(period: configuration.heartbeatCheckPeriod)
    }

    public var pipelines: [PipelineDefinition] {
        catalog.withLock { $0.pipelines }
    }

    public var currentCatalog: PipelineCatalog {
        catalog.withLock { $0 }
    }

    /// Replaces the loaded pipelines (hot reload).
    public func replaceCatalog(_ updated: PipelineCatalog) {
        catalog.withLock { $0 = updated }
    }

    func pipeline(named name: String) -> PipelineDefinition? {
        catalog.withLock { $0[name] }
    }

    /// The pipeline whose WebSocket sink serves `path`.
    func pipeline(servingPath path: String) -> PipelineDefinition? {
        catalog.withLock { $0.pipelines.first { $0.endpointPaths.contains(path) } }
    }

    /// What a WebSocket upgrade to `path` connects to, or nil for a path nothing serves.
    func endpoint(forPath path: String) -> Endpoint? {
        switch path {
        case "/ws": return .anyPipeline
        case "/ws/heartbeat": return .heartbeat
        default: return pipeline(servingPath: path).map { .pipeline($0.name, path: path) }
        }
    }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    /// Whether `/ready` answers 503: the host is about to stop, and load balancers should
    /// send no new clients, though the listener still accepts.
    var isDraining: Bool { draining.load(ordering: .relaxed) || isShuttingDown }

    func beginDraining() {
        draining.store(true, ordering: .relaxed)
    }

    func beginShutdown() -> Bool {
        !shuttingDown.exchange(true, ordering: .relaxed)
    }

    func register(_ channel: Channel) {
        openChannels.withLock { $0[ObjectIdentifier(channel)] = channel }
    }

    func unregister(_ channel: Channel) {
        openChannels.withLock { $0[ObjectIdentifier(channel)] = nil }
    }

    var channels: [Channel] {
        openChannels.withLock { Array($0.values) }
    }
}
