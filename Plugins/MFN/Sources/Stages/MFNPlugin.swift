import HyphaeCore

/// The MFN stage module: the `simulation` and `feature_generator` sources.
public enum MFNPlugin: StagePlugin {
    public static func register(in registry: inout StageRegistry) {
        registry.register(SimulationSource.self)
        registry.register(FeatureGeneratorSource.self)
    }
}
