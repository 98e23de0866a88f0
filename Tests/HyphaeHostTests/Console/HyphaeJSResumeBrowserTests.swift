import Foundation
import HyphaeCore
import HyphaeTesting
import XCTest

/// hyphae.js resuming on its own (PROTOCOL.md, Resume) in a real headless Chromium,
/// against real `hyphae serve` processes. The page loads hyphae.js from the host and
/// cuts its own connection the way a network does: it closes the socket, and while it
/// is "offline" every new socket the client opens goes to a loopback port nobody listens
/// on, so the attempts fail for real until the test brings it back. A second client in
/// the page (the keeper) holds the shared instance, and with it the history, meanwhile.
/// Every wait is for a condition in the page, with a generous deadline.
final class HyphaeJSResumeBrowserTests: XCTestCase {
    /// Away for 40 frames of a stream that holds 5000: every one is replayed, in order,
    /// once. Away for 40 frames of one that holds 10: `recovered: false`, and `missed`
    /// says how many, which the subscription counts as lost.
    func testHyphaeJSResumesWithEveryFrameAndReportsWhatTheHistoryNoLongerHeld() async throws {
        let pipelines = try Self.pipelines()
        let serve = try await ServeProcess.start(["--pipelines", pipelines.url.path], environment: ["MFN_ENV": "dev"])
        defer { serve.killIfRunning() }
        let socketURL = "ws://127.0.0.1:\(serve.port)/ws"
        let browser = try await Browser.start()
        do {
            try await browser.open("http://127.0.0.1:\(serve.port)/health")

            // Recovered: the history holds everything the client missed.
            try await startResumer(in: browser, name: "long", urls: [socketURL], pipeline: "resumable", keeper: true)
            let long = try await cutAndComeBack(in: browser, name: "long", awayFor: 40)
            let longReply = try XCTUnwrap(long.resubscribed)
            XCTAssertEqual(longReply["recovered"], .bool(true), longReply.jsonText)
            XCTAssertEqual(longReply["missed"], .null, "nothing was missed")
            XCTAssertEqual(longReply["epochChanged"], .bool(false))
            XCTAssertEqual(long.epoch, long.keeperEpoch, "the resumer and the keeper read one instance")
            XCTAssertEqual(long.sequences, Array(long.sequences[0]..<(long.sequences[0] + long.sequences.count)),
                "every sequence once, in order, across the cut: \(long.sequences)")
            let resumedAfter = long.sequences[long.noticeIndex - 1]
            XCTAssertGreaterThanOrEqual(long.hostSequence - resumedAfter, 40, "the host replayed the frames sent while the page was away")
            XCTAssertGreaterThanOrEqual(long.sequences.last ?? 0, long.hostSequence + 20, "live frames followed the replay")
            XCTAssertEqual(long.lostFrames, 0)
            XCTAssertEqual(long.reconnects, 1)
            XCTAssertGreaterThanOrEqual(long.failedAttempts, 1, "attempts failed while the page was offline")
            print("hyphae.js resume, history 5000: \(long.hostSequence - resumedAfter) frames replayed after \(resumedAfter), \(long.sequences.count) frames in all, \(long.failedAttempts) failed attempts while offline, lost \(long.lostFrames)")

            // Not recovered: away longer than a history of 10 frames.
            try await startResumer(in: browser, name: "short", urls: [socketURL], pipeline: "short_history", keeper: true)
            let short = try await cutAndComeBack(in: browser, name: "short", awayFor: 40)
            let shortReply = try XCTUnwrap(short.resubscribed)
            XCTAssertEqual(shortReply["recovered"], .bool(false), shortReply.jsonText)
            XCTAssertEqual(shortReply["epochChanged"], .bool(false), "the same run: the keeper held it")
            let stoppedAt = short.sequences[short.noticeIndex - 1]
            let missed = try XCTUnwrap(shortReply["missed"]?.numberValue.map(Int.init), shortReply.jsonText)
            XCTAssertEqual(missed, short.hostSequence - stoppedAt, "missed: the host's sequence minus the last one received")
            XCTAssertGreaterThanOrEqual(missed, 40)
            XCTAssertEqual(short.lostFrames, missed, "the app sees the missed frames counted as lost")
            let before = Array(short.sequences[..<short.noticeIndex])
            let after = Array(short.sequences[short.noticeIndex...])
            XCTAssertEqual(before, Array(before[0]..<(before[0] + before.count)))
            XCTAssertEqual(after, Array((short.hostSequence + 1)..<(short.hostSequence + 1 + after.count)), "live frames from the host's sequence + 1, nothing replayed")
            print("hyphae.js resume, history 10: recovered false, missed \(missed) (last received \(stoppedAt), host at \(short.hostSequence)), lostFrames \(short.lostFrames)")

            let errors = try await browser.consoleMessages().filter { $0.level == "SEVERE" && !$0.message.contains("WebSocket connection to") && !$0.message.contains("favicon.ico") }
            XCTAssertTrue(errors.isEmpty, "console errors: \(errors)")
        } catch {
            _ = try? await browser.screenshot("failure-resume")
            await browser.quit()
            throw error
        }
        await browser.quit()
    }

