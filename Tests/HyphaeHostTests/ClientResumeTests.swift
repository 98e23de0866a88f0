import HyphaeClient
import HyphaeCore
@testable import HyphaeHost
import HyphaeProtocol
import HyphaeTesting
import NIOCore
import XCTest

/// `ResumingSubscriber` (the Swift client, and `hyphae subscribe`) against real hosts:
/// when its connection is lost it connects again, to the next URL when given several,
/// and resumes with `since` (PROTOCOL.md, Resume).
final class ClientResumeTests: XCTestCase {
    /// What a subscriber received, in order.
    private struct Received {
        var sequences: [Int] = []
        var subscribeReplies: [JSONObject] = []
        var reconnections: [HostEndpoint] = []
    }

    /// Reads until `count` data frames have come after the last reconnection (or the start).
    private func read(_ subscriber: ResumingSubscriber, into received: inout Received, framesAfterLastReconnection count: Int) async throws {
        var sinceReconnection = 0
        while sinceReconnection < count {
            switch try await subscriber.next(timeout: .seconds(10)) {
            case .reconnected(let endpoint, _, _):
                received.reconnections.append(endpoint)
                sinceReconnection = 0
            case .message(let message, _):
                if message.type == "subscribe_success" { received.subscribeReplies.append(message) }
                if message.streamID == subscriber.streamID, let sequence = message.sequence {
                    received.sequences.append(sequence)
                    sinceReconnection += 1
                }
            }
        }
    }

    private func endpoint(_ host: RunningHost, path: String = "/ws") -> HostEndpoint {
        HostEndpoint(host: "127.0.0.1", port: host.port, path: path)
    }

    func testAConnectionTheHostClosesIsResumedWithNoGapAndNoDuplicate() async throws {
        try await withHost { host in
            // Keeps the instance, and its history, while the subscriber is away.
            let keeper = try await host.connect()
            try await keeper.subscribeSucceeding("keep", to: "ticker", params: ["rate": 200])
            let before = Set(host.server.host.channels.map(ObjectIdentifier.init))
            let subscriber = ResumingSubscriber(
                endpoints: [endpoint(host)], streamID: "mine", pipeline: "ticker", params: ["rate": 200],
                policy: ReconnectPolicy(initialDelay: .milliseconds(200), maxAttempts: 5))
            try await subscriber.start()
            var received = Received()
            try await read(subscriber, into: &received, framesAfterLastReconnection: 20)

            // The host side drops the subscriber's connection (the keeper's stays).
            let theirs = host.server.host.channels.filter { !before.contains(ObjectIdentifier($0)) }
            XCTAssertEqual(theirs.count, 1)
            for channel in theirs { try await channel.close() }
            try await read(subscriber, into: &received, framesAfterLastReconnection: 60)

            XCTAssertEqual(received.reconnections.count, 1, "one loss, one reconnection")
            XCTAssertEqual(received.subscribeReplies.count, 2)
            let resumed = try XCTUnwrap(received.subscribeReplies.last)
            XCTAssertEqual(resumed.payload["recovered"], .bool(true), resumed.text)
            XCTAssertEqual(resumed.payload["epoch"], received.subscribeReplies.first?.payload["epoch"])
            let first = try XCTUnwrap(received.sequences.first)
            XCTAssertEqual(received.sequences, Array(first..<(first + received.sequences.count)), "contiguous across the reconnection, no duplicate")
            await subscriber.close()
        }
    }

