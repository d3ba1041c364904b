// swift-tools-version:6.1
// libFuzzer targets, kept out of the main build because -sanitize=fuzzer links its own main
// (docs/development.md "Fuzzing"). Built and run by `make fuzz`.
import PackageDescription

let package = Package(
    name: "wavelog-worker-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "wavelog-worker", path: "..")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzHTTPParser", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
        .executableTarget(name: "FuzzJSONReader", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
        .executableTarget(name: "FuzzWebSocketDecoder", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
        .executableTarget(name: "FuzzDeflateOffer", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
        .executableTarget(name: "FuzzPusherMessage", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
        .executableTarget(name: "FuzzPusherRequest", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
        .executableTarget(name: "FuzzRosterEntry", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
        .executableTarget(name: "FuzzReplicaMessage", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
        .executableTarget(name: "FuzzStreamPosition", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
        .executableTarget(name: "FuzzPublishBody", dependencies: ["FuzzSupport", .product(name: "WorkerCore", package: "wavelog-worker")]),
    ]
)
