// The JSON reader against every parsing case of nst/JSONTestSuite, when a copy of the corpus is
// given (`TestPaths.jsonTestSuite`); otherwise the corpus tests report themselves skipped.
import Adapters
import Foundation
import Testing

struct JSONTestSuiteTests {
    static let directory = TestPaths.jsonTestSuite

    static let cases: [String] = {
        guard let directory else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }()

    /// Every case of the corpus; without it, one line reports this test skipped, and why.
    @Test(.enabled(if: directory != nil, "JSONTestSuite corpus not given: set JSON_TEST_SUITE_DIR to its test_parsing folder"))
    func followsTheSuite() throws {
        let directory = try #require(Self.directory)
        #expect(Self.cases.count > 300, "JSONTestSuite not found at \(directory.path)")
        for name in Self.cases {
            let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(name)))
            let result = bytes.withUnsafeBufferPointer { buffer in
                Result { () throws(JSONError) in try JSONReader.validate(buffer) }
            }
            switch name.first {
            case "y": #expect(throws: Never.self, "\(name)") { try result.get() }
            case "n": #expect(throws: JSONError.self, "\(name)") { try result.get() }
            default: break  // i_: either answer, but it must return (no crash, no hang).
            }
        }
    }

    @Test func deepNestingIsABoundedError() {
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        let result = deep.withUnsafeBufferPointer { buffer in Result { () throws(JSONError) in try JSONReader.validate(buffer) } }
        #expect(throws: JSONError(kind: .tooDeep, offset: JSONReader.defaultMaxDepth)) { try result.get() }
    }
}
