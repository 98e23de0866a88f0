import HyphaeCore
@testable import HyphaeHost
import HyphaeProtocol
import NIOCore
import NIOEmbedded
import XCTest

/// PROTOCOL.md, heartbeat and Limits: the session's timers, run on the embedded loop's
/// clock, so that seconds of protocol time pass in no time at all.
final class SessionTimerTests: XCTestCase {
    /// Heartbeats every second; a connection silent for three is closed. The loop's
    /// heartbeats check every quarter of the shorter period: for a session alone on its
    /// loop, at 250 ms, 500 ms, 750 ms, ... after it opened.
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

    private static let heartbeatTimeout = ServerFrame.close(code: 4000, reason: "heartbeat timeout: no sign of life")

    func testASilentConnectionIsClosedWith4000AtTheTimeout() throws {
        try withEmbeddedSession(configure: shortHeartbeats) { session in
            let before = try framesBeforeClosing(session, in: .seconds(3), with: Self.heartbeatTimeout)
            XCTAssertEqual(before.map(\.label), ["heartbeat", "heartbeat"])
        }
    }

    func testEachSignOfLifeRestartsTheTimeout() throws {
        try withEmbeddedSession(configure: shortHeartbeats) { session in
            session.loop.advanceTime(by: .milliseconds(2500))
            try session.send(type: "pong")
            session.loop.advanceTime(by: .milliseconds(2500))
            // A WebSocket ping counts as much as a message.
            try session.sendFrame(.ping, [])
            let before = try framesBeforeClosing(session, in: .seconds(3), with: Self.heartbeatTimeout)
            XCTAssertEqual(before.filter { $0.message?.type != "heartbeat" }, [.pong([])])
        }
    }

    // MARK: The auth deadline

    private func authWithinTwoSeconds(_ configuration: inout HostConfiguration) {
        configuration.apiKeys = [APIKey(secret: "seam-secret-2")]
        configuration.authDeadline = 2
    }

    func testNoAuthWithinTheDeadlineClosesWith1008() throws {
        try withEmbeddedSession(configure: authWithinTwoSeconds) { session in
            let before = try framesBeforeClosing(session, in: .seconds(2), with: .close(code: 1008, reason: "authentication deadline passed"))
            XCTAssertEqual(before, [])
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

    /// Runs the loop to 1 ms short of `deadline` from now, when the connection must be
    /// open, then to `deadline`, when it must have sent `close` and closed. Returns what
    /// the session wrote before.
    // MARK: Leaving the loop's heartbeats

    func testASessionClosedAtTheTimeoutLeavesItsLoopsHeartbeats() throws {
        try withEmbeddedSession(configure: shortHeartbeats) { session in
            let heartbeats = session.host.heartbeats.loop(session.loop)
            XCTAssertEqual(heartbeats.count, 1)
            _ = try framesBeforeClosing(session, in: .seconds(3), with: Self.heartbeatTimeout)
            XCTAssertEqual(heartbeats.count, 0)
            XCTAssertFalse(heartbeats.isTicking, "no timer once the loop has no sessions")
        }
    }

    func testASessionWhosePeerLeftLeavesItsLoopsHeartbeats() throws {
        let session = try EmbeddedSession(configure: shortHeartbeats)
        let heartbeats = session.host.heartbeats.loop(session.loop)
        XCTAssertEqual(heartbeats.count, 1)
        try session.finish()
        XCTAssertEqual(heartbeats.count, 0)
        XCTAssertFalse(heartbeats.isTicking)
    }

    private func framesBeforeClosing(
        _ session: EmbeddedSession, in deadline: TimeAmount, with close: ServerFrame, file: StaticString = #filePath, line: UInt = #line
    ) throws -> [ServerFrame] {
        session.loop.advanceTime(by: deadline - .milliseconds(1))
        XCTAssertTrue(session.channel.isActive, "open 1 ms before the deadline", file: file, line: line)
        let before = try session.written()
        session.loop.advanceTime(by: .milliseconds(1))
        XCTAssertEqual(try session.written(), [close], file: file, line: line)
        XCTAssertFalse(session.channel.isActive, "closed at the deadline", file: file, line: line)
        return before
    }
}
