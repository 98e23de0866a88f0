import HyphaeCore
import HyphaeTesting
import Sampling
import XCTest

final class SampleTransformTests: XCTestCase {
    private func sampler(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> SampleTransform {
        let (configuration, diagnostics) = readConfiguration(SampleTransform.Configuration.self, yaml: yaml, stageType: "sample")
        XCTAssertEqual(diagnostics, [], file: file, line: line)
        return SampleTransform(configuration: configuration, context: testContext())
    }

    private func frame(_ count: Int, essential: Bool = false) -> Frame {
        Frame(type: "tick", timestamp: 0, payload: ["count": .int(count)], delivery: essential ? .essential : .droppable)
    }

    private func counts(_ frames: [Frame]) -> [JSONValue?] {
        frames.map { $0.payload["count"] }
    }

    func testEveryNthFrameIsKept() {
        var sample = sampler("every: 3")
        var output: [Frame] = []
        for count in 1...10 { sample.process(frame(count), into: &output) }
        sample.finish(into: &output)
        XCTAssertEqual(counts(output), [3, 6, 9])
    }

    func testEveryOneKeepsEverything() {
        var sample = sampler("every: 1")
        var output: [Frame] = []
        for count in 1...4 { sample.process(frame(count), into: &output) }
        XCTAssertEqual(counts(output), [1, 2, 3, 4])
    }

    func testEssentialFramesAlwaysPass() {
        var sample = sampler("every: 3")
        var output: [Frame] = []
        for count in 1...7 { sample.process(frame(count), into: &output) }
        sample.process(frame(8, essential: true), into: &output)
        XCTAssertEqual(counts(output), [3, 6, 8])
        XCTAssertEqual(output.last?.delivery, .essential)
    }

    func testARateLimitKeepsTheLatestAndFlushesItAtTheEnd() {
        // One frame per 1000 s: however slow the machine, only the first frame is on time.
        var sample = sampler("max_per_second: 0.001")
        var output: [Frame] = []
        for count in 1...5 { sample.process(frame(count), into: &output) }
        XCTAssertEqual(counts(output), [1])
        sample.finish(into: &output)
        XCTAssertEqual(counts(output), [1, 5], "the held frame is the latest one")
        sample.finish(into: &output)
        XCTAssertEqual(counts(output), [1, 5], "a flushed frame is not flushed again")
    }

    func testAnEssentialFrameSupersedesTheHeldOne() {
        var sample = sampler("max_per_second: 0.001")
        var output: [Frame] = []
        for count in 1...3 { sample.process(frame(count), into: &output) }
        sample.process(frame(4, essential: true), into: &output)
        sample.finish(into: &output)
        XCTAssertEqual(counts(output), [1, 4], "nothing older than the closing frame comes after it")
    }

    func testEveryOrARateButNotBothNorNeither() {
        func messages(_ yaml: String) -> [String] {
            readConfiguration(SampleTransform.Configuration.self, yaml: yaml, stageType: "sample").diagnostics.map(\.summary)
        }
        XCTAssertEqual(messages("every: 2\nmax_per_second: 5"), ["stage.max_per_second: set either 'every' or 'max_per_second', not both"])
        XCTAssertEqual(messages(""), ["stage: set 'every' (keep every N-th frame) or 'max_per_second' (a rate limit)"])
        XCTAssertEqual(messages("every: 0"), ["stage.every: expected an integer of at least 1, found '0'"])
        XCTAssertEqual(messages("max_per_second: 0"), ["stage.max_per_second: expected a number from 0.001 to 1000000, found '0'"])
        XCTAssertEqual(readConfiguration(SampleTransform.Configuration.self, yaml: "every: 4").configuration.mode, .every(4))
        XCTAssertEqual(readConfiguration(SampleTransform.Configuration.self, yaml: "max_per_second: 2.5").configuration.mode, .maxPerSecond(2.5))
    }
}
