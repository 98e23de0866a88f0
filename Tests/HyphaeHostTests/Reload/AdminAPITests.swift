import Foundation
import HyphaeClient
import HyphaeCore
import HyphaeHost
import HyphaeTesting
import XCTest

/// The pipeline admin API against a real host: auth, inspection, PUT, DELETE, and
/// the same errors as `hyphae validate`.
final class AdminAPITests: XCTestCase {
    func testAdminAPIIsOffWithoutAnAdminKey() async throws {
        let host = try await ReloadTestHost.start(files: ["alpha.yaml": ReloadPipelines.ticker(name: "alpha")], adminKey: nil, watchFolder: false)
        addTeardownBlock { await host.stop() }
        for key in [nil, "anything"] as [String?] {
            let reply = try await host.request("GET", "/admin/pipelines", key: key)
            XCTAssertEqual(reply.status, 404, reply.body)
            XCTAssertTrue(reply.body.contains("admin API is off"), reply.body)
        }
    }

    func testAdminAPIRefusesRequestsWithoutTheKey() async throws {
        let host = try await ReloadTestHost.start(files: ["alpha.yaml": ReloadPipelines.ticker(name: "alpha")], watchFolder: false)
        addTeardownBlock { await host.stop() }
        for (method, path) in [("GET", "/admin/pipelines"), ("GET", "/admin/pipelines/alpha"), ("POST", "/admin/reload"), ("DELETE", "/admin/pipelines/alpha")] {
            for key in [nil, "wrong-key", ""] as [String?] {
                let reply = try await host.request(method, path, key: key)
                XCTAssertEqual(reply.status, 401, "\(method) \(path) with key \(key ?? "none"): \(reply.body)")
            }
        }
        XCTAssertNotNil(host.contents(of: "alpha.yaml"), "a refused DELETE deletes nothing")
    }

    func testListAndDetailShowDefinitionVersionStatusInstancesAndCounters() async throws {
        let alpha = ReloadPipelines.ticker(name: "alpha")
        let host = try await ReloadTestHost.start(files: ["alpha.yaml": alpha, "beta.yaml": ReloadPipelines.ticker(name: "beta")], watchFolder: false)
        addTeardownBlock { await host.stop() }
        let (client, _) = try await host.subscriber(streamID: "a", pipeline: "alpha")
        var record = SubscriberRecord(streamID: "a")
        try await client.readFrames(3, into: &record)

        let list = try await host.request("GET", "/admin/pipelines")
        XCTAssertEqual(list.status, 200, list.body)
        let pipelines = try list.json["pipelines"]?.arrayValue?.compactMap(\.objectValue) ?? []
        XCTAssertEqual(pipelines.compactMap { $0["name"]?.stringValue }.sorted(), ["alpha", "beta"])
        XCTAssertTrue(pipelines.allSatisfy { $0["definition"] == nil }, "the list leaves the file text out")

        let detail = try await host.adminPipeline("alpha")
        XCTAssertEqual(detail["name"], "alpha")
        XCTAssertEqual(detail["definition"]?.stringValue, alpha)
        XCTAssertEqual(detail["version"]?.stringValue, pipelineVersion(of: alpha))
        XCTAssertEqual(detail["file"]?.stringValue, host.path(of: "alpha.yaml"))
        XCTAssertEqual(detail["paths"], ["/ws/alpha"])
        XCTAssertEqual(detail["status"], "running")
        XCTAssertEqual(detail["last_error"], .null)
        XCTAssertEqual(detail["subscribers"], 1)
        let instances = detail["instances"]?.arrayValue?.compactMap(\.objectValue) ?? []
        XCTAssertEqual(instances.count, 1)
        XCTAssertEqual(instances.first?["subscribers"], 1)
        XCTAssertEqual(instances.first?["version"]?.stringValue, pipelineVersion(of: alpha))
        XCTAssertGreaterThanOrEqual(detail["frames_emitted"]?.numberValue ?? 0, 3)
        XCTAssertGreaterThanOrEqual(detail["frames_sent"]?.numberValue ?? 0, 3)
        XCTAssertEqual(detail["frames_dropped"], 0)

        let unknown = try await host.request("GET", "/admin/pipelines/alpah")
        XCTAssertEqual(unknown.status, 404)
        XCTAssertTrue(unknown.body.contains("alpha"), "the 404 suggests the near name: \(unknown.body)")
    }

