import HyphaeClient
import HyphaeCore
@testable import HyphaeHost
import XCTest

/// Docs/SECURITY.md, Auth: signed auth messages are remembered until their timestamp
/// leaves the window, at most `maximumRememberedSignatures` at once; a full cache
/// refuses new signed auths rather than forget one early.
final class ReplayCacheTests: XCTestCase {
    func testAFullCacheRefusesNewSignedAuthsUntilOldOnesExpire() {
        var configuration = HostConfiguration()
        configuration.apiKeys = [APIKey(secret: "replay-key")]
        configuration.timestampWindow = 300
        let authenticator = Authenticator(configuration: configuration)
        let start = 1_800_000_000_000.0
        let limit = Authenticator.maximumRememberedSignatures
        // Every signature distinct: a timestamp each, all inside the window.
        for index in 0..<limit {
            let outcome = authenticator.authenticate(ProtocolClient.authPayload(apiKey: "replay-key", timestamp: start + Double(index), signed: true), now: start + Double(limit))
            guard case .accepted = outcome else { return XCTFail("signed auth \(index) was \(outcome)") }
        }
        let replayed = authenticator.authenticate(ProtocolClient.authPayload(apiKey: "replay-key", timestamp: start, signed: true), now: start + Double(limit))
        XCTAssertEqual(replayed, .rejected(reason: "replayed signature"))
        let fresh = ProtocolClient.authPayload(apiKey: "replay-key", timestamp: start + Double(limit), signed: true)
        XCTAssertEqual(authenticator.authenticate(fresh, now: start + Double(limit)), .rejected(reason: "replay cache full"))
        // An unsigned auth does not need the cache.
        let unsigned = authenticator.authenticate(ProtocolClient.authPayload(apiKey: "replay-key", timestamp: start + Double(limit), signed: false), now: start + Double(limit))
        guard case .accepted = unsigned else { return XCTFail("an unsigned auth was \(unsigned)") }
        // Once the first ones have left the window, their places are free again.
        let later = start + 300_000 + 1_000
        let afterExpiry = ProtocolClient.authPayload(apiKey: "replay-key", timestamp: later, signed: true)
        guard case .accepted = authenticator.authenticate(afterExpiry, now: later) else { return XCTFail("no place after the window passed") }
    }
}
