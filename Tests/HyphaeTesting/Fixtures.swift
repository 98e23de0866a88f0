import Foundation
import HyphaeCore

/// Where the package lives, for tests that read its files or run its executable.
public enum PackagePaths {
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        return URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
    }()

    public static var pipelines: URL { root.appendingPathComponent("pipelines") }

    /// The paths of the pipeline files the package ships, as `hyphae validate pipelines` finds them.
    public static var pipelineFiles: [String] { PipelineCatalog.pipelineFiles(in: pipelines.path) }
}

/// A folder that deletes itself, for tests that write pipeline files.
public final class TemporaryFolder {
    public let url: URL

    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("hyphae-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let path = url.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }
}