    /// A connection dropped by a host that stays up: the first attempt goes back to it,
    /// where the history is, and recovers, though another URL was given.
    func testADroppedConnectionGoesBackToItsOwnHostFirstAndRecovers() async throws {
        try await withHost { first in
            try await withHost { second in
                let keeper = try await first.connect()
                try await keeper.subscribeSucceeding("keep", to: "ticker", params: ["rate": 200])
                let before = Set(first.server.host.channels.map(ObjectIdentifier.init))
                let subscriber = ResumingSubscriber(
                    endpoints: [endpoint(first), endpoint(second)], streamID: "mine", pipeline: "ticker", params: ["rate": 200],
                    policy: ReconnectPolicy(initialDelay: .milliseconds(100), maxAttempts: 5))
                try await subscriber.start()
                var received = Received()
                try await read(subscriber, into: &received, framesAfterLastReconnection: 10)
                for channel in first.server.host.channels where !before.contains(ObjectIdentifier(channel)) { try await channel.close() }
                try await read(subscriber, into: &received, framesAfterLastReconnection: 30)

                XCTAssertEqual(received.reconnections, [endpoint(first)], "back to the host that holds the history")
                let resumed = try XCTUnwrap(received.subscribeReplies.last)
                XCTAssertEqual(resumed.payload["recovered"], .bool(true), resumed.text)
                let start = try XCTUnwrap(received.sequences.first)
                XCTAssertEqual(received.sequences, Array(start..<(start + received.sequences.count)), "no gap, no duplicate")
                await subscriber.close()
            }
        }
    }

    func testWhenAHostShutsDownTheSubscriberMovesToTheNextURL() async throws {
        try await withHost { second in
            let folder = try TemporaryFolder()
            let first = try await RunningHost.start(pipelines: PipelineFixtures.standard, folder: folder) { _ in }
            do {
                try await readAcrossAShutdown(of: first, to: second)
            } catch {
                await first.stop()
                throw error
            }
            withExtendedLifetime(folder) {}
        }
    }

    private func readAcrossAShutdown(of first: RunningHost, to second: RunningHost) async throws {
        let subscriber = ResumingSubscriber(
            endpoints: [endpoint(first, path: "/ws/ticker"), endpoint(second, path: "/ws/ticker")], streamID: "mine", pipeline: nil,
            params: ["rate": 200], policy: ReconnectPolicy(initialDelay: .milliseconds(50), maxAttempts: 5))
        try await subscriber.start()
        var received = Received()
        try await read(subscriber, into: &received, framesAfterLastReconnection: 10)
        let epochOnFirst = subscriber.epoch
        await first.stop()
        try await read(subscriber, into: &received, framesAfterLastReconnection: 10)

        XCTAssertEqual(received.reconnections, [endpoint(second, path: "/ws/ticker")])
        let resumed = try XCTUnwrap(received.subscribeReplies.last)
        // Another host, another run (no relay between them): it says so, and the stream goes on from there.
        XCTAssertEqual(resumed.payload["recovered"], .bool(false), resumed.text)
        XCTAssertNotEqual(resumed.payload["epoch"]?.stringValue, epochOnFirst)
        let latest = try XCTUnwrap(resumed.int("sequence"))
        XCTAssertEqual(Array(received.sequences.suffix(10)), Array((latest + 1)...(latest + 10)))
        XCTAssertEqual(subscriber.epoch, resumed.payload["epoch"]?.stringValue)
        await subscriber.close()
    }

    func testWithReconnectingOffALostConnectionIsAnError() async throws {
        try await withHost { host in
            let before = Set(host.server.host.channels.map(ObjectIdentifier.init))
            let subscriber = ResumingSubscriber(
                endpoints: [endpoint(host)], streamID: "mine", pipeline: "ticker", params: ["rate": 200], policy: ReconnectPolicy(maxAttempts: 0))
            try await subscriber.start()
            var received = Received()
            try await read(subscriber, into: &received, framesAfterLastReconnection: 3)
            for channel in host.server.host.channels where !before.contains(ObjectIdentifier(channel)) { try await channel.close() }
            do {
                while true { _ = try await subscriber.next(timeout: .seconds(10)) }
            } catch {
                XCTAssertTrue("\(error)".contains("reconnecting is off"), "\(error)")
            }
        }
    }
}
