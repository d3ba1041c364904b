// The JSON reader against every parsing case of nst/JSONTestSuite (../shared/testdata).
import Adapters
import Foundation
import Testing

struct JSONTestSuiteTests {
    static let directory = TestPaths.sharedTestData.appendingPathComponent("JSONTestSuite/test_parsing")

    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".json") }.sorted()
    }()

    @Test func corpusIsPresent() {
        #expect(Self.cases.count > 300, "JSONTestSuite not found at \(Self.directory.path)")
    }

    @Test(arguments: cases)
    func followsTheSuite(_ name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent(name)))
        let result = bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(JSONError) in try JSONReader.validate(buffer) }
        }
        switch name.first {
        case "y": #expect(throws: Never.self) { try result.get() }
        case "n": #expect(throws: JSONError.self) { try result.get() }
        default: break  // i_: either answer, but it must return (no crash, no hang).
        }
    }

    @Test func deepNestingIsABoundedError() {
        let deep = Array(String(repeating: "[", count: 100_000).utf8)
        let result = deep.withUnsafeBufferPointer { buffer in Result { () throws(JSONError) in try JSONReader.validate(buffer) } }
        #expect(throws: JSONError(kind: .tooDeep, offset: JSONReader.defaultMaxDepth)) { try result.get() }
    }
}
