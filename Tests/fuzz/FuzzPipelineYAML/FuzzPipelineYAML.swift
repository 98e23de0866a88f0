import Compression
import Console
import FuzzSupport
import HyphaeCore
import MovingAverage
import Sampling
import Ticker

/// The input is a pipeline file, optionally followed by a NUL byte and the params a
/// subscriber sends (a JSON object). It goes through what `hyphae validate` and a
/// subscribe do: PipelineLoader (YAML, the top-level fields, param declarations, `${...}`
/// interpolation, each stage's configuration), then resolveParams and configure.
/// Properties: nothing traps; a file is valid exactly when it has a pipeline and no
/// error; a valid file configures with its defaults
/// (validation reads every stage with them); a default passes its own declaration;
/// params that resolve are canonical (checking them again changes nothing).
@main
enum PipelineYAMLFuzzer: FuzzTarget {
    static func fuzz(_ bytes: [UInt8]) { fuzzPipelineYAML(bytes) }
}

private func fuzzPipelineYAML(_ bytes: [UInt8]) {
    let split = bytes.firstIndex(of: 0) ?? bytes.count
    // The host reads a file as UTF-8 and refuses other text before any parsing.
    guard let text = String(validating: bytes[..<split], as: UTF8.self) else { return }
    let given = split < bytes.count ? (try? JSONParser.parse(Array(bytes[(split + 1)...])))?.objectValue : nil

    let result = loader.load(text: text, file: "pipelines/fuzz.yaml")
    fuzzCheck(result.isValid == (result.pipeline != nil), "a pipeline next to errors: \(result.diagnostics.map(\.summary))")
    guard let pipeline = result.pipeline else {
        fuzzCheck(result.diagnostics.hasErrors, "a file without a pipeline and without an error")
        return
    }
    for declaration in pipeline.params {
        if case .failure(let error) = declaration.check(declaration.defaultValue) {
            fuzzCheck(false, "the default of '\(declaration.name)' fails its own declaration: \(error)")
        }
    }
    if case .failure(let error) = pipeline.configure(with: pipeline.defaultParams) {
        fuzzCheck(false, "a valid pipeline does not configure with its defaults: \(error)")
    }
    guard let given else { return }
    switch pipeline.resolveParams(given) {
    case .success(let resolved):
        for name in resolved.setBySubscriber {
            guard let declaration = pipeline.param(named: name), let value = resolved.values[name] else {
                fuzzCheck(false, "resolved a param '\(name)' that is not declared")
                return
            }
            fuzzCheck(declaration.check(value) == .success(value), "'\(name)': \(value.jsonText) is not canonical")
        }
        _ = pipeline.configure(with: resolved)
    case .failure(let error):
        fuzzCheck(!error.message.isEmpty, "a param error without a message")
    }
}

/// The bundled stage modules that need nothing but HyphaeCore (and the console's logger);
/// an environment for `${env:...}`.
private let loader = PipelineLoader(
    registry: StageRegistry(plugins: [CompressionPlugin.self, ConsolePlugin.self, MovingAveragePlugin.self, SamplingPlugin.self, TickerPlugin.self]),
    environment: ["RATE": "5", "LABEL": "from the environment", "EMPTY": ""]
)
