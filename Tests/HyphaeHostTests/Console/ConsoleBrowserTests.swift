import Foundation
import HyphaeCore
import HyphaeTesting
import XCTest

/// The web console and hyphae.js in a real headless Chromium (Debian's chromium and
/// chromium-driver), against a real `hyphae serve` on loopback. Every wait is for a
/// condition in the page, with a generous deadline: the machine may be loaded.
/// Screenshots go to .build/console-screenshots/; HYPHAE_CONSOLE_SCREENSHOT=1 also
/// writes the README's Docs/images/console.png.
final class ConsoleBrowserTests: XCTestCase {
    /// The signature and decoding tests of hyphae.js, on the vectors the Swift tests use.
    func testHyphaeJSSignsAndDecodesTheSharedVectorsInChromium() async throws {
        let pipelines = try Self.bundledPipelines()
        let serve = try await ServeProcess.start(["--pipelines", pipelines.url.path], environment: ["MFN_ENV": "dev"])
        defer { serve.killIfRunning() }
        let browser = try await Browser.start()
        do {
            try await browser.open("http://127.0.0.1:\(serve.port)/")
            try await browser.waitUntil("the console's pipeline list", "document.querySelector('#pipelines tbody tr')")
            let vectors = PackagePaths.root.appendingPathComponent("Tests/vectors")
            let auth = try String(contentsOf: vectors.appendingPathComponent("auth.json"), encoding: .utf8)
            let compress = try String(contentsOf: vectors.appendingPathComponent("compress.json"), encoding: .utf8)
            let reply = try await browser.runAsync(Self.vectorScript, [.string(auth), .string(compress)])
            let result = try JSONParser.parse(Array((reply.stringValue ?? "{}").utf8))
            XCTAssertNil(result["error"], result["error"]?.stringValue ?? "")

            let authCases = try JSONParser.parse(Array(auth.utf8))["cases"]?.arrayValue ?? []
            let signatures = result["signatures"]?.arrayValue ?? []
            XCTAssertEqual(signatures.count, authCases.count)
            for (vector, signature) in zip(authCases, signatures) {
                XCTAssertEqual(signature, vector["signature"], vector["name"]?.stringValue ?? "")
            }
            let payload = result["payload"]
            XCTAssertEqual(payload?["timestamp"], .int(1_764_756_000_123), "the auth payload sends whole milliseconds")
            XCTAssertEqual(payload?["signature"], "780e1302ab3e28fb5d0688ab93da81ff683f8b6d5359a12397ff52018d4526bf")

            let compressCases = try JSONParser.parse(Array(compress.utf8))["cases"]?.arrayValue ?? []
            let rebuilt = result["rebuilt"]?.arrayValue ?? []
            XCTAssertEqual(rebuilt.count, compressCases.count)
            var compared = 0
            for (vector, frames) in zip(compressCases, rebuilt) {
                let expected = vector["expect"]?.arrayValue ?? []
                XCTAssertEqual(frames.arrayValue?.count, expected.count, vector["name"]?.stringValue ?? "")
                for (index, (got, want)) in zip(frames.arrayValue ?? [], expected).enumerated() {
                    compared += 1
                    if let difference = Self.difference(got, want, at: "frame \(index)") {
                        XCTFail("\(vector["name"]?.stringValue ?? ""): \(difference)")
                    }
                }
            }
            XCTAssertGreaterThan(compared, 20)
            XCTAssertTrue(result["unpackChecks"] == .bool(true), "unpack refuses data of the wrong length")
            let errors = try await browser.consoleMessages().filter { $0.level == "SEVERE" }
            XCTAssertTrue(errors.isEmpty, "console errors: \(errors)")
        } catch {
            await browser.quit()
            throw error
        }
        await browser.quit()
    }

