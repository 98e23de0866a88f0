import HyphaeCore
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

final class OpenFileLimitTests: XCTestCase {
    func testRaisesTheSoftLimitToTheHardOneAndReportsIt() throws {
        var before = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &before), 0)
        let reported = try XCTUnwrap(OpenFileLimit.raiseToHardLimit(), "getrlimit answers on this system")
        var limit = rlimit()
        XCTAssertEqual(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit), 0)
        XCTAssertEqual(reported, Int(clamping: limit.rlim_cur), "it reports the limit in force")
        XCTAssertGreaterThanOrEqual(limit.rlim_cur, before.rlim_cur)
        // Linux refuses an unlimited (RLIM_INFINITY) soft limit on open files; any finite hard limit is granted.
        if limit.rlim_max != rlim_t.max {
            XCTAssertEqual(limit.rlim_cur, limit.rlim_max, "the soft limit is lifted to the hard one")
        }
        XCTAssertEqual(OpenFileLimit.raiseToHardLimit(), reported, "raising again changes nothing")
    }
}
