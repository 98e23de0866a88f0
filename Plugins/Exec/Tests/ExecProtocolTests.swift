import HyphaeCore
import NIOCore
import XCTest

@testable import Exec

/// The line protocol and the restart budget, without a program.
final class ExecProtocolTests: XCTestCase {
    private func lines(_ chunks: [String], max: Int = 16, overflow: LineDecoder.Overflow = .refuse) throws -> [ProgramLine] {
        var decoder = LineDecoder(maxLineBytes: max, overflow: overflow)
        var buffer = ByteBuffer()
        var found: [ProgramLine] = []
        for chunk in chunks {
            buffer.writeString(chunk)
            while let line = try decoder.decode(buffer: &buffer) { found.append(line) }
        }
        while let line = try decoder.decodeLast(buffer: &buffer, seenEOF: true) { found.append(line) }
        return found
    }

    private func text(_ line: ProgramLine) -> String {
        String(buffer: line.bytes)
    }

    func testLinesAreSplitAcrossReads() throws {
        let found = try lines(["{\"a\"", ":1}\n{}\r\n", "\n", "last"])
        XCTAssertEqual(found.map(text), ["{\"a\":1}", "{}", "", "last"])
        XCTAssertEqual(found.map(\.number), [1, 2, 3, 4])
        XCTAssertEqual(found.map(\.isTerminated), [true, true, true, false])
    }

    func testALineOverTheLimitIsRefusedBeforeItEnds() throws {
        XCTAssertNoThrow(try lines([String(repeating: "a", count: 16) + "\n"]))
        XCTAssertThrowsError(try lines(["ok\n", String(repeating: "b", count: 10), String(repeating: "b", count: 10)])) { error in
            let violation = error as? ProtocolViolation
            XCTAssertEqual(violation?.lineNumber, 2)
            XCTAssertEqual(violation?.prefix, "'bbbbbbbbbbbbbbbbbbbb'")
            XCTAssertEqual(violation?.problem, "is longer than max_line_bytes (16 bytes); raise max_line_bytes or write smaller frames")
        }
    }

    func testStandardErrorLinesAreCutNotRefused() throws {
        let found = try lines(["short\n", String(repeating: "c", count: 20), String(repeating: "c", count: 20) + "\nafter\n"], overflow: .truncate)
        XCTAssertEqual(found.map(text), ["short", String(repeating: "c", count: 16), "after"])
        XCTAssertEqual(found.map(\.isTruncated), [false, true, false])
    }

    func testAPrefixIsEscapedForTheLog() {
        var buffer = ByteBuffer()
        buffer.writeString("a\tb\u{1B}[31m" + String(repeating: "z", count: 100))
        let prefix = ProtocolViolation.quotedPrefix(of: buffer)
        XCTAssertTrue(prefix.hasPrefix("'a\\u{9}b\\u{1b}[31mzzz"), prefix)
        XCTAssertTrue(prefix.hasSuffix("z…'"), prefix)
    }

    private func reply(_ json: String, number: Int = 7) throws(ProtocolViolation) -> ProgramReply {
        var buffer = ByteBuffer()
        buffer.writeString(json)
        return try ProgramReplyParser.parse(ProgramLine(number: number, bytes: buffer), defaultTimestamp: 42)
    }

    private func problem(_ json: String) -> String? {
        do {
            _ = try reply(json)
            return nil
        } catch {
            return error.problem
        }
    }

