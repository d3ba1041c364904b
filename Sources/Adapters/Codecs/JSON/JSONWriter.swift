// Writing JSON text: string literals for status documents and cluster envelopes.

/// JSON output helpers (RFC 8259 §7).
public enum JSONWriter {
    /// A JSON string literal for `text`: quotes, backslashes and control characters escaped, and
    /// U+2028/U+2029 too, so the result is also safe inside JavaScript.
    public static func quoted(_ text: String) -> String {
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
}
