// Where the test fixtures live.
import Foundation

enum TestPaths {
    /// The repository root, from this file's location.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `../shared/testdata`, beside the repository (PROTOCOL.md and the test corpora live there).
    static let sharedTestData = repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared/testdata")

    static func fixture(_ relativePath: String) -> URL {
        repositoryRoot.appendingPathComponent("Tests/AdapterTests/Fixtures").appendingPathComponent(relativePath)
    }
}
