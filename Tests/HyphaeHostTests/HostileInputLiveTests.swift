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
        let host = try await RunningHost.start(pipelines: TestPipelines.standard, folder: folder) { _ in }
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
}
