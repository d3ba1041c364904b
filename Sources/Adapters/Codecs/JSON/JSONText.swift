// Reading scalar values out of ranges that JSONReader has already validated.

/// Decoders for the scalars the worker needs: strings (topics, tokens) and integers (claims).
public enum JSONText {
    /// Decodes the contents of a validated string (the bytes between the quotes).
    /// A lone UTF-16 surrogate becomes U+FFFD, as Go's encoding/json does.
    public static func unescape(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        // Tokens and topics rarely hold escapes: copy them whole instead of byte by byte.
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        if !slice.contains(UInt8(ascii: "\\")) { return String(decoding: slice, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                index += 1
                continue
            }
            let code = bytes[index + 1]
            index += 2
            switch code {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(bytes, at: index)
                index += 4
                if (0xD800..<0xDC00).contains(scalar), index + 6 <= range.upperBound,
                    bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
                {
                    let low = hex4(bytes, at: index + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        index += 6
                    }
                }
                let decoded = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: String(Character(decoded)).utf8)
            default: out.append(code)  // `"`, `\`, `/`
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hex4(_ bytes: UnsafeBufferPointer<UInt8>, at index: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 4 | UInt32(HexDigit.value(bytes[index + offset]) ?? 0) }
        return value
    }

    /// A validated number that is a plain integer (no fraction, no exponent) within Int64; else nil.
    /// Go's encoding/json refuses `1.0` and `1e3` for an int64 field too.
    public static func int64(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int64? {
        var index = range.lowerBound
        let negative = bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < range.upperBound else { return nil }
        var magnitude: Int64 = 0
        while index < range.upperBound {
            let byte = bytes[index]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (shifted, o1) = magnitude.multipliedReportingOverflow(by: 10)
            // Accumulate negatively so that Int64.min parses.
            let (sum, o2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            guard !o1, !o2 else { return nil }
            magnitude = sum
            index += 1
        }
        return magnitude
    }

    /// True when the raw key bytes of `field` spell `name` (keys with escapes are decoded first).
    public static func key(_ field: JSONField, in bytes: UnsafeBufferPointer<UInt8>, equals name: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        if field.keyHasEscapes {
            return unescape(bytes, field.keyRange).utf8.elementsEqual(expected)
        }
        guard field.keyRange.count == expected.count else { return false }
        return UnsafeBufferPointer(rebasing: bytes[field.keyRange]).elementsEqual(expected)
    }
}
