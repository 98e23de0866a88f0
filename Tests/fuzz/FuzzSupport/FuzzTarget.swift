#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libFuzzer target. Its executable's only entry point is
/// `@main enum SomeFuzzer: FuzzTarget { static func fuzz(_ bytes: [UInt8]) { ... } }`.
public protocol FuzzTarget {
    /// Checks one input; a broken property ends the run through `fuzzCheck`.
    static func fuzz(_ bytes: [UInt8])
}

extension FuzzTarget {
    /// SwiftPM links an executable with its module's entry point as `main`, so libFuzzer's
    /// own `main` is never linked in; this hands the command line to libFuzzer's driver,
    /// which then behaves as a libFuzzer binary does.
    public static func main() {
        exit(runLibFuzzer(Self.fuzz))
    }
}

@_silgen_name("LLVMFuzzerRunDriver")
private func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// The target libFuzzer's callback runs. Its C signature carries no context, so the target
/// waits here; it is set once, before the driver starts, and only read after.
nonisolated(unsafe) private var currentTarget: ([UInt8]) -> Void = { _ in }

private func runLibFuzzer(_ target: @escaping ([UInt8]) -> Void) -> CInt {
    currentTarget = target
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    return llvmFuzzerRunDriver(&argc, &argv, testOneInput)
}

/// libFuzzer's entry for each input, under the name its tools look for.
@_cdecl("LLVMFuzzerTestOneInput")
public func testOneInput(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    guard let data else { return 0 }
    currentTarget(Array(UnsafeBufferPointer(start: data, count: count)))
    return 0
}
