import Foundation
import HyphaeTesting
import XCTest

/// Keeps the dependencies one-way (Docs/ARCHITECTURE.md, Layers). Between modules
/// the compiler mostly does, but SwiftPM on Linux lets a module import what its
/// dependencies depend on, so the imports are checked too. Inside `HyphaeHost`, each
/// folder is a layer: a file may use the types of its own folder and of the layers
/// below, never those of a higher layer or of another folder on its own level.
final class LayeringTests: XCTestCase {
    /// The host's folders, lowest layer first; folders on one line share a level.
    static let hostLayers: [[String]] = [
        ["Configuration", "Observability"],
        ["Wire", "Auth"],
        ["Delivery"],
        ["Instances"],
        ["Context"],
        ["Session", "Reload"],
        ["Server"],
    ]

    private var sources: URL { PackagePaths.root.appendingPathComponent("Sources") }

    func testEveryHostFolderHasALayer() throws {
        let folders = try subfolders(of: sources.appendingPathComponent("HyphaeHost"))
        let placed = Set(Self.hostLayers.joined())
        XCTAssertEqual(Set(folders).subtracting(placed), [], "place each new folder of Sources/HyphaeHost in LayeringTests.hostLayers and Docs/ARCHITECTURE.md")
        XCTAssertEqual(placed.subtracting(folders), [], "LayeringTests.hostLayers names folders that no longer exist")
    }

    func testNoHostLayerUsesAHigherOne() throws {
        let host = sources.appendingPathComponent("HyphaeHost")
        var level: [String: Int] = [:]
        for (index, folders) in Self.hostLayers.enumerated() {
            for folder in folders { level[folder] = index }
        }
        var declaredIn: [String: String] = [:]
        var files: [(folder: String, path: String, identifiers: Set<String>)] = []
        for folder in level.keys {
            for file in try swiftFiles(in: host.appendingPathComponent(folder)) {
                let text = try String(contentsOf: file, encoding: .utf8)
                for name in Self.topLevelTypeNames(in: text) { declaredIn[name] = folder }
                files.append((folder, "\(folder)/\(file.lastPathComponent)", Self.identifiers(in: text)))
            }
        }
        XCTAssertGreaterThan(declaredIn.count, 20, "the scan found too few types to be checking anything")
        var violations: [String] = []
        for file in files {
            guard let own = level[file.folder] else { continue }
            for identifier in file.identifiers.sorted() {
                guard let home = declaredIn[identifier], home != file.folder, let other = level[home] else { continue }
                if other > own {
                    violations.append("\(file.path) uses \(identifier), which \(home)/ declares in a higher layer")
                } else if other == own {
                    violations.append("\(file.path) uses \(identifier) from \(home)/, a folder on its own level")
                }
            }
        }
        XCTAssertEqual(violations, [], "move the type down a layer, or the code up")
    }

    func testModulesImportOnlyWhatTheirLayerAllows() throws {
        let plugins = try subfolders(of: PackagePaths.root.appendingPathComponent("Plugins"))
        let hyphaeModules = try subfolders(of: sources).filter { $0.hasPrefix("Hyphae") }
        // Module → the project's modules it may import.
        var allowed: [String: Set<String>] = [
            "HyphaeCore": [],
            // RFC 6455 alone, so that the frame fuzzer builds it without Crypto or Yams.
            "HyphaeWire": [],
            "HyphaeProtocol": ["HyphaeCore", "HyphaeWire"],
            "HyphaeHost": ["HyphaeCore", "HyphaeWire", "HyphaeProtocol", "HyphaeConsole", "HyphaeSockets"],
            // Sockets accepted and written to past NIO's write path: NIO's types only.
            "HyphaeSockets": [],
            // Files for browsers and the one type that hands them out: it needs nothing.
            "HyphaeConsole": [],
            "HyphaeClient": ["HyphaeCore", "HyphaeWire", "HyphaeProtocol"],
            "HyphaeBench": ["HyphaeCore", "HyphaeWire", "HyphaeProtocol", "HyphaeSockets"],
            "HyphaePlugins": Set(["HyphaeCore"] + plugins),
            // The command line wires everything together; the bench engine times MFN's.
            "HyphaeCommandLine": Set(["HyphaeCore", "HyphaeWire", "HyphaeProtocol", "HyphaeHost", "HyphaeClient", "HyphaeBench", "HyphaePlugins", "MFN", "MFNBenchmark"]),
            // The executable only starts the command line, so that a program of one's
            // own that embeds it (Docs/examples/custom-host) lacks nothing `hyphae` has.
            "hyphae": ["HyphaeCommandLine"],
        ]
        for plugin in plugins { allowed["Plugins/\(plugin)"] = ["HyphaeCore"] }
        let projectModules = Set(hyphaeModules + plugins + ["hyphae", "MFNBenchmark"])
        XCTAssertEqual(Set(hyphaeModules).subtracting(allowed.keys), [], "give each new module its allowed imports here")
        var violations: [String] = []
        for (module, permitted) in allowed {
            let folder = module.hasPrefix("Plugins/")
                ? PackagePaths.root.appendingPathComponent(module).appendingPathComponent("Sources")
                : sources.appendingPathComponent(module)
            for file in try swiftFiles(in: folder) {
                let text = try String(contentsOf: file, encoding: .utf8)
                for imported in Self.imports(in: text) where projectModules.contains(imported) && !permitted.contains(imported) {
                    violations.append("\(module)/\(file.lastPathComponent) imports \(imported)")
                }
            }
        }
        XCTAssertEqual(violations.sorted(), [], "a lower layer must not import a higher one (Docs/ARCHITECTURE.md)")
    }

