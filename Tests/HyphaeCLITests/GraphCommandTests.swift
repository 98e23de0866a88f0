import Foundation
import HyphaeTesting
import XCTest

/// `hyphae graph`: a pipeline's stages with their resolved settings, as Mermaid or DOT.
final class GraphCommandTests: XCTestCase {
    func testMermaidOfABundledPipeline() throws {
        let result = try runHyphae(["graph", "ticker"])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(Array(result.outputLines.dropFirst()), [
            "%% params: rate = 10, payload_bytes = 0",
            "flowchart LR",
            #"    source["ticker (source)<br/>rate: 10<br/>message_type: tick<br/>payload_bytes: 0"]"#,
            #"    sink_0["websocket (sink)<br/>path: /ws/ticker<br/>backpressure: drop_oldest<br/>queue_size: 1000<br/>max_queue_bytes: 16777216<br/>batch_window_ms: 0"]"#,
            "    source --> sink_0",
        ])
        XCTAssertTrue(result.outputLines.first?.hasPrefix("%% ticker: pipelines/ticker.yaml, version ") ?? false, result.description)
    }

    func testParamsAndDefaultsAreResolvedInEveryStage() throws {
        let result = try runHyphae(["graph", "simulation_live", "--param", "steps=5", "--param", "update_interval_steps=2"])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertTrue(result.outputLines.contains { $0.hasPrefix("%% params: seed = 42, grid_size = 64, steps = 5 (--param), ") }, result.description)
        let source = try XCTUnwrap(result.outputLines.first { $0.hasPrefix("    source[") }, result.description)
        for setting in ["simulation (source)", "seed: 42", "steps: 5", "alpha: 0.18", "activity_above_mean_mV: 0.5", "steps_per_second: 0"] {
            XCTAssertTrue(source.contains("<br/>\(setting)") || source.contains("[\"\(setting)"), "no \(setting) in \(source)")
        }
        XCTAssertFalse(source.contains("jitter_var"), "a setting that is not set is left out: \(source)")
        XCTAssertTrue(result.outputLines.contains(#"    transform_0["sample (transform)<br/>every: 2"]"#), result.description)
        XCTAssertEqual(result.outputLines.suffix(2), ["    source --> transform_0", "    transform_0 --> sink_0"])
    }

    func testEveryTransformInOrderAndEverySinkAfterTheLast() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("chain.yaml", """
            name: chain
            source: { type: ticker }
            transforms:
              - { type: sample, every: 2 }
              - { type: moving_average, field: count }
            sinks:
              - { type: websocket, path: /ws/chain }
              - { type: log }
            """)
        for format in ["mermaid", "dot"] {
            let result = try runHyphae(["graph", path, "--format", format])
            XCTAssertEqual(result.status, 0, result.description)
            let arrow = format == "dot" ? "->" : "-->"
            let end = format == "dot" ? ";" : ""
            let edges = result.outputLines.filter { $0.contains(" \(arrow) ") }
            XCTAssertEqual(edges, [
                "    source \(arrow) transform_0\(end)",
                "    transform_0 \(arrow) transform_1\(end)",
                "    transform_1 \(arrow) sink_0\(end)",
                "    transform_1 \(arrow) sink_1\(end)",
            ], result.description)
        }
    }

    func testDOTOfABundledPipeline() throws {
        let result = try runHyphae(["graph", "pipelines/ticker.yaml", "--format", "dot", "--param", "rate=50"])
        XCTAssertEqual(result.status, 0, result.description)
        XCTAssertEqual(Array(result.outputLines.dropFirst()), [
            "// params: rate = 50 (--param), payload_bytes = 0",
            #"digraph "ticker" {"#,
            "    rankdir=LR;",
            "    node [shape=box];",
            #"    source [label="ticker (source)\nrate: 50\lmessage_type: tick\lpayload_bytes: 0\l"];"#,
            #"    sink_0 [label="websocket (sink)\npath: /ws/ticker\lbackpressure: drop_oldest\lqueue_size: 1000\lmax_queue_bytes: 16777216\lbatch_window_ms: 0\l"];"#,
            "    source -> sink_0;",
            "}",
        ])
    }

    /// Values that contain the characters each format gives a meaning to.
    func testValuesWithQuotesAndMarkupCannotBreakOutOfTheirLabels() throws {
        let folder = try TemporaryFolder()
        let path = try folder.write("quotes.yaml", #"""
            name: quotes
            source:
              type: ticker
              message_type: 'say "hi" \ <b>#1</b> & "}'
            sinks:
              - { type: stdout, stream_id: "a\"];b" }
            """#)
        let mermaid = try runHyphae(["graph", path])
        XCTAssertEqual(mermaid.status, 0, mermaid.description)
        XCTAssertTrue(mermaid.outputLines.contains { $0.contains("message_type: say #quot;hi#quot; \\ #lt;b#gt;#35;1#lt;/b#gt; #amp; #quot;}<br/>") }, mermaid.description)
        XCTAssertTrue(mermaid.outputLines.contains(#"    sink_0["stdout (sink)<br/>stream_id: a#quot;];b"]"#), mermaid.description)
        for line in mermaid.outputLines where line.hasPrefix("    ") && line.contains("[\"") {
            // A node line is `id["label"]` with no other double quote: nothing ends the label early.
            XCTAssertEqual(line.filter { $0 == "\"" }.count, 2, line)
            XCTAssertTrue(line.hasSuffix("\"]"), line)
            XCTAssertFalse(line.dropFirst(4).contains("<b>"), line)
        }

        let dot = try runHyphae(["graph", path, "--format", "dot"])
        XCTAssertEqual(dot.status, 0, dot.description)
        XCTAssertTrue(dot.outputLines.contains { $0.contains(#"message_type: say \"hi\" \\ <b>#1</b> & \"}\l"#) }, dot.description)
        XCTAssertTrue(dot.outputLines.contains(#"    sink_0 [label="stdout (sink)\nstream_id: a\"];b\l"];"#), dot.description)
        XCTAssertEqual(Self.unquotedBraceBalance(dot.standardOutput), 0, dot.description)
        XCTAssertEqual(dot.outputLines.filter { $0.hasSuffix("{") }.count, 1, "one graph, opened once")
        XCTAssertEqual(dot.outputLines.last, "}")
    }

    func testMistakesInTheCommandLine() throws {
        let unknown = try runHyphae(["graph", "tickr"])
        XCTAssertEqual(unknown.status, 64, unknown.description)
        XCTAssertTrue(unknown.standardError.contains("no pipeline named 'tickr' in pipelines; did you mean 'ticker'?"), unknown.description)
        let format = try runHyphae(["graph", "ticker", "--format", "svg"])
        XCTAssertEqual(format.status, 64, format.description)
        XCTAssertTrue(format.standardError.contains("mermaid"), format.description)
        let param = try runHyphae(["graph", "ticker", "--param", "rate=0"])
        XCTAssertEqual(param.status, 64, param.description)
        XCTAssertTrue(param.standardError.contains("param 'rate': expected a number from 0.1 to 1000, found 0.0"), param.description)
    }

    /// `{` minus `}` outside DOT's double-quoted strings, reading `\"` and `\\` as escapes.
    private static func unquotedBraceBalance(_ text: String) -> Int {
        var balance = 0
        var inString = false
        var escaped = false
        for character in text {
            if inString {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
                continue
            }
            switch character {
            case "\"": inString = true
            case "{": balance += 1
            case "}": balance -= 1
            default: break
            }
        }
        return inString ? Int.min : balance
    }
}
