// JSON string literals: every escape, and the same text as a scalar-by-scalar reference writes.
import Adapters
import Testing
import TestSupport

struct JSONWriterTests {
    /// The rules written the slow, obvious way.
    static func reference(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    @Test(arguments: [
        ("", #""""#), ("plain", #""plain""#), ("a\"b\\c", #""a\"b\\c""#), ("\u{0}\u{1f}\n", #""\u0000\u001f\u000a""#),
        ("x\u{2028}y\u{2029}", #""x\u2028y\u2029""#), ("é€\u{2027}\u{202a}😀", "\"é€\u{2027}\u{202a}😀\""),
    ])
    func escapesWhatJSONAndJavaScriptNeed(_ text: String, _ expected: String) {
        #expect(JSONWriter.quoted(text) == expected)
    }

    @Test func randomTextIsWrittenAsTheReferenceWritesIt() {
        var random = SeededGenerator(seed: 2028)
        let pieces: [String] = ["a", "\"", "\\", "\u{0}", "\n", "\u{1f}", " ", "é", "\u{2028}", "\u{2029}", "\u{2026}", "€", "😀", "\u{7f}"]
        for _ in 0..<2000 {
            let text = (0..<Int.random(in: 0...12, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
            #expect(JSONWriter.quoted(text) == Self.reference(text), "\(Array(text.utf8))")
        }
    }
}