    /// The frame fuzzer builds HyphaeWire without HyphaeProtocol's Crypto and HyphaeCore's
    /// Yams (Package.swift, fuzz section); an import of either would bring them back.
    func testTheWireModuleNeedsOnlyNIO() throws {
        var imported: Set<String> = []
        for file in try swiftFiles(in: sources.appendingPathComponent("HyphaeWire")) {
            imported.formUnion(Self.imports(in: try String(contentsOf: file, encoding: .utf8)))
        }
        XCTAssertFalse(imported.isEmpty, "the scan found no imports in Sources/HyphaeWire")
        XCTAssertEqual(imported.subtracting(["NIOCore", "NIOWebSocket"]), [], "HyphaeWire must stay buildable for the frame fuzzer with NIO alone")
    }

    /// The scanner itself: a check that finds nothing proves nothing.
    func testTheScannerSeesTypesAndIgnoresCommentsAndStrings() {
        let text = """
            import NIOCore
            /// Uses PipelineInstance in a comment.
            final class FanOut: StageResource {
                struct Nested {}
                let note = "PipelineInstance in a string"
                func use(_ subscription: Subscription) {} // PipelineInstance
            }
            /* a block comment: Server */
            enum OfferOutcome { case written }
            """
        XCTAssertEqual(Self.topLevelTypeNames(in: text), ["FanOut", "OfferOutcome"])
        let identifiers = Self.identifiers(in: text)
        XCTAssertTrue(identifiers.contains("Subscription"))
        XCTAssertFalse(identifiers.contains("PipelineInstance"))
        XCTAssertFalse(identifiers.contains("Server"))
        XCTAssertEqual(Self.imports(in: text), ["NIOCore"])
    }

    // MARK: Scanning Swift text

    static func topLevelTypeNames(in text: String) -> [String] {
        let keywords: Set<Substring> = ["class", "struct", "enum", "protocol", "actor", "typealias"]
        let modifiers: Set<Substring> = ["public", "package", "internal", "fileprivate", "private", "final", "open", "indirect"]
        var names: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) where !(line.first?.isWhitespace ?? true) {
            let words = line.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") })
            var index = 0
            while index < words.count, modifiers.contains(words[index]) { index += 1 }
            if index + 1 < words.count, keywords.contains(words[index]) { names.append(String(words[index + 1])) }
        }
        return names
    }

    /// Every identifier outside comments and string literals.
    static func identifiers(in text: String) -> Set<String> {
        var result: Set<String> = []
        var current = ""
        var characters = Array(stripCommentsAndStrings(text))
        characters.append(" ")
        for character in characters {
            if character.isLetter || character.isNumber || character == "_" {
                current.append(character)
            } else if !current.isEmpty {
                if !(current.first?.isNumber ?? false) { result.insert(current) }
                current = ""
            }
        }
        return result
    }

    static func imports(in text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard let index = words.firstIndex(of: "import"), index + 1 < words.count else { return nil }
            guard words[..<index].allSatisfy({ $0.hasPrefix("@") || ["public", "internal", "package", "private"].contains($0) }) else { return nil }
            return String(words[index + 1])
        }
    }

    private static func stripCommentsAndStrings(_ text: String) -> String {
        var output = ""
        var characters = text.makeIterator()
        var previous: Character?
        var inLineComment = false
        var blockDepth = 0
        var inString = false
        while let character = characters.next() {
            defer { previous = character }
            if inLineComment {
                if character == "\n" { inLineComment = false; output.append("\n") }
                continue
            }
            if blockDepth > 0 {
                if previous == "*", character == "/" { blockDepth -= 1 }
                continue
            }
            if inString {
                if character == "\"", previous != "\\" { inString = false }
                if character == "\n" { output.append("\n") }
                continue
            }
            if previous == "/", character == "/" {
                output.removeLast()
                inLineComment = true
            } else if previous == "/", character == "*" {
                output.removeLast()
                blockDepth = 1
            } else if character == "\"" {
                inString = true
            } else {
                output.append(character)
            }
        }
        return output
    }

    private func subfolders(of url: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).filter { name in
            var isDirectory: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path, isDirectory: &isDirectory) && isDirectory.boolValue
        }.sorted()
    }

    private func swiftFiles(in folder: URL) throws -> [URL] {
        guard let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { return [] }
        return enumerator.compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" }.sorted { $0.path < $1.path }
    }
}