    func testPutCreatesThenReplacesAndTheFileSurvivesARestart() async throws {
        let host = try await ReloadTestHost.start(files: ["alpha.yaml": ReloadPipelines.ticker(name: "alpha")])
        addTeardownBlock { await host.stop() }

        let created = ReloadPipelines.ticker(name: "gamma")
        let createReply = try await host.request("PUT", "/admin/pipelines/gamma", body: created)
        XCTAssertEqual(createReply.status, 201, createReply.body)
        XCTAssertEqual(try createReply.json["version"]?.stringValue, pipelineVersion(of: created))
        XCTAssertEqual(host.contents(of: "gamma.yaml"), created, "written into the pipelines folder under the pipeline's name")
        let (client, _) = try await host.subscriber(path: "/ws/gamma", streamID: "g", pipeline: nil)
        var record = SubscriberRecord(streamID: "g")
        try await client.readFrames(3, into: &record)

        let replaced = ReloadPipelines.ticker(name: "gamma", revision: 2, payloadBytes: 4)
        let replaceReply = try await host.request("PUT", "/admin/pipelines/gamma", body: replaced)
        XCTAssertEqual(replaceReply.status, 200, replaceReply.body)
        let reload = try await client.readUntil("stream_reloaded", into: &record)
        XCTAssertEqual(reload.messagePayload["pipeline_version"]?.stringValue, pipelineVersion(of: replaced))
        try await client.readFrames(3, into: &record)
        try record.requireContinuousSequences()
        XCTAssertEqual(record.reloads.count, 1, "the admin reload and the watcher's do not both move the subscriber")
        XCTAssertEqual(host.contents(of: "gamma.yaml"), replaced)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: host.folder.path).sorted()
        XCTAssertEqual(leftovers, ["alpha.yaml", "gamma.yaml"], "the atomic write leaves no temporary file behind")

