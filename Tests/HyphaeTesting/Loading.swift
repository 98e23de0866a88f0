import HyphaeCore
import Logging

/// Loads a pipeline from YAML text, by default against the test stages and an empty environment.
public func loadPipeline(
    yaml: String,
    file: String = "test.yaml",
    environment: [String: String] = [:],
    registry: StageRegistry = TestStagesPlugin.registry()
) -> PipelineFileResult {
    PipelineLoader(registry: registry, environment: environment).load(text: yaml, file: file)
}

/// Loads several files together, so that the checks between files apply.
public func loadCatalog(
    files: [(name: String, yaml: String)],
    environment: [String: String] = [:],
    registry: StageRegistry = TestStagesPlugin.registry()
) -> PipelineCatalog {
    let loader = PipelineLoader(registry: registry, environment: environment)
    return PipelineCatalog(checking: files.map { loader.load(text: $0.yaml, file: $0.name) })
}

/// A context for running stages in a test.
public func testContext(pipeline: String = "test") -> StageContext {
    StageContext(pipeline: pipeline, instance: "test", logger: Logger(label: "hyphae.test"))
}

/// Reads one stage's configuration from the YAML of its mapping (without `type:`),
/// with the given params and environment, and returns it with the problems found.
public func readConfiguration<Configuration: StageConfiguration>(
    _ type: Configuration.Type,
    yaml: String,
    stageType: String = "stage",
    params: [String: JSONValue] = [:],
    environment: [String: String] = [:]
) -> (configuration: Configuration, diagnostics: [Diagnostic]) {
    let node: ConfigNode
    switch YAMLDocument.parse(yaml.isEmpty ? "{}" : yaml, file: "stage.yaml") {
    case .success(let parsed): node = parsed
    case .failure(let problem): return (describingDefaults(type, stageType: stageType), [problem])
    }
    var reader = ConfigReader(
        node: node, stageType: stageType, fieldPrefix: "stage",
        values: ReferenceValues(params: params, environment: environment))
    let configuration = Configuration(reading: &reader)
    reader.finish()
    return (configuration, reader.diagnostics)
}

private func describingDefaults<Configuration: StageConfiguration>(_ type: Configuration.Type, stageType: String) -> Configuration {
    var reader = ConfigReader(describing: stageType)
    return Configuration(reading: &reader)
}
