// A bounded, validating JSON reader that returns byte ranges instead of building values.

/// The type of a JSON value.
public enum JSONValueKind: Sendable, Equatable {
    case object, array, string, number, bool, null
}

/// One member of a top-level object: where its key and value lie in the input.
public struct JSONField: Sendable, Equatable {
    /// The key's bytes between its quotes (still escaped if `keyHasEscapes`).
    public let keyRange: Range<Int>
    public let keyHasEscapes: Bool
    /// The value's bytes, exactly as they appear in the input.
    public let valueRange: Range<Int>
    public let kind: JSONValueKind
}

/// Validates RFC 8259 JSON over a byte buffer without allocating values.
///
/// Payloads are forwarded byte for byte (docs/protocol.md "Internal API"), so the reader only
/// checks them and reports ranges. Bounded: recursion stops at `maxDepth`, and the caller bounds
/// the input size (1 MiB bodies, 4 KiB messages). Strings must be valid UTF-8, because they end
/// up in WebSocket text frames, which browsers drop on invalid UTF-8 (RFC 6455 §8.1).
public struct JSONReader: ~Copyable {
    /// Deep enough for any real payload, shallow enough that recursion cannot exhaust the stack.
    public static let defaultMaxDepth = 64

    private let bytes: UnsafeBufferPointer<UInt8>
    private let maxDepth: Int
    private var position = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// Checks that `bytes` holds exactly one JSON value, with optional surrounding whitespace.
    public static func validate(
        _ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth
    ) throws(JSONError) -> JSONValueKind {
        var reader = JSONReader(bytes, maxDepth: maxDepth)
        reader.skipWhitespace()
        let kind = try reader.value(depth: 0)
        try reader.expectEnd()
        return kind
    }

    /// Checks that `bytes` holds exactly one JSON object and returns its members in order.
    /// Duplicate keys are all returned; `JSONObjectFields` takes the last, as Go does.
    public static func objectFields(
        _ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth
    ) throws(JSONError) -> [JSONField] {
        var reader = JSONReader(bytes, maxDepth: maxDepth)
        reader.skipWhitespace()
        guard reader.peek() == UInt8(ascii: "{") else {
            if reader.position == bytes.count { throw JSONError(kind: .unexpectedEnd, offset: reader.position) }
            // Still validate, so garbage is reported as garbage rather than as "not an object".
            _ = try reader.value(depth: 0)
            try reader.expectEnd()
            throw JSONError(kind: .notAnObject, offset: 0)
        }
        var fields: [JSONField] = []
        reader.position += 1
        reader.skipWhitespace()
        if reader.peek() == UInt8(ascii: "}") {
            reader.position += 1
        } else {
            while true {
                let field = try reader.member(depth: 1)
                fields.append(field)
                reader.skipWhitespace()
                if try reader.endOfContainer(closing: UInt8(ascii: "}")) { break }
            }
        }
        try reader.expectEnd()
        return fields
    }

    /// Checks that `bytes` holds exactly one JSON array and returns where its elements lie.
    public static func arrayElements(
        _ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = defaultMaxDepth
    ) throws(JSONError) -> [(range: Range<Int>, kind: JSONValueKind)] {
        var reader = JSONReader(bytes, maxDepth: maxDepth)
        reader.skipWhitespace()
        guard reader.peek() == UInt8(ascii: "[") else {
            _ = try reader.value(depth: 0)
            try reader.expectEnd()
            throw JSONError(kind: .unexpectedByte, offset: 0)
        }
        var elements: [(range: Range<Int>, kind: JSONValueKind)] = []
        reader.position += 1
        reader.skipWhitespace()
        if reader.peek() == UInt8(ascii: "]") {
            reader.position += 1
        } else {
            while true {
                reader.skipWhitespace()
                let start = reader.position
                let kind = try reader.value(depth: 1)
                elements.append((start..<reader.position, kind))
                reader.skipWhitespace()
                if try reader.endOfContainer(closing: UInt8(ascii: "]")) { break }
            }
        }
        try reader.expectEnd()
        return elements
    }

    // MARK: - Grammar

    private mutating func value(depth: Int) throws(JSONError) -> JSONValueKind {
        guard let byte = peek() else { throw JSONError(kind: .unexpectedEnd, offset: position) }
        switch byte {
        case UInt8(ascii: "{"):
            try object(depth: depth + 1)
            return .object
        case UInt8(ascii: "["):
            try array(depth: depth + 1)
            return .array
        case UInt8(ascii: "\""):
            _ = try string()
            return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            try number()
            return .number
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        default:
            throw JSONError(kind: .unexpectedByte, offset: position)
        }
    }

