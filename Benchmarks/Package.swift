// swift-tools-version:6.1
// Micro-benchmarks of the worker's per-message codecs (README.md here). A package of their own,
// like Fuzz/, so the main build and CI never fetch the benchmark tool or its malloc interposer.
import PackageDescription

let package = Package(
    name: "wavelog-worker-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "wavelog-worker", path: ".."),
        // Naming the trait drops the default RuntimeInterposer trait: it only adds ARC counters on
        // Linux with Swift 6.3, which no benchmark here reads, and its package
        // (swift-runtime-interposer) cannot be fetched on the project's machines.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The benchmark plugins only pick up targets whose directory sits directly in Benchmarks/.
        .executableTarget(
            name: "WorkerBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "WorkerCore", package: "wavelog-worker"),
            ],
            path: "Benchmarks/WorkerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
