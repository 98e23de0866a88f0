import HyphaeCore
@testable import HyphaeHost
import HyphaeProtocol
import NIOCore
import NIOEmbedded
import XCTest

/// PROTOCOL.md, heartbeat and Limits: the session's timers, run on the embedded loop's
/// clock, so that seconds of protocol time pass in no time at all.
final class SessionTimerTests: XCTestCase {
    /// Heartbeats every second; a connection silent for three is closed. The session
    /// checks every quarter of the shorter period: at 250 ms, 500 ms, 750 ms, ...
    private func shortHeartbeats(_ configuration: inout HostConfiguration) {
        configuration.heartbeatInterval = 1
        configuration.heartbeatTimeout = 3
    }

    func testAHeartbeatIsSentEachInterval() throws {
        try withEmbeddedSession(configure: shortHeartbeats) { session in
            session.loop.advanceTime(by: .milliseconds(999))
            XCTAssertEqual(try session.written(), [], "nothing before the first interval")
            session.loop.advanceTime(by: .milliseconds(1))
            assertMessage(try session.reply(), ["type": "heartbeat"])
            session.loop.advanceTime(by: .seconds(1))
            assertMessage(try session.reply(), ["type": "heartbeat"])
            XCTAssertTrue(session.channel.isActive)
        }
    }

    func testASilentConnectionIsClosedWith4000AtTheTimeout() throws {
        try withEmbeddedSession(configure: shortHeartbeats) { session in
            session.loop.advanceTime(by: .milliseconds(2999))
            XCTAssertEqual(try session.written().compactMap(\.message?.type), ["heartbeat", "heartbeat"])
            XCTAssertTrue(session.channel.isActive)
            session.loop.advanceTime(by: .milliseconds(1))
            XCTAssertEqual(try session.reply(), .close(code: 4000, reason: "heartbeat timeout: no sign of life"))
            XCTAssertFalse(session.channel.isActive)
        }
    }

    func testEachSignOfLifeRestartsTheTimeout() throws {
        try withEmbeddedSession(configure: shortHeartbeats) { session in
            session.loop.advanceTime(by: .milliseconds(2500))
            try session.send(type: "pong")
            session.loop.advanceTime(by: .milliseconds(2500))
            // A WebSocket ping counts as much as a message.
            try session.sendFrame(.ping, [])
            session.loop.advanceTime(by: .milliseconds(2750))
            XCTAssertTrue(session.channel.isActive, "the last sign of life was 2.75 s ago")
            XCTAssertEqual(try session.written().filter { $0.message?.type != "heartbeat" }, [.pong([])])
            session.loop.advanceTime(by: .milliseconds(250))
            XCTAssertEqual(try session.reply(), .close(code: 4000, reason: "heartbeat timeout: no sign of life"))
        }
    }

    // MARK: The auth deadline

    private func authWithinTwoSeconds(_ configuration: inout HostConfiguration) {
        configuration.apiKeys = [APIKey(secret: "seam-secret-2")]
        configuration.authDeadline = 2
    }

    func testNoAuthWithinTheDeadlineClosesWith1008() throws {
        try withEmbeddedSession(configure: authWithinTwoSeconds) { session in
            session.loop.advanceTime(by: .milliseconds(1999))
            XCTAssertTrue(session.channel.isActive)
            session.loop.advanceTime(by: .milliseconds(1))
            XCTAssertEqual(try session.reply(), .close(code: 1008, reason: "authentication deadline passed"))
            XCTAssertFalse(session.channel.isActive)
        }
    }

    func testAuthWithinTheDeadlineKeepsTheConnection() throws {
        try withEmbeddedSession(configure: authWithinTwoSeconds) { session in
            session.loop.advanceTime(by: .milliseconds(1500))
            let payload = AuthSignature.authPayload(apiKey: "seam-secret-2", timestamp: Int64(WallClock.nowMilliseconds()), signed: false)
            try session.send(type: "auth", payload: payload)
            XCTAssertEqual(try session.reply()?.message?.type, "auth_success")
            session.loop.advanceTime(by: .seconds(5))
            XCTAssertTrue(session.channel.isActive)
        }
    }

    /// Where auth is not required there is no deadline at all.
    func testNoDeadlineWhereAuthIsNotRequired() throws {
        try withEmbeddedSession(configure: { $0.authDeadline = 2 }) { session in
            session.loop.advanceTime(by: .seconds(10))
            XCTAssertTrue(session.channel.isActive)
        }
    }
}
