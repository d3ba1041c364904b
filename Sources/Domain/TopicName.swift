// A validated topic name, compared byte for byte.

/// A topic name as docs/protocol.md "Internal API" defines it: 1...256 UTF-8 bytes and no
/// control characters.
///
/// Equality and hashing use the UTF-8 bytes, not Swift's canonical string equivalence:
/// a token bound to `café` (NFC) must not open `café` (NFD), just as the Go worker compares bytes.
public struct TopicName: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// docs/protocol.md "Internal API": at most 256 bytes.
    public static let maxByteCount = 256

    /// The name, as registered.
    public let value: String

    /// The topic the worker registers for itself
    /// (docs/protocol.md "Browser endpoint (WebSocket)", rule 4).
    public static let workerStatus = TopicName(uncheckedValue: "worker.status")

    /// Validates `candidate`; nil when it is empty, too long, or holds a control character.
    public init?(_ candidate: String) {
        let byteCount = candidate.utf8.count
        guard byteCount > 0, byteCount <= Self.maxByteCount else { return nil }
        for scalar in candidate.unicodeScalars where Self.isControl(scalar) {
            return nil
        }
        var copy = candidate
        copy.makeContiguousUTF8()
        value = copy
    }

    private init(uncheckedValue: String) {
        value = uncheckedValue
    }

    /// Marks a topic of a transport's own namespace. Registered topics hold no control
    /// character, so a namespaced topic can never equal one: a Pusher channel and a Wavelog
    /// topic of the same name are different topics by construction.
    static let namespaceMark: UInt8 = 0x01

    /// `name` in `namespace` (`\u{1}namespace\u{1}name`); nil when empty or over the length limit.
    public static func namespaced(_ namespace: String, _ name: String) -> TopicName? {
        guard !name.isEmpty else { return nil }
        var text = "\u{1}" + namespace + "\u{1}" + name
        guard text.utf8.count <= Self.maxByteCount else { return nil }
        text.makeContiguousUTF8()
        return TopicName(uncheckedValue: text)
    }

    /// A topic as it travels between nodes: a registrable name, or a namespaced one.
    public init?(wireValue: String) {
        if wireValue.utf8.first == Self.namespaceMark {
            let parts = wireValue.utf8.dropFirst().split(separator: Self.namespaceMark, maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let namespace = String(parts[0]), let name = String(parts[1]),
                let topic = TopicName.namespaced(namespace, name)
            else { return nil }
            self = topic
        } else {
            self.init(wireValue)
        }
    }

    /// Whether the topic belongs to a transport's namespace rather than to the registry.
    public var isNamespaced: Bool { value.utf8.first == Self.namespaceMark }

    /// Whether the topic is in `namespace`.
    public func isIn(namespace: String) -> Bool {
        guard isNamespaced else { return false }
        let rest = value.utf8.dropFirst()
        return rest.starts(with: namespace.utf8) && rest.dropFirst(namespace.utf8.count).first == Self.namespaceMark
    }

    /// The last `.`-separated segment, which legacy `session_id` tokens bind to.
    public var lastSegment: Substring {
        guard let dot = value.utf8.lastIndex(of: UInt8(ascii: ".")) else { return value[...] }
        return value[value.utf8.index(after: dot)...]
    }

    public var description: String { value }

    // Unicode category Cc: C0, DEL and C1 (what Go's unicode.IsControl reports).
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (scalar.value >= 0x7F && scalar.value < 0xA0)
    }

    // Every dictionary keyed by topic compares and hashes these; through UTF8View iteration
    // they cost 4,000 instructions a lookup. Names are contiguous UTF-8 (see init), so both run
    // over raw bytes; the view is the fallback for a bridged string that is not.
    public static func == (lhs: TopicName, rhs: TopicName) -> Bool {
        Bytes.equal(lhs.value, rhs.value)
    }

    public func hash(into hasher: inout Hasher) {
        let hashed: Void? = value.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if hashed == nil {
            var value = value
            value.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
    }

    public static func < (lhs: TopicName, rhs: TopicName) -> Bool {
        lhs.value.utf8.lexicographicallyPrecedes(rhs.value.utf8)
    }
}
