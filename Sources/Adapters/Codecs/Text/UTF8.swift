// UTF-8 validation (RFC 3629 §4), shared by the JSON reader and the WebSocket decoder.

/// The rule for a multi-byte sequence, decided by its lead byte.
struct UTF8Lead {
    /// Bytes in the whole sequence (2-4).
    let length: Int
    /// Allowed range of the second byte: excludes overlong forms, UTF-16 surrogates, > U+10FFFF.
    let secondLower: UInt8
    let secondUpper: UInt8

    /// nil for a byte that cannot start a multi-byte sequence (continuation bytes, C0, C1, F5-FF).
    init?(_ lead: UInt8) {
        switch lead {
        case 0xC2...0xDF: (length, secondLower, secondUpper) = (2, 0x80, 0xBF)
        case 0xE0: (length, secondLower, secondUpper) = (3, 0xA0, 0xBF)
        case 0xE1...0xEC, 0xEE...0xEF: (length, secondLower, secondUpper) = (3, 0x80, 0xBF)
        case 0xED: (length, secondLower, secondUpper) = (3, 0x80, 0x9F)
        case 0xF0: (length, secondLower, secondUpper) = (4, 0x90, 0xBF)
        case 0xF1...0xF3: (length, secondLower, secondUpper) = (4, 0x80, 0xBF)
        case 0xF4: (length, secondLower, secondUpper) = (4, 0x80, 0x8F)
        default: return nil
        }
    }
}

/// Validates UTF-8 across chunk boundaries, so a text message split over fragments fails as
/// early as possible.
struct UTF8Validator {
    private var remaining = 0
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// True while the bytes so far can still be the start of valid UTF-8.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < bytes.count {
            if remaining == 0 {
                // ASCII eight bytes at a time: client messages are nearly always all ASCII.
                while index + 8 <= bytes.count,
                    bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & ByteWord.highs == 0 {
                    index += 8
                }
                guard index < bytes.count else { break }
            }
            let byte = bytes[index]
            index += 1
            if remaining > 0 {
                guard byte >= lower && byte <= upper else { return false }
                remaining -= 1
                lower = 0x80
                upper = 0xBF
                continue
            }
            if byte < 0x80 { continue }
            guard let lead = UTF8Lead(byte) else { return false }
            remaining = lead.length - 1
            lower = lead.secondLower
            upper = lead.secondUpper
        }
        return true
    }

    /// True when the input ended on a character boundary.
    var isComplete: Bool { remaining == 0 }

    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var validator = UTF8Validator()
        return validator.feed(bytes) && validator.isComplete
    }
}
