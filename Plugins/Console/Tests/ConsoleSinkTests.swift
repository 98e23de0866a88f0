@testable import Console
import Foundation
import HyphaeCore
import HyphaeTesting
import XCTest

final class StandardOutputSinkTests: XCTestCase {
    /// Runs frames through a sink that writes into a temporary file, and returns the file's lines.
    private func writtenLines(streamID: String?, frames: [Frame]) async throws -> [String] {
        let folder = try TemporaryFolder()
        let path = try folder.write("out.jsonl", "")
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        var sink = StandardOutputSink(streamID: streamID, output: LineWriter(descriptor: handle.fileDescriptor))
        for frame in frames { try await sink.consume(frame) }
        await sink.finish(.complete)
        try handle.close()
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"), "every line ends with a newline")
        return text.split(separator: "\n").map(String.init)
    }

    func testEachFrameIsOneJSONLine() async throws {
        let frames = [
            Frame(type: "tick", timestamp: 1000, payload: ["count": 1], sequence: 0),
            Frame(type: "tick", timestamp: 1001.5, payload: ["text": "two\nlines"], sequence: 1),
        ]
        let lines = try await writtenLines(streamID: nil, frames: frames)
        XCTAssertEqual(lines, [
            #"{"type":"tick","timestamp":1000.0,"payload":{"sequence":0,"timestamp":1000.0,"count":1}}"#,
            #"{"type":"tick","timestamp":1001.5,"payload":{"sequence":1,"timestamp":1001.5,"text":"two\nlines"}}"#,
        ])
    }

    func testAStreamIDIsWrittenIntoEachFrame() async throws {
        let lines = try await writtenLines(streamID: "s-1", frames: [Frame(type: "tick", timestamp: 5, payload: [:], sequence: 7)])
        XCTAssertEqual(lines, [#"{"type":"tick","stream_id":"s-1","timestamp":5.0,"payload":{"stream_id":"s-1","sequence":7,"timestamp":5.0}}"#])
    }

    func testAWriteThatFailsThrows() {
        XCTAssertThrowsError(try LineWriter(descriptor: -1).writeLine(Array("x".utf8))) { error in
            XCTAssertTrue(String(describing: error).contains("cannot write to file descriptor -1"), "\(error)")
        }
    }

    func testTheConsoleStagesAreRegistered() {
        let registry = StageRegistry(plugins: [ConsolePlugin.self])
        XCTAssertEqual(registry.types(of: .sink), ["log", "stdout"])
        XCTAssertEqual(registry["stdout"]?.fields.map(\.name), ["stream_id"])
        XCTAssertEqual(registry["log"]?.fields.first?.constraint, "one of: trace, debug, info, notice, warning")
        let (_, diagnostics) = readConfiguration(LogSink.Configuration.self, yaml: "level: debgu", stageType: "log")
        XCTAssertEqual(diagnostics.map(\.summary), ["stage.level: expected one of 'trace', 'debug', 'info', 'notice', 'warning', found 'debgu'; did you mean 'debug'?"])
    }
}
