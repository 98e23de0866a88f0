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

    /// Hostile YAML through the admin API and the folder: an alias bomb, a file over the
    /// size cap, a string param whose default reads the environment. Each is refused with
    /// its reason, nothing is published, and a subscriber is served throughout.
    func testHostileYAMLIsRefusedAtLoadWhileTheHostServesOn() async throws {
        let folder = try TemporaryFolder()
        let key = "yaml-admin-key"
        let host = try await RunningHost.start(pipelines: PipelineFixtures.standard, folder: folder) { $0.adminKey = key }
        do {
            let client = try await host.connect("/ws/ticker")
            try await client.subscribeSucceeding("bystander", params: ["rate": 100])
            var bomb = ["name: bomb", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
            for level in 1...12 {
                bomb.append("a\(level): &a\(level) [\(Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", "))]")
            }
            let leak = """
                name: leak
                params:
                  secret: { type: string, default: "${env:HYPHAE_ADMIN_KEY}" }
                source: { type: ticker }
                sinks:
                  - { type: websocket, path: /ws/leak }
                """
            let huge = "name: huge\ndescription: " + String(repeating: "x", count: YAMLDocument.maximumBytes) + "\n"
            for (name, text, reason) in [("bomb", bomb.joined(separator: "\n"), "aliases (*name) are not supported"), ("leak", leak, "cannot read the environment"), ("huge", huge, "at most \(YAMLDocument.maximumBytes)")] {
                let reply = try await HTTPReply.request(host: "127.0.0.1", port: host.port, method: "PUT", path: "/admin/pipelines/\(name)", headers: ["Authorization": "Bearer \(key)"], body: text)
                XCTAssertTrue([413, 422].contains(reply.status), "\(name): \(reply.status) \(reply.body.prefix(300))")
                XCTAssertTrue(reply.status == 413 || reply.body.contains(reason), "\(name): \(reply.body.prefix(300))")
                try folder.write("\(name).yaml", text)
            }
            let report = await host.server.reloader.reload(trigger: "test")
            let problems = report.failures.values.joined().map(\.description).joined(separator: "\n")
            XCTAssertTrue(problems.contains("aliases (*name) are not supported"), problems)
            XCTAssertTrue(problems.contains("at most \(YAMLDocument.maximumBytes)"), problems)
            XCTAssertEqual(report.failures.count, 3, problems)
            let listing = try await host.get("/pipelines")
            XCTAssertEqual(listing.status, 200)
            for name in ["bomb", "leak", "huge"] { XCTAssertFalse(listing.body.contains("\"\(name)\""), listing.body) }
            let frames = try await client.frames("bystander", count: 3)
            XCTAssertEqual(frames.count, 3)
        } catch {
            await host.stop()
            throw error
        }
        await host.stop()
    }
}
