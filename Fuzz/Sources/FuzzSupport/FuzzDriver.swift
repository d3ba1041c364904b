// The libFuzzer entry point shared by every fuzz target: LLVMFuzzerRunDriver
// (docs/development.md "Fuzzing").
import Glibc

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

// A C callback cannot capture: the target's body waits here. Set once, before the driver runs.
nonisolated(unsafe) private var fuzzBody: ([UInt8]) -> Void = { _ in }

/// Runs libFuzzer with the process arguments, calling `body` with each input; never returns.
public func runFuzzer(_ body: @escaping ([UInt8]) -> Void) -> Never {
    fuzzBody = body
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        fuzzBody(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
        return 0
    })
}

/// Incremental codecs must not care how input is cut: `decode` run on the whole input and on
/// the input split at a point derived from its first byte must describe the same outcome.
public func expectSameOutcomeWhenSplit(_ bytes: [UInt8], _ decode: ([UInt8], Int) -> String) {
    let whole = decode(bytes, bytes.count)
    let split = decode(bytes, bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1))
    precondition(whole == split, "chunking changed the outcome")
}
