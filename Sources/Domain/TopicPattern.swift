// A topic pattern from the configuration: literal text where `*` matches any run of characters.

/// Matches topic names against an operator's pattern such as `contest_session.*`. A `*`
/// matches any run of characters (dots included, and none at all); every other character
/// matches itself. Compared byte by byte, without backtracking blow-up: at most O(n·m).
public struct TopicPattern: Hashable, Sendable, CustomStringConvertible {
    public let text: String
    private let parts: [[UInt8]]
    private let anchoredStart: Bool
    private let anchoredEnd: Bool

    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= TopicName.maxByteCount else { return nil }
        self.text = text
        let bytes = Array(text.utf8)
        anchoredStart = bytes.first != UInt8(ascii: "*")
        anchoredEnd = bytes.last != UInt8(ascii: "*")
        parts = bytes.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: true).map(Array.init)
    }

    public var description: String { text }

    public func matches(_ topic: TopicName) -> Bool {
        var name = topic.value
        return name.withUTF8 { matches($0) }
    }

    /// The greedy match of literal parts between stars: each part is found at its earliest
    /// place after the previous one, which is enough when stars match any run.
    func matches(_ name: UnsafeBufferPointer<UInt8>) -> Bool {
        if parts.isEmpty { return !anchoredStart || name.isEmpty }  // "*" (or "**")
        var position = 0
        for (index, part) in parts.enumerated() {
            let first = index == 0
            let last = index == parts.count - 1
            if first && anchoredStart {
                guard Self.hasPart(part, in: name, at: 0) else { return false }
                position = part.count
                if last && anchoredEnd { return name.count == part.count }
                continue
            }
            if last && anchoredEnd {
                let start = name.count - part.count
                return start >= position && Self.hasPart(part, in: name, at: start)
            }
            guard let found = Self.find(part, in: name, from: position) else { return false }
            position = found + part.count
        }
        return true
    }

    private static func hasPart(_ part: [UInt8], in name: UnsafeBufferPointer<UInt8>, at start: Int) -> Bool {
        guard start >= 0, start + part.count <= name.count else { return false }
        for index in 0..<part.count where name[start + index] != part[index] { return false }
        return true
    }

    private static func find(_ part: [UInt8], in name: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        var candidate = start
        while candidate + part.count <= name.count {
            if hasPart(part, in: name, at: candidate) { return candidate }
            candidate += 1
        }
        return nil
    }
}
