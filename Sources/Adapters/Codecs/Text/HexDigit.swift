// The value of one hexadecimal digit, either case (URLs, JSON escapes, chunk sizes).

/// Hexadecimal digits of either case, as RFC 3986 percent-encoding and JSON `\u` escapes use them.
/// (Tokens use lowercase only: see `Hex` in the domain.)
enum HexDigit {
    @inline(__always)
    static func value(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }
}
