// The suite's entry point: BenchmarkPlugin generates the `@main` that calls `benchmarks`.
import Benchmark

let benchmarks: @Sendable () -> Void = {
    // One operation is too short to time alone without mostly timing the clock: each measured
    // iteration runs it a thousand times, and the figures are divided back (marked `*`).
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput],
        scalingFactor: .kilo
    )
    registerTokenVerificationBenchmarks()
    registerPushEncodingBenchmarks()
    registerPublishBodyBenchmarks()
    registerHTTPParsingBenchmarks()
    registerWebSocketDecodingBenchmarks()
}

/// Stops the run when a fixture no longer takes the success path its benchmark is named after:
/// a refused token or a truncated request would otherwise be timed as if it were the real work.
func requireFixture(_ holds: Bool, _ what: String) {
    precondition(holds, "benchmark fixture broken: \(what)")
}
