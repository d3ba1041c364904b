// The incremental UTF-8 validator of text frames and JSON against the standard library's.
@testable import Adapters
import Testing
import TestSupport

struct UTF8ValidatorTests {
    @Test func utf8IsJudgedAsTheStandardLibraryJudgesItWhereverItIsCut() {
        // ASCII runs of every length around the validator's eight-byte stride, with multi-byte,
        // truncated and invalid sequences between them.
        let pieces: [[UInt8]] = [[0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x93, 0xA1], [0xED, 0xA0, 0x80], [0xC0, 0xAF], [0xFF], [0xE2, 0x82], [0x80]]
        var generator = SeededGenerator(seed: 0x5554_4638)
        for _ in 0..<300 {
            var text: [UInt8] = []
            for _ in 0..<Int(generator.next() % 4) {
                text += [UInt8](repeating: UInt8(ascii: "a"), count: Int(generator.next() % 19))
                text += generator.next() % 3 == 0 ? pieces[Int(generator.next() % UInt64(pieces.count))] : pieces[Int(generator.next() % 3)]
            }
            text += [UInt8](repeating: UInt8(ascii: "z"), count: Int(generator.next() % 19))
            let expected = String(validating: text, as: UTF8.self) != nil
            #expect(text.withUnsafeBytes { UTF8Validator.isValid($0) } == expected, "\(text)")
            for plan in ChunkPlans.all(length: text.count, randomCount: 3, seed: generator.next()) {
                var validator = UTF8Validator()
                var fed = true
                for chunk in plan.chunks(of: text) where fed { fed = Array(chunk).withUnsafeBytes { validator.feed($0) } }
                #expect((fed && validator.isComplete) == expected, "\(text), \(plan)")
            }
        }
    }
}
