import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaeTesting
import XCTest

/// Hostile pipeline files against a running host: refused with their diagnostics,
/// while the host keeps serving its clients and its HTTP endpoints.
final class HostileInputLiveTests: XCTestCase {
    /// A pipeline whose int param had `max: 1e300` used to pass validation and make the
    /// next `GET /pipelines` trap; now the file is refused and the host serves on.
    func testAnIntBoundOfOneE300IsRefusedAndPipelinesStillAnswers() async throws {
        let folder = try TemporaryFolder()
        let host = try await RunningHost.start(pipelines: PipelineFixtures.standard, folder: folder) { _ in }
        do {
            let client = try await host.connect("/ws/ticker")
            try await client.subscribeSucceeding("bystander", params: ["rate": 100])
            try folder.write("huge.yaml", """
                name: huge
                params:
                  size: { type: int, default: 1, max: 1e300 }
                source:
                  type: ticker
                  count: ${size}
                sinks:
                  - type: websocket
                    path: /ws/huge
                """)
            let report = await host.server.reloader.reload(trigger: "test")
            let problems = report.failures.values.flatMap { $0 }.map(\.description)
            XCTAssertTrue(problems.contains { $0.contains("params.size.max") && $0.contains("±9007199254740992") }, "\(problems)")
            let listing = try await host.get("/pipelines")
            XCTAssertEqual(listing.status, 200, listing.body)
            XCTAssertFalse(listing.body.contains("\"huge\""), listing.body)
            let frames = try await client.frames("bystander", count: 2)
            XCTAssertEqual(frames.count, 2)
        } catch {
            await host.stop()
            throw error
        }
        await host.stop()
    }

    /// A stream_id of 128 characters may not be 3 KB: ids are limited in bytes too, and
    /// an unknown id's error does not list the connection's ids.
    func testStreamIDsAreLimitedInBytesAndErrorsDoNotGrowWithThem() async throws {
        try await withHost { host in
            let client = try await host.connect()
            let family = String(repeating: "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}", count: 128)
            XCTAssertEqual(family.count, 128)
            try await client.send(type: "subscribe", payload: ["stream_id": .string(family), "stream_type": "ticker"])
            let refused = try await client.nextReply()
            XCTAssertEqual(refused.type, "subscribe_failed")
            XCTAssertEqual(refused.errorCode, "SUBSCRIBE_ERROR")
            XCTAssertTrue(refused.errorMessage.contains("512 bytes"), refused.errorMessage)

            for index in 0..<3 { try await client.subscribeSucceeding(String(repeating: "\(index)", count: 128), to: "ticker") }
            let reply = try await client.unsubscribe("nope")
            XCTAssertEqual(reply.errorCode, "UNKNOWN_STREAM_ID")
            XCTAssertLessThan(reply.text.utf8.count, 400, reply.text)
            try await client.send(type: "unsubscribe", payload: ["stream_id": .string(String(repeating: "x", count: 10_000))])
            let tooLong = try await client.nextReply()
            XCTAssertEqual(tooLong.errorCode, "INVALID_MESSAGE")
            XCTAssertLessThan(tooLong.text.utf8.count, 400, "the reply does not echo the id: \(tooLong.text.prefix(200))")
            try await client.assertAlive("long stream ids")
        }
    }

    /// A folder that cannot be read (gone, or unlistable when the process is out of file
    /// descriptors) keeps the running pipelines: unknown is not empty.
    func testAnUnreadableFolderKeepsThePipelinesAndTheirStreams() async throws {
        let folder = try TemporaryFolder()
        let host = try await RunningHost.start(pipelines: PipelineFixtures.standard, folder: folder) { _ in }
        do {
            let client = try await host.connect("/ws/ticker")
            try await client.subscribeSucceeding("bystander", params: ["rate": 100])
            let moved = folder.url.path + "-away"
            try FileManager.default.moveItem(atPath: folder.url.path, toPath: moved)
            let report = await host.server.reloader.reload(trigger: "test")
            try FileManager.default.moveItem(atPath: moved, toPath: folder.url.path)
            XCTAssertFalse(report.succeeded)
            XCTAssertEqual(report.removed, [])
            XCTAssertTrue(report.failures.values.joined().contains { $0.description.contains("no such file or folder") }, "\(report.failures)")
            let frames = try await client.frames("bystander", count: 3)
            XCTAssertEqual(frames.count, 3, "the stream goes on")
            let status = try await host.pipelineStatus("ticker")
            XCTAssertEqual(status["name"]?.stringValue, "ticker")
            let again = await host.server.reloader.reload(trigger: "test")
            XCTAssertTrue(again.succeeded, "\(again.failures)")
        } catch {
            await host.stop()
            throw error
        }
        await host.stop()
    }
}
