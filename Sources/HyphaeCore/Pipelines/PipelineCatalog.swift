import Foundation

/// The pipelines of a set of files, checked against each other: no two may share a
/// name or a WebSocket path.
public struct PipelineCatalog: Sendable {
    /// Each file's result, in the order the files were read.
    public var files: [PipelineFileResult]
    /// Paths that could not be read at all (a missing folder, a listing that failed, as
    /// when the process is out of file descriptors): what they hold is unknown, which is
    /// not the same as empty.
    public var unreadablePaths: [String] = []

    /// The valid pipelines, by name. A pipeline whose name or path clashes with an
    /// earlier file's is left out (the earlier file keeps it).
    public var pipelines: [PipelineDefinition] {
        files.compactMap { $0.isValid ? $0.pipeline : nil }
    }

    public var diagnostics: [Diagnostic] {
        files.flatMap(\.diagnostics)
    }

    public var hasErrors: Bool { diagnostics.hasErrors }

    public subscript(name: String) -> PipelineDefinition? {
        pipelines.first { $0.name == name }
    }

    /// Loads every `*.yaml` and `*.yml` file in the given files and folders (folders
    /// are not searched recursively), in name order.
    public static func load(paths: [String], loader: PipelineLoader) -> PipelineCatalog {
        var results: [PipelineFileResult] = []
        var unreadable: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                unreadable.append(path)
                results.append(PipelineFileResult(file: path, pipeline: nil, diagnostics: [
                    .error(at: nil, field: nil, "\(path): no such file or folder")
                ]))
                continue
            }
            if isDirectory.boolValue {
                let files: [String]
                do {
                    files = try listPipelineFiles(in: path)
                } catch {
                    unreadable.append(path)
                    results.append(PipelineFileResult(file: path, pipeline: nil, diagnostics: [
                        .error(at: nil, field: nil, "\(path): cannot list the folder (\(error.localizedDescription)); check its permissions and the open-files limit")
                    ]))
                    continue
                }
                if files.isEmpty {
                    results.append(PipelineFileResult(file: path, pipeline: nil, diagnostics: [
                        .warning(at: nil, field: nil, "\(path): no *.yaml or *.yml files in this folder")
                    ]))
                }
                results += files.map { loader.load(file: $0) }
            } else {
                results.append(loader.load(file: path))
            }
        }
        var catalog = PipelineCatalog(checking: results)
        catalog.unreadablePaths = unreadable
        return catalog
    }

    /// Whether a folder entry called `name` is a pipeline file: `*.yaml` or `*.yml`,
    /// and not hidden, so that an editor's `.name.yaml.swp` or a half-copied
    /// `.name.yaml` is never loaded. The pipeline tests beside the pipelines
    /// (`*.test.yaml`) are not pipelines: neither served nor watched for reloads.
    public static func isPipelineFile(named name: String) -> Bool {
        (name.hasSuffix(".yaml") || name.hasSuffix(".yml")) && !name.hasPrefix(".") && !isPipelineTestFile(named: name)
    }

    /// Whether a folder entry called `name` holds pipeline tests: `*.test.yaml` or
    /// `*.test.yml`, not hidden, with a name before the suffix.
    public static func isPipelineTestFile(named name: String) -> Bool {
        testedPipelineStem(ofTestFile: name) != nil
    }

    /// `ticker` for `ticker.test.yaml`; nil for a name that is no pipeline test file.
    static func testedPipelineStem(ofTestFile name: String) -> Substring? {
        guard !name.hasPrefix(".") else { return nil }
        for suffix in [".test.yaml", ".test.yml"] where name.hasSuffix(suffix) && name.count > suffix.count {
            return name.dropLast(suffix.count)
        }
        return nil
    }

    /// The pipeline file that the tests in `testFile` test: the file beside it with
    /// the same name before `.test.yaml`, ending in `.yaml` or, failing that, `.yml`.
    /// Nil when `testFile` is no test file or there is no such pipeline file.
    public static func testedPipelineFile(ofTestFile testFile: String) -> String? {
        let url = URL(fileURLWithPath: testFile)
        guard let stem = testedPipelineStem(ofTestFile: url.lastPathComponent) else { return nil }
        let folder = String(testFile.dropLast(url.lastPathComponent.count))
        return [".yaml", ".yml"].map { folder + stem + $0 }.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The pipeline test files directly inside a folder, in name order.
    public static func pipelineTestFiles(in directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names
            .filter(isPipelineTestFile(named:))
            .sorted()
            .map { directory.hasSuffix("/") ? directory + $0 : directory + "/" + $0 }
    }

    /// The pipeline files directly inside a folder, in name order; none when it cannot be listed.
    public static func pipelineFiles(in directory: String) -> [String] {
        (try? listPipelineFiles(in: directory)) ?? []
    }

    /// The pipeline files directly inside a folder, in name order, or why it cannot be listed.
    public static func listPipelineFiles(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter(isPipelineFile(named:))
            .sorted()
            .map { directory.hasSuffix("/") ? directory + $0 : directory + "/" + $0 }
    }

    /// Adds the checks between files to each file's own.
    public init(checking results: [PipelineFileResult]) {
        var files = results
        var nameOwners: [String: String] = [:]
        var pathOwners: [String: String] = [:]
        for index in files.indices {
            guard files[index].isValid, let pipeline = files[index].pipeline else { continue }
            var clashes: [Diagnostic] = []
            if let owner = nameOwners[pipeline.name] {
                clashes.append(.error(at: pipeline.nameLocation, field: "name", "a pipeline named '\(pipeline.name)' is already defined in \(owner); pipeline names must be unique"))
            }
            for sink in pipeline.sinks {
                guard let path = (sink.defaultConfiguration as? any EndpointConfiguration)?.endpointPath else { continue }
                if let owner = pathOwners[path] {
                    let location = sink.node["path"]?.value.location ?? sink.node.location
                    clashes.append(.error(at: location, field: "\(sink.fieldPath).path", "the path '\(path)' is already served by \(owner); give this sink another path"))
                }
            }
            if clashes.isEmpty {
                nameOwners[pipeline.name] = "'\(pipeline.name)' (\(pipeline.file))"
                for path in pipeline.endpointPaths { pathOwners[path] = "pipeline '\(pipeline.name)' (\(pipeline.file))" }
            } else {
                files[index].diagnostics = (files[index].diagnostics + clashes).sortedByLocation()
                files[index].pipeline = nil
            }
        }
        self.files = files
    }
}
