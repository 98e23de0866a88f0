import HyphaeCore
import Logging
import Synchronization

/// Finds or starts the instance a subscription reads, and stops instances when
/// their last subscriber leaves.
///
/// Subscribers of a shared pipeline with equal params share one instance; a
/// pipeline that runs per subscriber gets a new one each time.
final class InstanceManager: Sendable {
    struct Key: Hashable, Sendable {
        var pipeline: String
        var version: String
        var params: JSONObject
        /// Set for a run of its own, so that no two subscribers share it.
        var exclusiveID: Int?
    }

    /// A running instance, for `/pipelines` and the admin API.
    struct InstanceSummary: Sendable {
        var id: String
        var pipeline: String
        var version: String
        var params: JSONObject
        var subscribers: Int
    }

    private struct Entry {
        var instance: PipelineInstance
        var key: Key
        var subscribers: Int
        var isRunning: Bool
        /// The API key of the subscriber that started it, which it counts against.
        var startedBy: String?
    }

    /// Why no instance could be had for a new subscriber.
    enum Refusal: Error, Equatable, Sendable {
        /// The pipeline runs its `max_instances`.
        case pipelineFull(limit: Int)
        /// The host runs its `max_instances` in all.
        case hostFull(limit: Int)
        /// The subscriber's key has started its `max_instances_per_key`.
        case keyFull(limit: Int)
    }

    private struct State {
        /// By the identity of each instance's fan-out, which is all a subscription knows of it.
        var entries: [ObjectIdentifier: Entry] = [:]
        var shared: [Key: ObjectIdentifier] = [:]
        var nextID = 1
    }

    private let state = Mutex(State())
    private let metrics: HostMetrics
    private let logger: Logger
    private let limits: HostLimits

    init(metrics: HostMetrics, logger: Logger, limits: HostLimits = HostLimits()) {
        self.metrics = metrics
        self.logger = logger
        self.limits = limits
    }

    /// The instance for a new subscriber with API key `key` (nil when anonymous),
    /// counted as one of its subscribers; refused when starting one would pass the
    /// pipeline's, the host's or the key's limit of running instances.
    func acquire(_ definition: PipelineDefinition, configuration: PipelineConfiguration, key: String? = nil) -> Result<PipelineInstance, Refusal> {
        obtain(definition, configuration: configuration, startedBy: key, enforcingCapacity: true).map(\.instance)
    }

    /// The instance a subscriber moves to on a reload: `successor` when the move
    /// already made one for these params, otherwise a new one (`isNew`: the caller
    /// starts it), shared with later subscribers when no other instance serves these
    /// params. Never refused for capacity: the subscriber is already being served.
    func acquireForMove(
        _ definition: PipelineDefinition, configuration: PipelineConfiguration, joining successor: PipelineInstance?
    ) -> (instance: PipelineInstance, isNew: Bool) {
        state.withLock { state in
            if let successor, var entry = state.entries[ObjectIdentifier(successor.fanOut)] {
                entry.subscribers += 1
                state.entries[ObjectIdentifier(successor.fanOut)] = entry
                return (successor, false)
            }
            return (create(definition, configuration: configuration, in: &state), true)
        }
    }

    private func obtain(
        _ definition: PipelineDefinition, configuration: PipelineConfiguration, startedBy key: String?, enforcingCapacity: Bool
    ) -> Result<(instance: PipelineInstance, isNew: Bool), Refusal> {
        state.withLock { state -> Result<(instance: PipelineInstance, isNew: Bool), Refusal> in
            let sharedKey = Key(pipeline: definition.name, version: definition.version, params: configuration.params.values)
            if definition.sharesInstances, let existing = state.shared[sharedKey], var entry = state.entries[existing], entry.isRunning {
                entry.subscribers += 1
                state.entries[existing] = entry
                return .success((entry.instance, false))
            }
            if enforcingCapacity {
                let running = state.entries.values.filter(\.isRunning)
                if let limit = definition.maxInstances, running.count(where: { $0.key.pipeline == definition.name }) >= limit {
                    return .failure(.pipelineFull(limit: limit))
                }
                if running.count >= limits.maxInstances { return .failure(.hostFull(limit: limits.maxInstances)) }
                if let key, running.count(where: { $0.startedBy == key }) >= limits.maxInstancesPerKey {
                    return .failure(.keyFull(limit: limits.maxInstancesPerKey))
                }
            }
            return .success((create(definition, configuration: configuration, startedBy: key, in: &state), true))
        }
    }

