import HyphaeCore
@testable import HyphaeHost
import HyphaePlugins
import HyphaeTesting
import Logging

/// What a connection of a real host shares, for sessions built by hand: the host's
/// registry, the shared fixture pipelines and a given configuration, with no server,
/// no socket and no log output.
enum SeamHost {
    /// The fixture files the seam tests' hosts serve, in name order as a folder reads.
    static let pipelineFiles: [(name: String, yaml: String)] =
        (PipelineFixtures.standard.map { (name: "\($0.key).yaml", yaml: $0.value) }
            + [(name: "counted.yaml", yaml: PipelineFixtures.countedTicker(name: "counted", queueSize: 1000))])
        .sorted { $0.name < $1.name }

    static func context(configure: (inout HostConfiguration) -> Void = { _ in }) throws -> HostContext {
        var configuration = HostConfiguration()
        configure(&configuration)
        let registry = HostStages.registry(adding: BundledPlugins.all)
        let catalog = loadCatalog(files: pipelineFiles, registry: registry)
        guard !catalog.hasErrors else {
            throw HostStartError(description: "the fixture pipelines do not load:\n" + catalog.diagnostics.map(\.description).joined(separator: "\n"))
        }
        let logger = Logger(label: "hyphae.seams") { _ in SwiftLogNoOpLogHandler() }
        return HostContext(configuration: configuration, catalog: catalog, registry: registry, logger: logger)
    }
}
