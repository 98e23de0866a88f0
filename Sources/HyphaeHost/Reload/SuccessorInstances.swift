import HyphaeCore
import Synchronization

/// The instances one old instance's subscribers move to, one per params, and the
/// ones the move created (to start once everyone is on board).
final class SuccessorInstances: Sendable {
    private struct State {
        var byParams: [JSONObject: PipelineInstance] = [:]
        var created: [PipelineInstance] = []
    }

    private let definition: PipelineDefinition
    private let manager: InstanceManager
    /// The old instance, whose stream (epoch, recent frames, source state) the successors carry on.
    private let predecessor: PipelineInstance
    private let state = Mutex(State())

    init(definition: PipelineDefinition, manager: InstanceManager, continuing predecessor: PipelineInstance) {
        self.definition = definition
        self.manager = manager
        self.predecessor = predecessor
    }

    var created: [PipelineInstance] { state.withLock { $0.created } }

    /// The successor for a subscriber with these params, counted as one of its subscribers.
    func instance(for configuration: PipelineConfiguration) -> PipelineInstance {
        state.withLock { state in
            let params = configuration.params.values
            let (instance, isNew) = manager.acquireForMove(definition, configuration: configuration, joining: state.byParams[params])
            if isNew {
                // Same stream, numbered on: a subscriber that reconnects resumes across the reload.
                instance.continueStream(of: predecessor)
                state.byParams[params] = instance
                state.created.append(instance)
            }
            return instance
        }
    }
}
