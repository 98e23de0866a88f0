import ArgumentParser
import Foundation
import HyphaeCore

struct Test: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the pipeline tests kept beside the pipelines (NAME.test.yaml), without a server.",
        discussion: """
            NAME.test.yaml holds named cases for the pipeline file NAME.yaml beside it: each feeds \
            frames to the pipeline's transforms, or runs its source for some frames, and says what \
            must come out. Prints PASS or FAIL with each case's name, and for a failure what was \
            expected beside what came out. Exits 0 when every case passes, 1 otherwise; problems \
            in a test file are printed as file:line:column: error: ... See Docs/TESTING_PIPELINES.md.
            """
    )

    @Argument(help: "Test files, pipeline files (their NAME.test.yaml is run) or folders (every *.test.yaml in them).")
    var paths: [String] = ["pipelines"]

    func run() async throws {
        let loader = PipelineLoader(registry: try InstalledPlugins.current.registry())
        var tally = Tally()
        for file in collectTestFiles(into: &tally) {
            guard let suite = readSuite(file, loader: loader) else {
                tally.unrunnable += 1
                continue
            }
            tally.files += 1
            let runner = PipelineTestRunner()
            for testCase in suite.cases {
                let result = await runner.run(testCase, of: suite.pipeline)
                report(result, pipeline: suite.pipeline.name)
                tally.count(result)
            }
        }
        print(tally.summary)
        if !tally.allPassed { throw ExitCode(1) }
    }

    /// The test files the paths name, in order; paths that name none are reported.
    private func collectTestFiles(into tally: inout Tally) -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            let name = URL(fileURLWithPath: path).lastPathComponent
            if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
                unrunnable(into: &tally, "\(path): no such file or folder")
            } else if isDirectory.boolValue {
                let found = PipelineCatalog.pipelineTestFiles(in: path)
                if found.isEmpty { unrunnable(into: &tally, "\(path): no *.test.yaml files in this folder; write a pipeline's tests in NAME.test.yaml beside NAME.yaml") }
                files += found
            } else if PipelineCatalog.isPipelineTestFile(named: name) {
                files.append(path)
            } else if PipelineCatalog.isPipelineFile(named: name) {
                let stem = path.dropLast(name.hasSuffix(".yml") ? 4 : 5)
                if let tests = ["\(stem).test.yaml", "\(stem).test.yml"].first(where: { FileManager.default.fileExists(atPath: $0) }) {
                    files.append(tests)
                } else {
                    unrunnable(into: &tally, "\(path): no tests for this pipeline; write them in \(stem).test.yaml")
                }
            } else {
                unrunnable(into: &tally, "\(path): expected a *.test.yaml file, a pipeline file or a folder")
            }
        }
        return files
    }

    /// The file's cases with the pipeline they test, or nil after printing why not.
    private func readSuite(_ file: String, loader: PipelineLoader) -> PipelineTestSuite? {
        guard let pipelineFile = PipelineCatalog.testedPipelineFile(ofTestFile: file) else {
            let name = URL(fileURLWithPath: file).lastPathComponent
            let stem = name.dropLast(name.hasSuffix(".test.yml") ? ".test.yml".count : ".test.yaml".count)
            problem("\(file): no pipeline file \(stem).yaml beside it; a test file is named after the pipeline file it tests")
            return nil
        }
        let loaded = loader.load(file: pipelineFile)
        guard let pipeline = loaded.pipeline, loaded.isValid else {
            printDiagnostics(loaded.diagnostics)
            problem("\(file): the pipeline \(pipelineFile) is invalid (see above), so its cases did not run")
            return nil
        }
        let read = PipelineTestReader.read(file: file, pipeline: pipeline)
        printDiagnostics(read.diagnostics)
        guard let suite = read.suite else {
            let errors = read.diagnostics.filter(\.isError).count
            problem("\(file): \(errors) error\(errors == 1 ? "" : "s"), so its cases did not run")
            return nil
        }
        return suite
    }

    private func report(_ result: PipelineTestResult, pipeline: String) {
        print("\(result.passed ? "PASS" : "FAIL") \(pipeline): \(result.name)")
        for failure in result.failures {
            print("    \(failure)")
            for line in failure.details { print("      \(line)") }
        }
    }

    private func problem(_ message: String) {
        StandardError.write("error: \(message)")
    }

    private func unrunnable(into tally: inout Tally, _ message: String) {
        problem(message)
        tally.unrunnable += 1
    }
}

/// What `hyphae test` ran, for its closing line and its exit status.
private struct Tally {
    var passed = 0
    var failed = 0
    var files = 0
    /// Paths that named no test file, and test files that could not run.
    var unrunnable = 0

    mutating func count(_ result: PipelineTestResult) {
        if result.passed { passed += 1 } else { failed += 1 }
    }

    var allPassed: Bool { failed == 0 && unrunnable == 0 }

    var summary: String {
        let cases = passed + failed
        var text = "\(cases) case\(cases == 1 ? "" : "s") in \(files) file\(files == 1 ? "" : "s"): \(passed) passed, \(failed) failed"
        if unrunnable > 0 { text += "; \(unrunnable) path\(unrunnable == 1 ? "" : "s") or file\(unrunnable == 1 ? "" : "s") could not run (errors above)" }
        return text
    }
}
