// Writing JSON text: string literals for status documents, cluster envelopes and Pusher frames.

/// JSON output helpers (RFC 8259 §7).
public enum JSONWriter {
    /// A JSON string literal for `text`: quotes, backslashes and control characters escaped, and
    /// U+2028/U+2029 too, so the result is also safe inside JavaScript. Works on the UTF-8 bytes:
    /// it runs for every presence roster and member event, where a scalar-by-scalar `String`
    /// append was a fifth of a presence join's CPU.
    public static func quoted(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            // Most text needs no escape: one scan, then one copy.
            if !bytes.contains(where: mayNeedEscape) {
                return String(unsafeUninitializedCapacity: bytes.count + 2) { out in
                    out[0] = UInt8(ascii: "\"")
                    _ = UnsafeMutableBufferPointer(rebasing: out[1...]).initialize(fromContentsOf: bytes)
                    out[bytes.count + 1] = UInt8(ascii: "\"")
                    return bytes.count + 2
                }
            }
            var out: [UInt8] = [UInt8(ascii: "\"")]
            out.reserveCapacity(bytes.count + 16)
            var index = 0
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                    out.append(UInt8(ascii: "\\"))
                    out.append(byte)
                case 0..<0x20:
                    out.append(contentsOf: "\\u00".utf8)
                    out.append(hexDigit(byte >> 4))
                    out.append(hexDigit(byte & 15))
                case 0xE2 where index + 2 < bytes.count && bytes[index + 1] == 0x80 && (bytes[index + 2] == 0xA8 || bytes[index + 2] == 0xA9):
                    // U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR end a JavaScript line.
                    out.append(contentsOf: (bytes[index + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                    index += 2
                default:
                    out.append(byte)
                }
                index += 1
            }
            out.append(UInt8(ascii: "\""))
            return String(decoding: out, as: UTF8.self)
        }
    }

    @inline(__always)
    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }

    /// Quotes, backslashes, control characters, and the lead byte of U+2028/U+2029.
    @inline(__always)
    private static func mayNeedEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") || byte == 0xE2
    }
}