    /// The console as a user sees it: the list, a form, a deep link, the heatmap and the
    /// charts moving, a reload's notice, a host restart and the way back to live frames.
    func testConsoleListsSubscribesShowsNoticesAndReconnects() async throws {
        let pipelines = try Self.bundledPipelines()
        // Quick heartbeats: a client that did not answer them would be closed (4000) and reconnect.
        let arguments = ["--pipelines", pipelines.url.path, "--heartbeat-interval", "1", "--heartbeat-timeout", "5"]
        var serve = try await ServeProcess.start(arguments, environment: ["MFN_ENV": "dev"])
        defer { serve.killIfRunning() }
        let port = serve.port
        let browser = try await Browser.start()
        do {
            // The list.
            try await browser.open("http://127.0.0.1:\(port)/")
            for name in ["ticker", "stream_features", "simulation_live", "simulation_field"] {
                try await browser.waitUntil("\(name) in the list", "document.querySelector('tr[data-pipeline=\"\(name)\"]')")
            }
            try await browser.screenshot("1-pipelines")

            // A form built from the params, filled in and sent.
            try await browser.run("document.querySelector('tr[data-pipeline=\"stream_features\"] a').click();")
            try await browser.waitUntil("the form", "document.getElementById('param-update_interval_ms')")
            try await assertEqual(await browser.run("return document.getElementById('param-update_interval_ms').max;"), "10000")
            try await assertEqual(await browser.run("return document.getElementById('param-compression').type;"), "checkbox")
            try await browser.run("document.getElementById('param-update_interval_ms').value = '50'; document.getElementById('subscribe-button').click();")
            try await browser.waitUntil("the deep link the form made", "location.hash === '#/stream/stream_features?update_interval_ms=50'", diagnostics: "location.hash")
            try await browser.waitUntil("frames", "Number(document.getElementById('stat-frames').textContent) >= 5")
            let chart = "document.querySelector('figure[data-feature=\"features.pot_mean_mV\"] canvas')"
            try await browser.waitUntil("the pot_mean_mV chart", "\(chart) && Number(\(chart).dataset.points) >= 3")
            let points = try await browser.run("return Number(\(chart).dataset.points);").numberValue ?? 0
            try await browser.waitUntil("the chart to grow", "Number(\(chart).dataset.points) >= \(Int(points) + 5)")
            try await browser.waitUntil("the list to count the subscriber", "document.querySelector('tr[data-pipeline=\"stream_features\"] td.subscribers').textContent === '1'")
            try await assertEqual(await browser.run("return document.getElementById('stat-latency').textContent.endsWith(' ms');"), .bool(true))

            // A deep link straight to a live view, with the packed field drawn as a heatmap.
            try await browser.open("http://127.0.0.1:\(port)/#/stream/simulation_field?grid_size=32&steps_per_second=20")
            let heatmap = "document.getElementById('heatmap')"
            try await browser.waitUntil("the heatmap", "Number(\(heatmap).dataset.drawn) >= 2 && \(heatmap).width === 32")
            let firstImage = try await browser.run("return \(heatmap).toDataURL();")
            try await browser.waitUntil("the heatmap to change", "\(heatmap).toDataURL() !== arguments[0]".replacingOccurrences(of: "arguments[0]", with: "'\(firstImage.stringValue ?? "")'"))
            try await browser.waitUntil("the step chart", "Number(document.querySelector('figure[data-feature=\"step\"] canvas')?.dataset.points) >= 10")
            try await assertEqual(await browser.run("return document.getElementById('param-grid_size').value;"), "32", "the form shows the link's params")
            let screenshot = try await browser.screenshot("2-heatmap")
            if ProcessInfo.processInfo.environment["HYPHAE_CONSOLE_SCREENSHOT"] == "1" {
                let target = PackagePaths.root.appendingPathComponent("Docs/images/console.png")
                try? FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try? FileManager.default.removeItem(at: target)
                try FileManager.default.copyItem(at: screenshot, to: target)
            }

            // Nothing went wrong in the page so far (a host restart, below, makes the
            // browser log its refused connections, which are expected).
            let errors = try await browser.consoleMessages().filter { $0.level == "SEVERE" }
            XCTAssertTrue(errors.isEmpty, "console errors: \(errors)")

            // The pipeline's file changes: the subscription reads the new version and says so.
            let file = pipelines.url.appendingPathComponent("simulation_field.yaml")
            let text = try String(contentsOf: file, encoding: .utf8)
            try text.replacingOccurrences(of: "description: A mycelium", with: "description: A changed mycelium").write(to: file, atomically: true, encoding: .utf8)
            try await browser.waitUntil("the stream_reloaded notice", "document.querySelector('#notices li[data-type=\"stream_reloaded\"]')")
            try await browser.screenshot("3-reloaded")
            try await assertEqual(await browser.run("return document.querySelectorAll('#notices li[data-type=\"reconnecting\"]').length;"), 0, "the connection held: heartbeats were answered")

            // The host goes away and comes back on the same port.
            serve.process.terminate()
            _ = try await serve.waitForExit(timeout: .seconds(30))
            try await browser.waitUntil("the reconnecting state", "document.getElementById('connection').dataset.state === 'reconnecting' && document.getElementById('stat-status').dataset.state === 'reconnecting'")
            try await browser.screenshot("4-reconnecting")
            let framesBefore = try await browser.run("return Number(document.getElementById('stat-frames').textContent);").numberValue ?? 0
            serve = try await ServeProcess.start(arguments, environment: ["MFN_ENV": "dev"], port: port)
            try await browser.waitUntil("the connection back", "document.getElementById('connection').dataset.state === 'open'")
            try await browser.waitUntil("live frames again", "document.querySelector('#notices li[data-type=\"resubscribed\"]') && Number(document.getElementById('stat-frames').textContent) >= \(Int(framesBefore) + 5)")
            try await assertEqual(await browser.run("return document.getElementById('stat-status').dataset.state;"), "live")
            try await browser.screenshot("5-live-again")
        } catch {
            _ = try? await browser.screenshot("failure-console")
            await browser.quit()
            throw error
        }
        await browser.quit()
    }

