import HyphaeClient
import HyphaeTesting
import XCTest

/// A client that leaves with a TCP reset is a client that left: the host logs and
/// counts its connection like any other that ends without a close frame, not as a
/// server error (no `connection_error` warning, no 1011), and its neighbours carry on.
final class ClientResetTests: XCTestCase {
    func testAResetClientIsClosedQuietlyAndOthersAreServed() async throws {
        let logs = LogRecorder()
        try await withHost(logs: logs) { host in
            let bystander = try await host.connect("/ws/ticker")
            try await bystander.subscribeSucceeding("bystander", params: ["rate": 100])

            let leaving = 5
            for index in 0..<leaving {
                let raw = try await RawWebSocket.connect(port: host.port, path: "/ws/ticker")
                try await raw.write(RawWebSocket.text(#"{"type":"subscribe","payload":{"stream_id":"r\#(index)","params":{"rate":100}}}"#))
                // Frames flow to it before it vanishes, so the host has writes under way.
                _ = try await raw.nextFrame()
                _ = try await raw.nextFrame()
                try await raw.reset()
            }

            // Every one of them ends as a connection closed without a close code.
            var closed: [RecordedLogEntry] = []
            for _ in 0..<1_000 where closed.count < leaving {
                closed = logs.entries(withEvent: "connection_closed")
                if closed.count < leaving { try await Task.sleep(for: .milliseconds(10)) }
            }
            XCTAssertEqual(closed.count, leaving, "\(closed)")
            XCTAssertEqual(closed.filter { $0.metadata["code"] == "none" }.count, leaving, "\(closed)")
            XCTAssertEqual(logs.entries(withEvent: "connection_error").count, 0, "\(logs.entries(withEvent: "connection_error"))")
            let metrics = try await host.get("/metrics").body
            XCTAssertFalse(metrics.contains(#"hyphae_connection_closes_total{code="1011"}"#), metrics)

            let frames = try await bystander.frames("bystander", count: 2)
            XCTAssertEqual(frames.count, 2)
        }
    }
}
