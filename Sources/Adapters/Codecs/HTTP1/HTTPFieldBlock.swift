// The header lines of a request as received, for reading any field by name.
internal import Glibc

/// The raw field lines of a request head, kept so a transport can read a header the parser does
/// not name (`Authorization`, `Accept`, `Last-Event-ID`, ...) without the codec knowing it.
///
/// One copy of the lines per request; a lookup scans them and allocates nothing. The parser has
/// already validated every line (token names, no obsolete folding, no control characters).
public struct HTTPFieldBlock: Sendable, Equatable {
    let bytes: [UInt8]

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = Array(bytes)
    }

    public init() {
        bytes = []
    }

    /// Calls `body` with the first value of field `name` (ASCII, matched case-insensitively),
    /// trimmed of surrounding whitespace; nil when the request has no such field.
    public func withValue<R>(of name: StaticString, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        var result: R?
        scan(name) { value in
            result = body(value)
            return false
        }
        return result
    }

    /// Every value of field `name`, in order (a field may repeat, as `Sec-WebSocket-Extensions` does).
    public func values(of name: StaticString) -> [String] {
        var found: [String] = []
        forEachValue(of: name) { found.append(String(decoding: $0, as: UTF8.self)) }
        return found
    }

    /// Calls `body` with each value of field `name`, in order.
    public func forEachValue(of name: StaticString, _ body: (UnsafeRawBufferPointer) -> Void) {
        scan(name) { value in
            body(value)
            return true
        }
    }

    /// Calls `visit` with the trimmed value of each line named `name` while it returns true.
    private func scan(_ name: StaticString, _ visit: (UnsafeRawBufferPointer) -> Bool) {
        bytes.withUnsafeBytes { block in
            var lineStart = 0
            while lineStart < block.count {
                var lineEnd = lineStart
                while lineEnd < block.count, block[lineEnd] != 0x0A { lineEnd += 1 }
                let contentEnd = lineEnd > lineStart && block[lineEnd - 1] == 0x0D ? lineEnd - 1 : lineEnd
                let line = UnsafeRawBufferPointer(rebasing: block[lineStart..<contentEnd])
                lineStart = lineEnd + 1
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")),
                    ASCII.equalsIgnoringCase(UnsafeRawBufferPointer(rebasing: line[line.startIndex..<colon]), name)
                else { continue }
                guard visit(ASCII.trim(UnsafeRawBufferPointer(rebasing: line[(colon + 1)...]))) else { return }
            }
        }
    }

    /// The first value of field `name` as text, or nil.
    public func value(of name: StaticString) -> String? {
        withValue(of: name) { String(decoding: $0, as: UTF8.self) }
    }
}

/// Byte helpers for ASCII protocol text.
enum ASCII {
    /// The first `byte` in `bytes` at or after `start`. memchr, not a loop in Swift: searching a
    /// request head byte by byte for line ends cost six instructions a byte, twice per head.
    static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + start, Int32(byte), bytes.count - start) else { return nil }
        return UnsafeRawPointer(found) - base
    }

    /// RFC 9110 §5.6.2 tchar: the bytes of methods, header names and extension parameters.
    /// A bit per ASCII byte, not a switch over ranges: a header name is checked a byte at a time.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        byte < 64 ? tokenBitsLow >> byte & 1 != 0 : byte < 128 && tokenBitsHigh >> (byte - 64) & 1 != 0
    }

    /// `!#$%&'*+-.` and the digits (bytes 0-63).
    private static let tokenBitsLow: UInt64 = 0x03FF_6CFA_0000_0000
    /// Letters, `^_`|~` (bytes 64-127).
    private static let tokenBitsHigh: UInt64 = 0x57FF_FFFF_C7FF_FFFE

    /// RFC 9110 §5.5 field-value bytes: tab, visible ASCII, space and obs-text; not other
    /// controls or DEL. Eight bytes at a time while none of them is below 0x20 or DEL.
    static func isFieldValue(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index + 8 <= bytes.count {
            let word = bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            guard (ByteWord.below(0x20, word) | ByteWord.equal(0x7F, word)) & ByteWord.highs == 0 else { break }
            index += 8
        }
        while index < bytes.count {
            let byte = bytes[index]
            guard byte == 0x09 || (byte >= 0x20 && byte != 0x7F) else { return false }
            index += 1
        }
        return true
    }

    /// Compares `bytes` with `lowercase` ignoring the case of ASCII letters in `bytes`.
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count {
            var byte = bytes[bytes.startIndex + index]
            if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { byte |= 0x20 }
            if byte != expected[index] { return false }
        }
        return true
    }

    /// `bytes` without leading and trailing spaces and tabs.
    static func trim(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return UnsafeRawBufferPointer(rebasing: bytes[start..<end])
    }
}
