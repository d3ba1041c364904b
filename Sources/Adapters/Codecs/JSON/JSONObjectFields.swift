// Named access to the members of a top-level JSON object.

/// The members of one top-level object, over the buffer they were read from.
///
/// Holds ranges only; valid while the caller keeps the buffer alive.
public struct JSONObjectFields {
    public let bytes: UnsafeBufferPointer<UInt8>
    public let fields: [JSONField]

    /// Parses `bytes` as one JSON object.
    public init(_ bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int = JSONReader.defaultMaxDepth) throws(JSONError) {
        self.bytes = bytes
        self.fields = try JSONReader.objectFields(bytes, maxDepth: maxDepth)
    }

    /// The last member named `name` (Go's encoding/json also lets the last duplicate win).
    public subscript(_ name: StaticString) -> JSONField? {
        fields.last { JSONText.key($0, in: bytes, equals: name) }
    }

    /// The decoded string value of `field`, or nil when it is not a string.
    public func string(_ field: JSONField) -> String? {
        guard field.kind == .string else { return nil }
        return JSONText.unescape(bytes, (field.valueRange.lowerBound + 1)..<(field.valueRange.upperBound - 1))
    }

    /// The integer value of `field`, or nil when it is not a plain integer.
    public func int64(_ field: JSONField) -> Int64? {
        guard field.kind == .number else { return nil }
        return JSONText.int64(bytes, field.valueRange)
    }

    /// The raw bytes of `field`'s value, copied out.
    public func rawValue(_ field: JSONField) -> [UInt8] {
        Array(bytes[field.valueRange])
    }

    /// The boolean value of `field`, or nil when it is not a boolean.
    public func bool(_ field: JSONField) -> Bool? {
        guard field.kind == .bool else { return nil }
        return bytes[field.valueRange.lowerBound] == UInt8(ascii: "t")
    }
}