    /// Two hosts of the same pipelines, independent (no relay between them). A dropped
    /// connection goes back to the first host, which holds the history, and recovers.
    /// When the first shuts down, the client subscribes on the second; it is another run,
    /// so the resume says `recovered: false` with no count, and the stream goes on from
    /// the second host's sequence. A client whose first URL is down starts on the next one.
    func testHyphaeJSMovesToTheNextURLWhenAHostGoesDown() async throws {
        let pipelines = try Self.pipelines()
        let first = try await ServeProcess.start(["--pipelines", pipelines.url.path], environment: ["MFN_ENV": "dev"])
        defer { first.killIfRunning() }
        let second = try await ServeProcess.start(["--pipelines", pipelines.url.path], environment: ["MFN_ENV": "dev"])
        defer { second.killIfRunning() }
        let urls = ["ws://127.0.0.1:\(first.port)/ws", "ws://127.0.0.1:\(second.port)/ws"]
        let browser = try await Browser.start()
        do {
            // A page with no policy of its own, so that it may open sockets to both hosts
            // (the console's page allows only its own host).
            try await browser.open("http://127.0.0.1:\(first.port)/health")
            try await startResumer(in: browser, name: "failover", urls: urls, pipeline: "resumable", keeper: true)
            try await browser.waitUntil("frames from the first host", "window.resume.failover.sequences.length >= 20", timeout: .seconds(60))
            let epochOnFirst = try await browser.run("return window.resume.failover.subscription.epoch;").stringValue

            // The connection drops (the page closes it) while the first host stays up.
            try await browser.run("for (const socket of window.resume.failover.sockets) if (socket.readyState === WebSocket.OPEN) socket.close();")
            try await browser.waitUntil(
                "the subscription back on the first host, and frames after it",
                "(() => { const s = window.resume.failover; const n = s.notices.find((n) => n.type === 'resubscribed');"
                    + " return n && s.sequences.length > n.index && s.sequences.at(-1) >= n.payload.sequence + 10; })()",
                timeout: .seconds(90), diagnostics: "JSON.stringify(window.resume.failover.notices)")
            let back = try await summary(in: browser, name: "failover")
            let backReply = try XCTUnwrap(back.resubscribed)
            XCTAssertEqual(backReply["url"]?.stringValue, urls[0], "back to the host that holds the history")
            XCTAssertEqual(backReply["recovered"], .bool(true), backReply.jsonText)
            XCTAssertEqual(back.sequences, Array(back.sequences[0]..<(back.sequences[0] + back.sequences.count)), "no gap, no duplicate")

            first.process.terminate()
            _ = try await first.waitForExit(timeout: .seconds(30))
            try await browser.waitUntil(
                "the subscription on the second host, and frames from it",
                "(() => { const s = window.resume.failover; const n = s.notices.filter((n) => n.type === 'resubscribed')[1];"
                    + " return n && s.sequences.length >= n.index + 20; })()",
                timeout: .seconds(90), diagnostics: "JSON.stringify(window.resume.failover.notices)")
            let moved = try await summary(in: browser, name: "failover", resubscription: 1)
            let reply = try XCTUnwrap(moved.resubscribed)
            XCTAssertEqual(reply["url"]?.stringValue, urls[1])
            XCTAssertEqual(reply["recovered"], .bool(false), reply.jsonText)
            XCTAssertEqual(reply["missed"], .null, "another run: the count would mean nothing")
            XCTAssertEqual(reply["epochChanged"], .bool(true))
            XCTAssertNotEqual(moved.epoch, epochOnFirst)
            XCTAssertTrue(moved.notices.contains { $0["type"] == "stream_end" && $0["payload"]?["reason"] == "server_shutdown" && $0["willResume"] == .bool(true) },
                "the first host said it was shutting down: \(moved.notices)")
            let after = Array(moved.sequences[moved.noticeIndex...])
            XCTAssertEqual(after, Array((moved.hostSequence + 1)..<(moved.hostSequence + 1 + after.count)), "the second host's stream, from its sequence + 1")
            XCTAssertEqual(moved.reconnects, 2)
            print("hyphae.js failover: \(moved.noticeIndex) frames from the first host (epoch \(epochOnFirst ?? "?")), then \(after.count) from the second (epoch \(moved.epoch ?? "?")) from sequence \(moved.hostSequence + 1)")

            // The first URL is down from the start: the client connects to the second.
            try await startResumer(in: browser, name: "late", urls: urls, pipeline: "resumable", keeper: false)
            try await browser.waitUntil("frames on the second host", "window.resume.late.sequences.length >= 5", timeout: .seconds(60))
            try await assertEqual(await browser.run("return window.resume.late.subscription.url;").stringValue, urls[1])
            try await assertEqual(await browser.run("return window.resume.late.client.url;").stringValue, urls[1])
        } catch {
            _ = try? await browser.screenshot("failure-failover")
            await browser.quit()
            throw error
        }
        await browser.quit()
    }

