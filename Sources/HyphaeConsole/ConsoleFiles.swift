/// The web console and hyphae.js (Docs/CONSOLE.md), compiled into the binary so that a
/// host serves them with no file on disk: `resources: [.embedInCode(...)]` turns each file
/// of `Files/` into bytes of this module.
public enum ConsoleFiles {
    public struct File: Sendable {
        public let contentType: String
        public let bytes: [UInt8]
    }

    /// Every path `file(at:)` answers: the host keeps them from pipelines.
    public static let paths: Set<String> = ["/", "/index.html", "/hyphae.js", "/console/console.js", "/console/charts.js", "/console/console.css"]

    /// The file a path names (`/` is the console's page), or nil.
    public static func file(at path: String) -> File? {
        switch path {
        case "/", "/index.html": File(contentType: "text/html; charset=utf-8", bytes: PackageResources.index_html)
        case "/hyphae.js": File(contentType: "text/javascript; charset=utf-8", bytes: PackageResources.hyphae_js)
        case "/console/console.js": File(contentType: "text/javascript; charset=utf-8", bytes: PackageResources.console_js)
        case "/console/charts.js": File(contentType: "text/javascript; charset=utf-8", bytes: PackageResources.charts_js)
        case "/console/console.css": File(contentType: "text/css; charset=utf-8", bytes: PackageResources.console_css)
        default: nil
        }
    }

    /// What the console's page may load and connect to: its own files only (no inline
    /// script, no other site), WebSockets and requests back to the
    /// host it came from.
    public static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}
