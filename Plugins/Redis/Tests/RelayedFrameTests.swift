import HyphaeCore
import HyphaeTesting
import Redis
import XCTest

final class RelayedFrameTests: XCTestCase {
    func testAFrameReadsBackWithItsIdentity() throws {
        var relay = RelayedFrame()
        let frame = Frame(type: "tick", timestamp: 1795804001041.5, payload: ["count": 8, "name": "a\"b"], delivery: .essential, sequence: 7)
        let bytes = relay.encode(frame, epoch: "run-1")
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), #"{"epoch":"run-1","essential":true,"type":"tick","timestamp":1795804001041.5,"payload":{"sequence":7,"timestamp":1795804001041.5,"count":8,"name":"a\"b"}}"#)
        let back = try RelayedFrame.decode(bytes)
        var expected = frame
        expected.epoch = "run-1"
        XCTAssertEqual(back, expected)
        // A relayed frame relayed again keeps its first producer's epoch.
        XCTAssertEqual(try RelayedFrame.decode(relay.encode(back, epoch: "edge")).epoch, "run-1")
    }

    func testWhatIsNotARelayedFrameIsRefused() {
        func message(_ text: String) -> String? {
            do {
                _ = try RelayedFrame.decode(Array(text.utf8))
                return nil
            } catch {
                return error.description
            }
        }
        XCTAssertEqual(message("[]"), "not a JSON object")
        XCTAssertEqual(message(#"{"type":"t","timestamp":1,"payload":{"sequence":1}}"#), "no epoch of 1 to 64 characters A-Z a-z 0-9 . _ : -")
        XCTAssertEqual(message(#"{"epoch":"a b","type":"t","timestamp":1,"payload":{"sequence":1}}"#), "no epoch of 1 to 64 characters A-Z a-z 0-9 . _ : -")
        XCTAssertEqual(message(#"{"epoch":"e","type":"t","timestamp":1,"payload":{"sequence":-1}}"#), "no sequence (a whole number from 0 to 9007199254740991) in the payload")
        XCTAssertEqual(message(#"{"epoch":"e","type":"t","timestamp":1,"payload":{"sequence":1.5}}"#), "no sequence (a whole number from 0 to 9007199254740991) in the payload")
        // Int.max would trap the host's sequence arithmetic; 2^53 is past what a client holds exactly.
        XCTAssertEqual(message(#"{"epoch":"e","type":"t","timestamp":1,"payload":{"sequence":9223372036854775807}}"#), "no sequence (a whole number from 0 to 9007199254740991) in the payload")
        XCTAssertEqual(message(#"{"epoch":"e","type":"t","timestamp":1,"payload":{"sequence":9007199254740992}}"#), "no sequence (a whole number from 0 to 9007199254740991) in the payload")
        XCTAssertNil(message(#"{"epoch":"e","type":"t","timestamp":1,"payload":{"sequence":9007199254740991}}"#))
        XCTAssertEqual(message(#"{"epoch":"e","type":"t","payload":{"sequence":1}}"#), "no timestamp")
        XCTAssertNotNil(message("{"))
    }

    func testSequenceGaps() {
        var gaps = SequenceGaps()
        XCTAssertEqual(gaps.record(epoch: "a", sequence: 10), .first)
        XCTAssertEqual(gaps.record(epoch: "a", sequence: 11), .next)
        XCTAssertEqual(gaps.record(epoch: "a", sequence: 15), .gap(missed: 3))
        XCTAssertEqual(gaps.record(epoch: "a", sequence: 15), .repeated)
        XCTAssertEqual(gaps.record(epoch: "a", sequence: 12), .repeated)
        XCTAssertEqual(gaps.record(epoch: "b", sequence: 0), .newEpoch)
        XCTAssertEqual(gaps.record(epoch: "b", sequence: 1), .next)
        XCTAssertEqual(gaps.missed, 3)
    }

    func testSequenceGapsFollowOnFromAPredecessor() {
        var gaps = SequenceGaps(after: StreamPosition(epoch: "a", sequence: 9))
        XCTAssertEqual(gaps.record(epoch: "a", sequence: 13), .gap(missed: 3), "a reload that skipped 10, 11, 12 counts them")
        var next = SequenceGaps(after: StreamPosition(epoch: "a", sequence: 9))
        XCTAssertEqual(next.record(epoch: "a", sequence: 10), .next)
    }

    func testBackoffDoublesUpToItsCeilingWithJitter() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        var generator = SeededGenerator(seed: 7)
        var ceilings: [Duration] = []
        for _ in 0..<6 {
            let top = backoff.ceiling
            ceilings.append(top)
            let wait = backoff.nextWait(using: &generator)
            XCTAssertGreaterThanOrEqual(wait, top / 2)
            XCTAssertLessThanOrEqual(wait, top)
        }
        XCTAssertEqual(ceilings, [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        backoff.reset()
        XCTAssertEqual(backoff.ceiling, .milliseconds(100))
    }

    func testSettings() {
        func messages<C: StageConfiguration>(_ type: C.Type, _ yaml: String, _ stage: String) -> [String] {
            readConfiguration(type, yaml: yaml, stageType: stage).diagnostics.map(\.summary)
        }
        XCTAssertEqual(messages(RedisSink.Configuration.self, "url: redis://127.0.0.1:6379", "redis"), ["stage: set stream (a Redis stream key), channel (a pub/sub channel), or both"])
        XCTAssertEqual(messages(RedisSink.Configuration.self, "url: http://x\nstream: s", "redis"), ["stage.url: 'http://x' is not a Redis URL; write redis://host:port or rediss://host:port (TLS)"])
        XCTAssertEqual(messages(RedisSource.Configuration.self, "stream: s\nchannel: c", "redis_source"), ["stage.channel: set stream or channel, not both"])
        XCTAssertEqual(messages(RedisSource.Configuration.self, "stream: s\nstart: latest", "redis_source"), ["stage.start: expected $ or an entry id such as 0 or 1700000000000-0, found 'latest'"])
        XCTAssertEqual(messages(RedisSource.Configuration.self, "stream: s\nstart: 1700000000000-3", "redis_source"), [])
    }
}
