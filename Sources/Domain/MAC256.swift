// A 256-bit message authentication code held inline (no heap allocation).

/// An HMAC-SHA256 value. Compared in constant time.
public struct MAC256: Sendable, Equatable, CustomStringConvertible {
    /// The four 64-bit words, big-endian in byte order.
    public var words: (UInt64, UInt64, UInt64, UInt64)

    public static let byteCount = 32

    public init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// Reads 32 bytes; precondition: `bytes.count == 32` (the caller is a MAC implementation).
    public init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == Self.byteCount, "HMAC-SHA256 yields 32 bytes")
        func word(_ offset: Int) -> UInt64 {
            var value: UInt64 = 0
            for index in offset..<(offset + 8) { value = value << 8 | UInt64(bytes[index]) }
            return value
        }
        words = (word(0), word(8), word(16), word(24))
    }

    /// Parses exactly 64 lowercase hex digits, as `hash_hmac('sha256', ...)` prints them.
    /// Uppercase is rejected, as upstream does.
    public init?<C: Collection<UInt8>>(lowercaseHex hex: C) {
        guard hex.count == Self.byteCount * 2 else { return nil }
        var index = hex.startIndex
        func word() -> UInt64? {
            var value: UInt64 = 0
            for _ in 0..<16 {
                guard let nibble = Hex.lowercaseDigitValue(hex[index]) else { return nil }
                value = value << 4 | UInt64(nibble)
                index = hex.index(after: index)
            }
            return value
        }
        guard let first = word(), let second = word(), let third = word(), let fourth = word() else { return nil }
        words = (first, second, third, fourth)
    }

    /// The 32 bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Self.byteCount)
        for word in [words.0, words.1, words.2, words.3] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: word >> UInt64(shift))) }
        }
        return out
    }

    /// Constant time: every word is combined before the single branch.
    public static func == (lhs: MAC256, rhs: MAC256) -> Bool {
        let difference = (lhs.words.0 ^ rhs.words.0) | (lhs.words.1 ^ rhs.words.1)
            | (lhs.words.2 ^ rhs.words.2) | (lhs.words.3 ^ rhs.words.3)
        return difference == 0
    }

    public var description: String { Hex.encodeLowercase(bytes) }
}