        // A second host over the same folder serves what the first was told.
        await host.stop(keepingFolder: true)
        let restarted = try await ReloadTestHost.start(folder: host.folder, watchFolder: false)
        addTeardownBlock { await restarted.stop() }
        let detail = try await restarted.adminPipeline("gamma")
        XCTAssertEqual(detail["version"]?.stringValue, pipelineVersion(of: replaced))
    }

    func testPutOfAnInvalidFileAnswers422WithPositionsAndChangesNothing() async throws {
        let alpha = ReloadPipelines.ticker(name: "alpha")
        let host = try await ReloadTestHost.start(files: ["alpha.yaml": alpha])
        addTeardownBlock { await host.stop() }
        let (client, _) = try await host.subscriber(streamID: "a", pipeline: "alpha")
        var record = SubscriberRecord(streamID: "a")
        try await client.readFrames(2, into: &record)
        let reloadsBefore = host.totalReloads

        let reply = try await host.request("PUT", "/admin/pipelines/alpha", body: ReloadPipelines.invalid(name: "alpha"))
        XCTAssertEqual(reply.status, 422, reply.body)
        let errors = try reply.json["errors"]?.arrayValue?.compactMap(\.objectValue) ?? []
        let first = try XCTUnwrap(errors.first, reply.body)
        XCTAssertEqual(first["file"]?.stringValue, host.path(of: "alpha.yaml"))
        XCTAssertEqual(first["line"], 5)
        XCTAssertEqual(first["column"], 9)
        XCTAssertEqual(host.contents(of: "alpha.yaml"), alpha, "the file is not touched")

        let badYAML = try await host.request("PUT", "/admin/pipelines/alpha", body: "name: alpha\nsource: [unclosed\n")
        XCTAssertEqual(badYAML.status, 422, badYAML.body)
        XCTAssertNotNil(try badYAML.json["errors"]?.arrayValue?.first?.objectValue?["line"], badYAML.body)

        try await client.readFrames(4, into: &record)
        XCTAssertEqual(record.notices.map(\.rendered), [])
        try record.requireContinuousSequences()
        XCTAssertEqual(host.totalReloads, reloadsBefore, "nothing was reloaded")
        let detail = try await host.adminPipeline("alpha")
        XCTAssertEqual(detail["version"]?.stringValue, pipelineVersion(of: alpha))
    }

    func testPutThatClashesOrNamesAnotherPipelineIsRefused() async throws {
        let host = try await ReloadTestHost.start(files: [
            "alpha.yaml": ReloadPipelines.ticker(name: "alpha"),
            "beta.yaml": ReloadPipelines.ticker(name: "beta"),
        ], watchFolder: false)
        addTeardownBlock { await host.stop() }

        let clash = try await host.request("PUT", "/admin/pipelines/gamma", body: ReloadPipelines.ticker(name: "gamma", path: "/ws/alpha"))
        XCTAssertEqual(clash.status, 409, clash.body)
        XCTAssertTrue(clash.body.contains("/ws/alpha"), clash.body)
        XCTAssertNil(host.contents(of: "gamma.yaml"))

        let changedPathClash = try await host.request("PUT", "/admin/pipelines/beta", body: ReloadPipelines.ticker(name: "beta", path: "/ws/alpha"))
        XCTAssertEqual(changedPathClash.status, 409, changedPathClash.body)
        XCTAssertEqual(host.contents(of: "beta.yaml"), ReloadPipelines.ticker(name: "beta"))

        let otherName = try await host.request("PUT", "/admin/pipelines/gamma", body: ReloadPipelines.ticker(name: "beta", path: "/ws/other"))
        XCTAssertEqual(otherName.status, 422, otherName.body)
        XCTAssertTrue(otherName.body.contains("beta") && otherName.body.contains("gamma"), otherName.body)
        XCTAssertNil(host.contents(of: "gamma.yaml"))

        let badName = try await host.request("PUT", "/admin/pipelines/no%20spaces", body: ReloadPipelines.ticker(name: "x"))
        XCTAssertEqual(badName.status, 400, badName.body)
        let empty = try await host.request("PUT", "/admin/pipelines/gamma", body: "")
        XCTAssertEqual(empty.status, 400, empty.body)
    }

    func testDeleteEndsSubscriptionsWithPipelineRemoved() async throws {
        let host = try await ReloadTestHost.start(files: [
            "alpha.yaml": ReloadPipelines.ticker(name: "alpha"),
            "beta.yaml": ReloadPipelines.ticker(name: "beta"),
        ])
        addTeardownBlock { await host.stop() }
        let (client, _) = try await host.subscriber(streamID: "a", pipeline: "alpha")
        var record = SubscriberRecord(streamID: "a")
        try await client.readFrames(2, into: &record)

        let reply = try await host.request("DELETE", "/admin/pipelines/alpha")
        XCTAssertEqual(reply.status, 200, reply.body)
        XCTAssertEqual(try reply.json["reload"]?.objectValue?["removed"], ["alpha"])
        let end = try await client.readUntil("stream_end", into: &record)
        XCTAssertEqual(end.messagePayload["reason"], "pipeline_removed")
        XCTAssertNil(host.contents(of: "alpha.yaml"))
        try await client.requireAnswers("after DELETE")
        try await client.subscribeExpectingSuccess("b", to: "beta")

        let gone = try await host.request("GET", "/admin/pipelines/alpha")
        XCTAssertEqual(gone.status, 404, gone.body)
        let again = try await host.request("DELETE", "/admin/pipelines/alpha")
        XCTAssertEqual(again.status, 404, again.body)
        try await host.waitUntilReloadsSettle()
        XCTAssertEqual(record.reloads.count, 0)
    }

    func testValidateCommandAndAdminAPIGiveTheSameErrors() async throws {
        let host = try await ReloadTestHost.start(files: ["alpha.yaml": ReloadPipelines.ticker(name: "alpha")], watchFolder: false)
        addTeardownBlock { await host.stop() }
        let broken = """
            name: broken
            description: two mistakes
            params:
              rate: { type: float, default: 10, min: 0.1, max: 5 }
            source:
              type: ticker
              rate: ${rate}
              bogus_field: 1
            sinks:
              - type: websocket
                path: /ws/broken
                backpressure: drop_sometimes

            """
        let reply = try await host.request("PUT", "/admin/pipelines/broken", body: broken)
        XCTAssertEqual(reply.status, 422, reply.body)
        let adminLines = try reply.json["errors"]?.arrayValue?.compactMap { $0.objectValue?["text"]?.stringValue } ?? []
        XCTAssertGreaterThanOrEqual(adminLines.count, 2, reply.body)

        // The same text at the same path, checked by the command.
        try host.write("broken.yaml", broken)
        let validation = try runHyphae(["validate", host.path(of: "broken.yaml")])
        XCTAssertEqual(validation.status, 1, validation.description)
        let commandLines = validation.errorLines.filter { $0.contains(": error: ") }
        XCTAssertEqual(commandLines, adminLines, validation.description)
    }
}
