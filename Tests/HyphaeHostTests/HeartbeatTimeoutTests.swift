import HyphaeClient
import HyphaeCore
import XCTest

/// PROTOCOL.md, heartbeat: a connection without a sign of life for the timeout is
/// closed with 4000; a pong, or any message, keeps it.
final class HeartbeatTimeoutTests: XCTestCase {
    private func withShortHeartbeats(_ body: (RunningHost) async throws -> Void) async throws {
        try await withHost(configure: {
            $0.heartbeatInterval = 0.15
            $0.heartbeatTimeout = 0.6
        }, body)
    }

    func testASilentClientIsClosedWith4000() async throws {
        try await withShortHeartbeats { host in
            let silent = try await host.connect()
            try await silent.subscribeSucceeding("s", to: "ticker")
            let before = try await silent.expectClose(code: 4000)
            XCTAssertTrue(before.contains { $0.type == "heartbeat" }, "heartbeats came before the timeout")
            try await host.waitForPipelineStatus("ticker", what: "the timed-out subscription to end") { $0["subscribers"]?.intValue == 0 }
        }
    }

    func testAClientThatAnswersHeartbeatsStays() async throws {
        try await withShortHeartbeats { host in
            let answering = try await host.connect()
            let silent = try await host.connect()
            var answered = 0
            // Answer heartbeats until the silent one is gone, and then some more:
            // several timeouts' worth in all.
            async let silentClosed: [JSONObject] = silent.expectClose(code: 4000)
            while answered < 12 {
                let message = try await answering.nextMessage(skippingHeartbeats: false)
                XCTAssertEqual(message.type, "heartbeat")
                try await answering.send(type: "pong")
                answered += 1
            }
            _ = try await silentClosed
            try await answering.assertAlive("answering heartbeats for several timeouts")
        }
    }

    func testAnyMessageCountsAsASignOfLife() async throws {
        try await withShortHeartbeats { host in
            let client = try await host.connect()
            var replies = 0
            // Never a pong: only init messages, one per heartbeat.
            while replies < 10 {
                let message = try await client.nextMessage(skippingHeartbeats: false)
                guard message.type == "heartbeat" else { continue }
                try await client.send(type: "init")
                replies += 1
            }
            XCTAssertTrue(client.isActive)
            try await client.assertAlive("init messages as signs of life")
        }
    }

    /// Many connections share each event loop's heartbeat timer: every one of them gets
    /// its heartbeats, and every silent one is closed, while one that answers stays.
    func testEveryOneOfManyConnectionsGetsHeartbeatsAndTimesOut() async throws {
        try await withShortHeartbeats { host in
            var silent: [ProtocolClient] = []
            for _ in 0..<24 { silent.append(try await host.connect()) }
            let answering = try await host.connect()
            try await withThrowingTaskGroup(of: Int.self) { group in
                for client in silent {
                    group.addTask {
                        let before = try await client.expectClose(code: 4000)
                        return before.filter { $0.type == "heartbeat" }.count
                    }
                }
                group.addTask {
                    for _ in 0..<12 {
                        let message = try await answering.nextMessage(skippingHeartbeats: false)
                        XCTAssertEqual(message.type, "heartbeat")
                        try await answering.send(type: "pong")
                    }
                    return -1
                }
                var heartbeatsBeforeClosing: [Int] = []
                for try await count in group where count >= 0 { heartbeatsBeforeClosing.append(count) }
                XCTAssertEqual(heartbeatsBeforeClosing.count, silent.count, "every silent connection closed with 4000")
                XCTAssertTrue(heartbeatsBeforeClosing.allSatisfy { $0 >= 2 }, "each got heartbeats first: \(heartbeatsBeforeClosing)")
            }
            try await answering.assertAlive("answering heartbeats while 24 others time out")
        }
    }
}
