import HyphaeCore
import HyphaeTesting
import Ticker
import XCTest

final class TickerSourceTests: XCTestCase {
    private func configuration(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) -> TickerSource.Configuration {
        let (configuration, diagnostics) = readConfiguration(TickerSource.Configuration.self, yaml: yaml, stageType: "ticker")
        XCTAssertEqual(diagnostics, [], file: file, line: line)
        return configuration
    }

    private func frames(_ yaml: String, upTo limit: Int = 1000) async throws -> [Frame] {
        var ticker = TickerSource(configuration: configuration(yaml), context: testContext())
        var frames: [Frame] = []
        while frames.count < limit, let frame = try await ticker.next() {
            frames.append(frame)
        }
        return frames
    }

    func testTheDefaults() {
        let defaults = configuration("")
        XCTAssertEqual(defaults.rate, 10)
        XCTAssertNil(defaults.count)
        XCTAssertEqual(defaults.messageType, "tick")
        XCTAssertEqual(defaults.payloadBytes, 0)
        XCTAssertFalse(TickerSource.isFinite(defaults))
    }

    func testACountedTickerEmitsThatManyFramesThenEnds() async throws {
        var ticker = TickerSource(configuration: configuration("rate: 0\ncount: 5"), context: testContext())
        var frames: [Frame] = []
        while let frame = try await ticker.next() { frames.append(frame) }
        XCTAssertEqual(frames.map { $0.payload["count"] }, [1, 2, 3, 4, 5])
        XCTAssertEqual(frames.map(\.type), Array(repeating: "tick", count: 5))
        XCTAssertEqual(frames.map(\.delivery), [.droppable, .droppable, .droppable, .droppable, .essential], "the last frame of a finite stream is essential")
        let afterTheEnd = try await ticker.next()
        XCTAssertNil(afterTheEnd, "an ended ticker stays ended")
        XCTAssertTrue(TickerSource.isFinite(configuration("count: 5")))
    }

    func testAPacedTickerFinishes() async throws {
        let frames = try await frames("rate: 1000\ncount: 3")
        XCTAssertEqual(frames.map { $0.payload["count"] }, [1, 2, 3])
    }

    func testAnEndlessTickerKeepsGoing() async throws {
        let frames = try await frames("rate: 0", upTo: 300)
        XCTAssertEqual(frames.count, 300)
        XCTAssertEqual(frames.last?.payload["count"], 300)
        XCTAssertTrue(frames.allSatisfy { !$0.isEssential })
    }

    func testPayloadBytesAndMessageType() async throws {
        let padded = try await frames("rate: 0\ncount: 1\npayload_bytes: 16\nmessage_type: pulse")
        XCTAssertEqual(padded.first?.type, "pulse")
        XCTAssertEqual(padded.first?.payload["data"], .string(String(repeating: "x", count: 16)))
        XCTAssertEqual(padded.first?.payload.keys, ["count", "data"])
        let plain = try await frames("rate: 0\ncount: 1")
        XCTAssertEqual(plain.first?.payload.keys, ["count"])
    }

    func testBadSettings() {
        func messages(_ yaml: String) -> [String] {
            readConfiguration(TickerSource.Configuration.self, yaml: yaml, stageType: "ticker").diagnostics.map(\.summary)
        }
        XCTAssertEqual(messages("rate: -1"), ["stage.rate: expected a number from 0 to 1000000, found '-1'"])
        XCTAssertEqual(messages("count: 0"), ["stage.count: expected an integer of at least 1, found '0'"])
        XCTAssertEqual(messages("message_type: \"\""), ["stage.message_type: expected a non-empty message type"])
        XCTAssertEqual(messages("payload_bytes: 16777217"), ["stage.payload_bytes: expected an integer from 0 to 16777216, found '16777217'"])
        XCTAssertEqual(messages("rates: 5"), ["stage.rates: unknown field 'rates' in stage 'ticker'; did you mean 'rate'?"])
    }

    func testItIsRegisteredAsASource() {
        let registry = StageRegistry(plugins: [TickerPlugin.self])
        XCTAssertEqual(registry["ticker"]?.kind, .source)
        XCTAssertEqual(registry["ticker"]?.fields.map(\.name), ["rate", "count", "message_type", "payload_bytes"])
    }
}