    // MARK: The page's side

    /// What a resuming subscription in the page has seen.
    private struct Seen {
        var sequences: [Int]
        var notices: [JSONValue]
        /// How many frames came before the `resubscribed` notice (or all of them).
        var noticeIndex: Int
        var resubscribed: JSONValue?
        /// The `sequence` of the `resubscribed` reply: the host's latest when it answered.
        var hostSequence: Int
        var epoch: String?
        var keeperEpoch: String?
        var lostFrames: Int
        var reconnects: Int
        var failedAttempts: Int
    }

    /// Starts, in the page, a subscription by hyphae.js (and a keeper beside it when asked),
    /// and waits until it is accepted.
    private func startResumer(in browser: Browser, name: String, urls: [String], pipeline: String, keeper: Bool) async throws {
        let deadPort = try FreePort.pick()
        let reply = try await browser.runAsync(
            Self.resumerScript, [.string(name), .array(urls.map { .string($0) }), .string(pipeline), .int(deadPort), .bool(keeper)])
        let result = try JSONParser.parse(Array((reply.stringValue ?? "{}").utf8))
        if let error = result["error"]?.stringValue { throw ExpectationFailure("the page could not subscribe: \(error)") }
    }

    /// Lets `name` read 20 frames, cuts its connection and keeps it offline until the keeper
    /// has seen `awayFor` more frames, then lets it reconnect and waits for 20 live frames
    /// after its resubscription.
    private func cutAndComeBack(in browser: Browser, name: String, awayFor frames: Int) async throws -> Seen {
        let state = "window.resume.\(name)"
        try await browser.waitUntil("\(name): 20 frames", "\(state).sequences.length >= 20", timeout: .seconds(60))
        try await browser.run(
            "const s = \(state); s.offline = true;"
                + " for (const socket of s.sockets) if (socket.readyState === WebSocket.OPEN) socket.close();")
        try await browser.waitUntil("\(name): the client to notice the cut", "\(state).client.state === 'reconnecting'")
        try await browser.waitUntil(
            "\(name): the keeper to see \(frames) frames the page missed",
            "\(state).keeperLast !== null && \(state).keeperLast >= \(state).subscription.lastSequence + \(frames)"
                + " && \(state).failedAttempts >= 1",
            timeout: .seconds(90), diagnostics: "JSON.stringify({keeper: \(state).keeperLast, last: \(state).subscription.lastSequence})")
        try await browser.run("\(state).offline = false;")
        try await browser.waitUntil(
            "\(name): the resubscription and 20 live frames after it",
            "(() => { const s = \(state); const n = s.notices.find((n) => n.type === 'resubscribed');"
                + " return n && s.sequences.length > n.index && s.sequences.at(-1) >= n.payload.sequence + 20; })()",
            timeout: .seconds(90), diagnostics: "JSON.stringify(\(state).notices)")
        return try await summary(in: browser, name: name)
    }