    /// A host that wants a key: the console asks, keeps it in session storage only, and
    /// signs with WebCrypto (the host requires signatures here).
    func testConsoleAsksForTheKeyAndSigns() async throws {
        let pipelines = try Self.bundledPipelines()
        let serve = try await ServeProcess.start(["--pipelines", pipelines.url.path], environment: [
            "MFN_ENV": "dev", "MFN_API_KEY_REQUIRED": "true", "MFN_SIGNATURE_REQUIRED": "true", "MFN_API_KEY": "console-key-1",
        ])
        defer { serve.killIfRunning() }
        let browser = try await Browser.start()
        do {
            try await browser.open("http://127.0.0.1:\(serve.port)/#/stream/ticker?rate=20")
            try await browser.waitUntil("the key dialog", "document.getElementById('key-dialog').open")
            try await browser.run("document.getElementById('key-input').value = 'wrong-key'; document.getElementById('key-submit').click();")
            try await browser.waitUntil("the refusal", "document.getElementById('key-dialog').open && document.getElementById('key-error').textContent.includes('not accepted')")
            try await browser.run("document.getElementById('key-input').value = 'console-key-1'; document.getElementById('key-submit').click();")
            try await browser.waitUntil("frames", "Number(document.getElementById('stat-frames').textContent) >= 3")
            try await assertEqual(await browser.run("return sessionStorage.getItem('hyphae.apiKey');"), "console-key-1")
            try await assertEqual(await browser.run("return localStorage.length;"), 0)
            try await assertEqual(await browser.run("return document.cookie;"), "")
            try await browser.screenshot("6-signed-in")
        } catch {
            _ = try? await browser.screenshot("failure-key")
            await browser.quit()
            throw error
        }
        await browser.quit()
    }

    // MARK: Support

    /// A copy of the repository's pipelines, so a test may rewrite them.
    static func bundledPipelines() throws -> TemporaryFolder {
        let folder = try TemporaryFolder()
        for name in try FileManager.default.contentsOfDirectory(atPath: PackagePaths.pipelines.path) where name.hasSuffix(".yaml") && !name.hasSuffix(".test.yaml") {
            try FileManager.default.copyItem(at: PackagePaths.pipelines.appendingPathComponent(name), to: folder.url.appendingPathComponent(name))
        }
        return folder
    }

    /// Where two decoded payloads differ (numbers compared as numbers), or nil.
    static func difference(_ got: JSONValue, _ want: JSONValue, at path: String) -> String? {
        if let a = got.numberValue, let b = want.numberValue {
            return abs(a - b) <= 1e-12 * max(1, abs(b)) ? nil : "\(path): \(a) instead of \(b)"
        }
        if got.isArrayLike || want.isArrayLike {
            let a = got.numbersOrArray, b = want.numbersOrArray
            if !got.isArrayLike || !want.isArrayLike || a.count != b.count { return "\(path): \(got.jsonText.prefix(100)) instead of \(want.jsonText.prefix(100))" }
            for (index, pair) in zip(a, b).enumerated() {
                if let difference = difference(pair.0, pair.1, at: "\(path)[\(index)]") { return difference }
            }
            return nil
        }
        if case .object(let a) = got, case .object(let b) = want {
            let keysA = Set(a.map { $0.0 }), keysB = Set(b.map { $0.0 })
            if keysA != keysB { return "\(path): members \(keysA.sorted()) instead of \(keysB.sorted())" }
            for (key, value) in b {
                if let difference = difference(a[key] ?? .null, value, at: "\(path).\(key)") { return difference }
            }
            return nil
        }
        return got == want ? nil : "\(path): \(got.jsonText) instead of \(want.jsonText)"
    }

    /// Runs in the page: hyphae.js signs every auth vector and rebuilds every compress case.
    static let vectorScript = """
        const [authText, compressText, done] = arguments;
        (async () => {
          const hyphae = await import('/hyphae.js');
          const auth = JSON.parse(authText).cases;
          const signatures = [];
          for (const vector of auth) signatures.push(await hyphae.authSignature(vector.api_key, vector.timestamp));
          const payload = await hyphae.authPayload('k1', 1764756000123.7);
          const vectors = JSON.parse(compressText);
          const rebuilt = vectors.cases.map((testCase) => {
            const rebuilder = new hyphae.FrameRebuilder();
            return testCase.deliver.map((index) => {
              const message = vectors.messages[index];
              const payload = rebuilder.receive(message.type, message.payload);
              if (payload === null) return null;
              const { stream_id, sequence, timestamp, ...rest } = payload;
              return rest;
            });
          });
          let unpackChecks = false;
          try { hyphae.unpack({ packed: 'u16', offset: 0, scale: 1, length: 3, data: 'AAAA' }); } catch { unpackChecks = true; }
          const plain = (key, value) => value instanceof Float64Array ? Array.from(value) : value;
          done(JSON.stringify({ signatures, payload, rebuilt, unpackChecks }, plain));
        })().catch((error) => done(JSON.stringify({ error: String(error && error.stack || error) })));
        """
}

private extension JSONValue {
    var isArrayLike: Bool {
        switch self {
        case .array, .numbers: true
        default: false
        }
    }

    /// An array's elements, `.numbers` included, as values.
    var numbersOrArray: [JSONValue] {
        switch self {
        case .array(let elements): elements
        case .numbers(let numbers): numbers.map { .double($0) }
        default: []
        }
    }
}
