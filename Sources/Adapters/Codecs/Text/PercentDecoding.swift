// Percent-decoding of URL components (query parameters, credentials in URLs).
internal import Glibc

/// `application/x-www-form-urlencoded` decoding of URL components.
public enum PercentDecoding {
    /// Decodes `%XX` and, when `plusIsSpace`, `+`; nil for a bad escape or invalid UTF-8.
    public static func decode(_ text: Substring, plusIsSpace: Bool = true) -> String? {
        var text = text
        return text.withUTF8 { decode(UnsafeRawBufferPointer($0), plusIsSpace: plusIsSpace) }
    }

    public static func decode(_ bytes: UnsafeRawBufferPointer, plusIsSpace: Bool = true) -> String? {
        // Most components hold no escape; they need only the UTF-8 check.
        guard hasEscapes(bytes, plusIsSpace: plusIsSpace) else { return String(validating: bytes, as: UTF8.self) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "+") where plusIsSpace: decoded.append(0x20)
            case UInt8(ascii: "%"):
                guard index + 2 <= bytes.count,
                    let high = HexDigit.value(bytes[index]), let low = HexDigit.value(bytes[index + 1])
                else { return nil }
                decoded.append(high << 4 | low)
                index += 2
            default: decoded.append(byte)
            }
        }
        return String(validating: decoded, as: UTF8.self)
    }

    /// True when `component` decodes to exactly `expected`, without a copy when it holds no escape.
    static func component(_ component: UnsafeRawBufferPointer, equals expected: UnsafeRawBufferPointer) -> Bool {
        guard hasEscapes(component, plusIsSpace: true) else {
            return component.count == expected.count && (expected.isEmpty || memcmp(component.baseAddress!, expected.baseAddress!, expected.count) == 0)
        }
        guard let decoded = decode(component) else { return false }
        return decoded.utf8.elementsEqual(expected)
    }

    private static func hasEscapes(_ bytes: UnsafeRawBufferPointer, plusIsSpace: Bool) -> Bool {
        ASCII.index(of: UInt8(ascii: "%"), in: bytes) != nil || (plusIsSpace && ASCII.index(of: UInt8(ascii: "+"), in: bytes) != nil)
    }
}