    private mutating func object(depth: Int) throws(JSONError) {
        guard depth <= maxDepth else { throw JSONError(kind: .tooDeep, offset: position) }
        position += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            _ = try member(depth: depth)
            skipWhitespace()
            if try endOfContainer(closing: UInt8(ascii: "}")) { return }
        }
    }

    private mutating func member(depth: Int) throws(JSONError) -> JSONField {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else {
            throw JSONError(kind: peek() == nil ? .unexpectedEnd : .unexpectedByte, offset: position)
        }
        let keyStart = position + 1
        let keyHasEscapes = try string()
        let keyRange = keyStart..<(position - 1)
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else {
            throw JSONError(kind: peek() == nil ? .unexpectedEnd : .unexpectedByte, offset: position)
        }
        position += 1
        skipWhitespace()
        let valueStart = position
        let kind = try value(depth: depth)
        return JSONField(keyRange: keyRange, keyHasEscapes: keyHasEscapes, valueRange: valueStart..<position, kind: kind)
    }

    private mutating func array(depth: Int) throws(JSONError) {
        guard depth <= maxDepth else { throw JSONError(kind: .tooDeep, offset: position) }
        position += 1
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            _ = try value(depth: depth)
            skipWhitespace()
            if try endOfContainer(closing: UInt8(ascii: "]")) { return }
        }
    }

    // After a member or element: `,` continues (false), the closing bracket ends (true).
    private mutating func endOfContainer(closing: UInt8) throws(JSONError) -> Bool {
        guard let byte = peek() else { throw JSONError(kind: .unexpectedEnd, offset: position) }
        position += 1
        if byte == UInt8(ascii: ",") { return false }
        if byte == closing { return true }
        throw JSONError(kind: .unexpectedByte, offset: position - 1)
    }

    /// Consumes a string including its quotes; returns whether it held an escape.
    private mutating func string() throws(JSONError) -> Bool {
        position += 1
        var sawEscape = false
        skipPlainCharacters()
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return sawEscape
            case UInt8(ascii: "\\"):
                sawEscape = true
                try escape()
                skipPlainCharacters()
            case 0..<0x20:
                throw JSONError(kind: .controlCharacterInString, offset: position)
            case 0x20..<0x80:
                position += 1
            default:
                try utf8Sequence()
                skipPlainCharacters()
            }
        }
        throw JSONError(kind: .unexpectedEnd, offset: position)
    }

    /// Skips eight bytes at a time while none of them is a quote, a backslash, a control
    /// character or part of a multi-byte sequence: payloads are mostly such text, and a byte at a
    /// time through the switch below cost eight instructions a byte.
    @inline(__always)
    private mutating func skipPlainCharacters() {
        let raw = UnsafeRawPointer(bytes.baseAddress!)
        while position + 8 <= bytes.count {
            let word = raw.loadUnaligned(fromByteOffset: position, as: UInt64.self)
            let special = ByteWord.below(0x20, word) | ByteWord.equal(0x22, word) | ByteWord.equal(0x5C, word) | word
            guard special & ByteWord.highs == 0 else { return }
            position += 8
        }
    }

    private mutating func escape() throws(JSONError) {
        let start = position
        position += 1
        guard let byte = peek() else { throw JSONError(kind: .unexpectedEnd, offset: position) }
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
            UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 1
        case UInt8(ascii: "u"):
            position += 1
            for _ in 0..<4 {
                guard let digit = peek() else { throw JSONError(kind: .unexpectedEnd, offset: position) }
                guard HexDigit.value(digit) != nil else { throw JSONError(kind: .invalidEscape, offset: start) }
                position += 1
            }
        default:
            throw JSONError(kind: .invalidEscape, offset: start)
        }
    }

    // RFC 3629 §4: no overlong forms, no UTF-16 surrogates, nothing above U+10FFFF.
    private mutating func utf8Sequence() throws(JSONError) {
        let start = position
        guard let lead = UTF8Lead(bytes[position]), position + lead.length <= bytes.count else {
            throw JSONError(kind: .invalidUTF8, offset: start)
        }
        let second = bytes[position + 1]
        guard second >= lead.secondLower, second <= lead.secondUpper else { throw JSONError(kind: .invalidUTF8, offset: start) }
        for index in (position + 2)..<(position + lead.length) where bytes[index] & 0xC0 != 0x80 {
            throw JSONError(kind: .invalidUTF8, offset: start)
        }
        position += lead.length
    }

    private mutating func number() throws(JSONError) {
        let start = position
        if peek() == UInt8(ascii: "-") { position += 1 }
        guard let first = peek(), isDigit(first) else { throw JSONError(kind: .invalidNumber, offset: start) }
        position += 1
        if first != UInt8(ascii: "0") { skipDigits() }
        if peek() == UInt8(ascii: ".") {
            position += 1
            guard let digit = peek(), isDigit(digit) else { throw JSONError(kind: .invalidNumber, offset: start) }
            skipDigits()
        }
        if let e = peek(), e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            position += 1
            if let sign = peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { position += 1 }
            guard let digit = peek(), isDigit(digit) else { throw JSONError(kind: .invalidNumber, offset: start) }
            skipDigits()
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let start = position
        let count = word.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw JSONError(kind: .unexpectedEnd, offset: start) }
        let expected = UnsafeBufferPointer(start: word.utf8Start, count: count)
        for offset in 0..<count where bytes[position + offset] != expected[offset] {
            throw JSONError(kind: .unexpectedByte, offset: position + offset)
        }
        position += count
    }

    // MARK: - Bytes

    private func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    private func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    private mutating func skipDigits() {
        while let byte = peek(), isDigit(byte) { position += 1 }
    }

    private mutating func skipWhitespace() {
        while let byte = peek(),
            byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
        {
            position += 1
        }
    }

    private mutating func expectEnd() throws(JSONError) {
        skipWhitespace()
        guard position == bytes.count else { throw JSONError(kind: .trailingBytes, offset: position) }
    }
}
