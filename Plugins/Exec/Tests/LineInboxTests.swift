import NIOCore
import NIOPosix
import Synchronization
import XCTest

@testable import Exec

/// The inbox between the event loop and the stage, without a program.
final class LineInboxTests: XCTestCase {
    private let loop = MultiThreadedEventLoopGroup.singleton.next()

    private static func line(_ number: Int) -> ProgramLine {
        ProgramLine(number: number, bytes: ByteBuffer(string: "\(number)"))
    }

    func testLinesComeInOrderThenTheEnding() async throws {
        let inbox = LineInbox(capacity: 2, eventLoop: loop)
        inbox.push(Self.line(1))
        inbox.push(Self.line(2))
        inbox.finish(.endOfOutput)
        let first = try await inbox.next()
        let second = try await inbox.next()
        let end = try await inbox.next()
        XCTAssertEqual(first?.number, 1)
        XCTAssertEqual(second?.number, 2)
        XCTAssertNil(end, "the ending comes after every line before it")
    }

    func testAFullInboxStopsReadingUntilALineIsTaken() async throws {
        let inbox = LineInbox(capacity: 2, eventLoop: loop)
        let resumed = ManagedCounter()
        inbox.onRoom { resumed.increment() }
        inbox.push(Self.line(1))
        XCTAssertTrue(inbox.wantsMore())
        inbox.push(Self.line(2))
        XCTAssertFalse(inbox.wantsMore(), "two lines fill it")
        XCTAssertEqual(resumed.value, 0)
        _ = try await inbox.next()
        XCTAssertEqual(resumed.value, 1, "taking a line asks the channel for more")
        _ = try await inbox.next()
        XCTAssertEqual(resumed.value, 1)
    }

    func testADeadlinePassesForAWaiterAndForNobody() async throws {
        let inbox = LineInbox(capacity: 2, eventLoop: loop)
        inbox.arm(.milliseconds(50))
        do {
            _ = try await inbox.next()
            XCTFail("no line came")
        } catch is LineInbox.Timeout {}

        inbox.arm(.milliseconds(10))
        try await Task.sleep(for: .milliseconds(100))
        do {
            _ = try await inbox.next()
            XCTFail("the deadline passed before anyone waited")
        } catch is LineInbox.Timeout {}
    }

    func testALineInTimeDisarmsTheDeadline() async throws {
        let inbox = LineInbox(capacity: 2, eventLoop: loop)
        inbox.arm(.milliseconds(100))
        inbox.push(Self.line(1))
        try await Task.sleep(for: .milliseconds(200))
        let first = try await inbox.next()
        XCTAssertEqual(first?.number, 1)
        loop.scheduleTask(in: .milliseconds(100)) { inbox.push(Self.line(2)) }
        let second = try await inbox.next(within: .milliseconds(2_000))
        XCTAssertEqual(second?.number, 2)
    }

    func testCancellationEndsTheWait() async throws {
        let inbox = LineInbox(capacity: 2, eventLoop: loop)
        let waiting = Task { try await inbox.next() }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        do {
            _ = try await waiting.value
            XCTFail("a cancelled wait ends")
        } catch is CancellationError {}
    }
}

private final class ManagedCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() { count.withLock { $0 += 1 } }
}
