// Where the test fixtures live: the one place tests find files (no package resources).
import Foundation

/// Test files: the repository's own fixtures, and corpora kept outside the repository.
enum TestPaths {
    /// The repository root, from this file's location.
    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// A file under `Tests/AdapterTests/Fixtures`.
    static func fixture(_ relativePath: String) -> URL {
        repositoryRoot.appendingPathComponent("Tests/AdapterTests/Fixtures").appendingPathComponent(relativePath)
    }

    /// The environment variable naming nst/JSONTestSuite's `test_parsing` folder. The corpus is
    /// not part of this repository; `make test` sets the variable when it finds a copy, and
    /// without it the corpus test reports itself skipped.
    static let jsonTestSuiteVariable = "JSON_TEST_SUITE_DIR"

    /// The JSONTestSuite parsing cases, or nil when no corpus was given.
    static var jsonTestSuite: URL? {
        guard let path = ProcessInfo.processInfo.environment[jsonTestSuiteVariable], !path.isEmpty else { return nil }
        return URL(fileURLWithPath: path)
    }
}