    func testRepliesAreFramesOrFrameLists() throws {
        let single = try reply(#"{"type":"t","sequence":3,"timestamp":5.5,"essential":true,"payload":{"x":[1,2]}}"#)
        XCTAssertEqual(single.sequence, 3)
        XCTAssertEqual(single.frames, [Frame(type: "t", timestamp: 5.5, payload: ["x": [1, 2]], delivery: .essential)])
        let bare = try reply(#"{"type":"t"}"#)
        XCTAssertEqual(bare.frames, [Frame(type: "t", timestamp: 42, payload: [:])])
        XCTAssertNil(bare.sequence)
        let list = try reply(#"{"frames":[{"type":"a"},{"type":"b","payload":{"k":"v"}}]}"#)
        XCTAssertEqual(list.frames.map(\.type), ["a", "b"])
        XCTAssertEqual(try reply(#"{"frames":[],"sequence":9.0}"#).frames, [])
        XCTAssertEqual(try reply(#"{"frames":[],"sequence":9.0}"#).sequence, 9)
    }

    func testEveryPartOfAReplyIsChecked() {
        XCTAssertEqual(problem("hello"), "is not JSON (invalid JSON at byte 0: unexpected character 'h')")
        XCTAssertEqual(problem("[1]"), "is an array, not a frame object such as {\"type\": \"tick\", \"payload\": {}} or {\"frames\": [...]}")
        XCTAssertEqual(problem(#"{"payload":{}}"#), "has no 'type' (the frame's message type, e.g. \"tick\"), nor 'frames'")
        XCTAssertEqual(problem(#"{"type":"t","payliad":{}}"#), "has the key 'payliad', which a frame does not take; did you mean 'payload'? (known: type, payload, essential, timestamp, sequence)")
        XCTAssertEqual(problem(#"{"type":""}"#), "has a 'type' that is not a name of 1 to 256 bytes: \"\"")
        XCTAssertEqual(problem(#"{"type":"t","payload":[1]}"#), "has a 'payload' that is an array, not an object")
        XCTAssertEqual(problem(#"{"type":"t","essential":1}"#), "has an 'essential' that is an integer, not true or false")
        XCTAssertEqual(problem(#"{"type":"t","timestamp":-1}"#), "has a 'timestamp' that is not a number of Unix milliseconds: -1")
        XCTAssertEqual(problem(#"{"type":"t","sequence":1.5}"#), "has a 'sequence' that is not a whole number of at least 0: 1.5")
        XCTAssertEqual(problem(#"{"frames":{}}"#), "has 'frames' that is an object, not a list of frame objects")
        XCTAssertEqual(problem(#"{"frames":[{"type":"a"},3]}"#), "has frames[1] that is an integer, not a frame object")
        XCTAssertEqual(problem(#"{"frames":[{"tipe":"a"}]}"#), "has frames[0] that has the key 'tipe', which a frame does not take; did you mean 'type'? (known: type, payload, essential, timestamp, sequence)")
        XCTAssertEqual(problem(#"{"frames":[],"type":"a"}"#), "has the key 'type', which a frame list does not take (known: frames, sequence)")
    }

    func testFramesAreWrittenAsOneLineEach() {
        var encoder = FrameLineEncoder()
        let frame = Frame(type: "tick", timestamp: 1.5, payload: ["count": 3, "note": "a\nb"], delivery: .essential)
        let line = encoder.line(for: frame, sequence: 12, allocator: ByteBufferAllocator())
        XCTAssertEqual(String(buffer: line), #"{"type":"tick","sequence":12,"timestamp":1.5,"essential":true,"payload":{"count":3,"note":"a\nb"}}"# + "\n")
        let plain = encoder.line(for: Frame(type: "t", timestamp: 2, payload: [:]), sequence: 0, allocator: ByteBufferAllocator())
        XCTAssertEqual(String(buffer: plain), #"{"type":"t","sequence":0,"timestamp":2.0,"payload":{}}"# + "\n")
    }

    func testRestartsAreCountedOverTheWindowAndBackedOff() {
        var budget = RestartBudget(maxRestarts: 3, window: .seconds(60), backoff: .milliseconds(100))
        let start = ContinuousClock.now
        XCTAssertEqual(budget.nextRestart(at: start), .milliseconds(100))
        XCTAssertEqual(budget.nextRestart(at: start + .seconds(1)), .milliseconds(200))
        XCTAssertEqual(budget.nextRestart(at: start + .seconds(2)), .milliseconds(400))
        XCTAssertNil(budget.nextRestart(at: start + .seconds(3)), "a fourth restart within the window is refused")
        XCTAssertEqual(budget.nextRestart(at: start + .milliseconds(60_500)), .milliseconds(400), "the first restart has left the window")

        var long = RestartBudget(maxRestarts: 100, window: .seconds(3600), backoff: .seconds(3))
        let delays = (0..<6).compactMap { long.nextRestart(at: start + .seconds($0)) }
        XCTAssertEqual(delays, [.seconds(3), .seconds(6), .seconds(10), .seconds(10), .seconds(10), .seconds(10)], "doubling stops at 10 s")

        var never = RestartBudget(maxRestarts: 0, window: .seconds(60), backoff: .zero)
        XCTAssertNil(never.nextRestart(at: start))
    }
}