    /// What `name` saw, around its `resubscription`th (from 0) resubscription.
    private func summary(in browser: Browser, name: String, resubscription: Int = 0) async throws -> Seen {
        let text = try await browser.run(
            """
            const s = window.resume[arguments[0]];
            return JSON.stringify({
              sequences: s.sequences, notices: s.notices, epoch: s.subscription.epoch, keeperEpoch: s.keeperEpoch,
              lostFrames: s.subscription.lostFrames, reconnects: s.client.reconnects, failedAttempts: s.failedAttempts,
            });
            """, [.string(name)]
        ).stringValue ?? "{}"
        let value = try JSONParser.parse(Array(text.utf8))
        let notices = value["notices"]?.arrayValue ?? []
        let resubscriptions = notices.filter { $0["type"] == "resubscribed" }
        let resubscribed: JSONValue? = resubscription < resubscriptions.count ? resubscriptions[resubscription] : nil
        let sequences = (value["sequences"]?.arrayValue ?? []).compactMap { $0.numberValue.map(Int.init) }
        let seen = Seen(
            sequences: sequences, notices: notices,
            noticeIndex: resubscribed?["index"]?.numberValue.map(Int.init) ?? sequences.count,
            resubscribed: resubscribed,
            hostSequence: resubscribed?["payload"]?["sequence"]?.numberValue.map(Int.init) ?? -1,
            epoch: value["epoch"]?.stringValue, keeperEpoch: value["keeperEpoch"]?.stringValue,
            lostFrames: value["lostFrames"]?.numberValue.map(Int.init) ?? -1,
            reconnects: value["reconnects"]?.numberValue.map(Int.init) ?? -1,
            failedAttempts: value["failedAttempts"]?.numberValue.map(Int.init) ?? -1)
        guard !seen.sequences.isEmpty, seen.noticeIndex > 0 else { throw ExpectationFailure("\(name) saw no frame before its resubscription: \(text.prefix(800))") }
        return seen
    }

    /// A ticker whose history holds 5000 frames, and one whose history holds 10.
    static func pipelines() throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        for (name, frames) in [("resumable", 5000), ("short_history", 10)] {
            try folder.write(
                "\(name).yaml",
                """
                name: \(name)
                params:
                  rate: { type: float, default: 20, min: 1, max: 1000 }
                source:
                  type: ticker
                  rate: ${rate}
                sinks:
                  - type: websocket
                    path: /ws/\(name)
                    backpressure: drop_oldest
                    queue_size: 1000
                    history: { frames: \(frames), seconds: 600 }

                """)
        }
        return folder
    }

    /// Runs in the page: `window.resume[name]` records what a hyphae.js subscription sees.
    /// Its sockets come from a WebSocket that, while `offline` is set, connects to a port
    /// nobody listens on instead, so that reconnection attempts fail as on a dead network.
    static let resumerScript = """
        const [name, urls, pipeline, deadPort, withKeeper, done] = arguments;
        (async () => {
          const { HyphaeClient } = await import('/hyphae.js');
          window.resume ??= {};
          const state = { sequences: [], notices: [], offline: false, sockets: [], failedAttempts: 0, keeperLast: null, keeperEpoch: null };
          window.resume[name] = state;
          class GatedWebSocket extends WebSocket {
            constructor(url, protocols) {
              const offline = state.offline;
              super(offline ? `ws://127.0.0.1:${deadPort}/ws` : url, protocols);
              if (offline) this.addEventListener('close', () => { state.failedAttempts += 1; });
              state.sockets.push(this);
              if (state.sockets.length > 50) state.sockets.shift();
            }
          }
          if (withKeeper) {
            const keeper = new HyphaeClient(urls, { reconnect: false });
            const kept = await keeper.subscribe(pipeline, {}, { streamId: `${name}-keeper` });
            state.keeperEpoch = kept.epoch;
            (async () => { for await (const event of kept) if (event.kind === 'frame') state.keeperLast = event.sequence; })();
          }
          const client = new HyphaeClient(urls, { WebSocket: GatedWebSocket, initialDelayMs: 100, maxDelayMs: 1000 });
          state.client = client;
          const subscription = await client.subscribe(pipeline, {}, { streamId: name });
          state.subscription = subscription;
          (async () => {
            for await (const event of subscription) {
              if (event.kind === 'frame') {
                state.sequences.push(event.sequence);
              } else {
                const { kind, ...notice } = event;
                state.notices.push({ ...notice, index: state.sequences.length });
              }
            }
          })();
          done(JSON.stringify({ epoch: subscription.epoch }));
        })().catch((error) => done(JSON.stringify({ error: String(error && error.stack || error) })));
        """
}
