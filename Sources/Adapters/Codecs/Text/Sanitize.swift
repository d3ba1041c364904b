// Makes client-supplied text safe to put in a log line.

/// Log-injection defence, ported from the Go worker: control characters (newlines above all)
/// become `\xNN`, quotes and backslashes are escaped, and the result is bounded. `LineLogHandler`
/// applies it to every message and value exactly once, so callers pass raw text (escaping twice
/// would corrupt what a log reader unquotes).
public enum Sanitize {
    /// Long enough for any topic or address; longer text is cut and marked.
    public static let maxLength = 256

    public static func forLog(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(min(text.utf8.count, maxLength))
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= maxLength {
                out += "…"
                break
            }
            switch scalar.value {
            case 0x22: out += "\\\""
            case 0x5C: out += "\\\\"
            case 0..<0x20, 0x7F..<0xA0, 0x2028, 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            default: out.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return out
    }
}