    /// Makes an instance with one subscriber and registers it; a sharing one takes the
    /// shared slot for its params unless a running instance holds it.
    private func create(_ definition: PipelineDefinition, configuration: PipelineConfiguration, startedBy starter: String? = nil, in state: inout State) -> PipelineInstance {
        let number = state.nextID
        state.nextID += 1
        var key = Key(pipeline: definition.name, version: definition.version, params: configuration.params.values)
        if !definition.sharesInstances { key.exclusiveID = number }
        let instance = makeInstance(definition, configuration: configuration, number: number)
        let identifier = ObjectIdentifier(instance.fanOut)
        state.entries[identifier] = Entry(instance: instance, key: key, subscribers: 1, isRunning: true, startedBy: starter)
        if definition.sharesInstances, !(state.shared[key].flatMap { state.entries[$0]?.isRunning } ?? false) {
            state.shared[key] = identifier
        }
        return instance
    }

    private func makeInstance(_ definition: PipelineDefinition, configuration: PipelineConfiguration, number: Int) -> PipelineInstance {
        PipelineInstance(
            id: "\(definition.name)#\(number)", configuration: configuration,
            metrics: metrics.pipeline(definition.name), dependencies: metrics.dependencies, logger: logger,
            keepsHistory: definition.sharesInstances
        ) { [weak self] instance in
            self?.ended(instance)
        }
    }

    /// Whether new subscribers may still join `instance`: it has not ended, nor been retired by a reload.
    func isRunning(_ instance: PipelineInstance) -> Bool {
        state.withLock { $0.entries[ObjectIdentifier(instance.fanOut)]?.isRunning ?? false }
    }

    /// The running instances of a pipeline.
    func instances(of pipeline: String) -> [PipelineInstance] {
        state.withLock { state in
            state.entries.values.filter { $0.key.pipeline == pipeline && $0.isRunning }.map(\.instance)
        }
    }

    /// Takes an instance out of service (its pipeline changed or went away): no new
    /// subscriber joins it; it stops when its last subscriber is released.
    func retire(_ instance: PipelineInstance) {
        ended(instance)
    }

    /// One subscriber left; the last one stops the instance.
    func release(_ instance: PipelineInstance) {
        release(feedingFrom: instance.fanOut)
    }

    /// One subscriber of the instance that feeds `fanOut` left; the last one stops it.
    func release(feedingFrom fanOut: FanOut) {
        let stopped = state.withLock { state -> PipelineInstance? in
            let identifier = ObjectIdentifier(fanOut)
            guard var entry = state.entries[identifier] else { return nil }
            entry.subscribers -= 1
            guard entry.subscribers <= 0 else {
                state.entries[identifier] = entry
                return nil
            }
            state.entries[identifier] = nil
            if state.shared[entry.key] == identifier { state.shared[entry.key] = nil }
            return entry.instance
        }
        stopped?.stop()
    }

    /// The run ended by itself: no new subscriber may join it. Its subscribers are
    /// told, and release it as their streams end.
    private func ended(_ instance: PipelineInstance) {
        state.withLock { state in
            let identifier = ObjectIdentifier(instance.fanOut)
            guard var entry = state.entries[identifier] else { return }
            entry.isRunning = false
            state.entries[identifier] = entry
            if state.shared[entry.key] == identifier { state.shared[entry.key] = nil }
        }
    }

    func stopAll() {
        let instances = state.withLock { state -> [PipelineInstance] in
            defer {
                state.entries = [:]
                state.shared = [:]
            }
            return state.entries.values.map(\.instance)
        }
        for instance in instances { instance.stop() }
    }

    func summaries() -> [InstanceSummary] {
        state.withLock { state in
            state.entries.values.filter(\.isRunning).map {
                InstanceSummary(id: $0.instance.id, pipeline: $0.key.pipeline, version: $0.key.version, params: $0.key.params, subscribers: $0.subscribers)
            }.sorted { $0.id < $1.id }
        }
    }
}
