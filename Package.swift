// swift-tools-version:6.1
// The wavelog-worker package: a layered hexagon (see docs/architecture.md and docs/adr/0001).
import PackageDescription

let strictSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
    name: "wavelog-worker",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "wavelog-worker", targets: ["App"]),
        // The benchmark load generator: a client of the wire protocol, not of the worker's code.
        .executable(name: "wavelog-load", targets: ["LoadGenerator"]),
        // Exposed so the fuzz package (Fuzz/) and benchmarks can link the codecs.
        .library(name: "WorkerCore", targets: ["Domain", "Application", "Adapters"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // MARK: - C libraries
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // epoll, eventfd and writev are not exported by Swift's Glibc module
        // (docs/development.md "System libraries").
        .systemLibrary(name: "CLinux"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CUring", pkgConfig: "liburing", providers: [.apt(["liburing-dev"])]),
        // The webhook client: HTTP/1.1 and https with the system's certificate store.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),

        // MARK: - The hexagon
        .target(name: "Domain", swiftSettings: strictSettings),
        .target(name: "Application", dependencies: ["Domain", logging], swiftSettings: strictSettings),
        .target(
            name: "Adapters",
            dependencies: ["Domain", "Application", "CYAML", "COpenSSL", "CHiredis", "CLinux", "CZlib", "CUring", "CCurl", logging],
            // Release builds skip the run-time exclusivity checks of class properties: on the
            // delivery path they were 1,200 of 2,600 instructions per push (docs/adr/0007).
            // Debug builds and every test keep them.
            swiftSettings: strictSettings + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        .executableTarget(
            name: "App",
            dependencies: ["Domain", "Application", "Adapters", logging],
            swiftSettings: strictSettings
        ),
        .executableTarget(name: "LoadGenerator", dependencies: ["CLinux", "COpenSSL", "CZlib"], swiftSettings: strictSettings),

        // MARK: - Tests
        .target(
            name: "TestSupport",
            dependencies: ["Domain", "Application", logging],
            path: "Tests/TestSupport",
            swiftSettings: strictSettings
        ),
        .testTarget(name: "DomainTests", dependencies: ["Domain", "TestSupport"], swiftSettings: strictSettings),
        .testTarget(
            name: "ApplicationTests",
            dependencies: ["Domain", "Application", "TestSupport", logging],
            swiftSettings: strictSettings
        ),
        .testTarget(name: "AppTests", dependencies: ["App"], swiftSettings: strictSettings),
        .testTarget(
            name: "AdapterTests",
            dependencies: ["Domain", "Application", "Adapters", "TestSupport", "COpenSSL", logging],
            // Fixtures are read in place through TestPaths (Tests/AdapterTests/Support/Paths.swift).
            exclude: ["Fixtures"],
            swiftSettings: strictSettings
        ),
    ]
)
