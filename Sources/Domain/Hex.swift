// Lowercase hexadecimal, as PHP's bin2hex and hash_hmac produce it.

/// Encodes and decodes lowercase hexadecimal.
public enum Hex {
    /// The value of one lowercase hex digit; uppercase is rejected, as the upstream worker does.
    @inline(__always)
    public static func lowercaseDigitValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        default: return nil
        }
    }

    /// Decodes lowercase hex; nil for an odd length or any other character.
    public static func decodeLowercase<C: Collection<UInt8>>(_ hex: C) -> [UInt8]? {
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var index = hex.startIndex
        while index != hex.endIndex {
            let next = hex.index(after: index)
            guard let high = lowercaseDigitValue(hex[index]), let low = lowercaseDigitValue(hex[next]) else {
                return nil
            }
            bytes.append(high << 4 | low)
            index = hex.index(after: next)
        }
        return bytes
    }

    /// Encodes `bytes` as lowercase hex.
    public static func encodeLowercase<C: Collection<UInt8>>(_ bytes: C) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
