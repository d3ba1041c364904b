// Exact tests on eight bytes at once, shared by the parsers' bulk scans (docs/development.md
// "Bytes are scanned in bulk").

/// Each returns a word whose high bit is set in some byte exactly when some byte of `word`
/// qualifies (the has-less and has-zero tests of the bit-twiddling folklore); test it with
/// `& ByteWord.highs`, and combine several with `|` before testing.
enum ByteWord {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Some byte is below `limit` (at most 128).
    @inline(__always) static func below(_ limit: UInt8, _ word: UInt64) -> UInt64 {
        (word &- ones &* UInt64(limit)) & ~word
    }

    /// Some byte equals `byte`.
    @inline(__always) static func equal(_ byte: UInt8, _ word: UInt64) -> UInt64 {
        let difference = word ^ (ones &* UInt64(byte))
        return (difference &- ones) & ~difference
    }
}
