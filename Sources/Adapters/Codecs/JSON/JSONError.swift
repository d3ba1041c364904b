// Why a JSON document was refused, and where.

/// A JSON syntax or limit error at a byte offset.
public struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unexpectedEnd = "unexpected end of input"
        case unexpectedByte = "unexpected byte"
        case invalidNumber = "invalid number"
        case invalidEscape = "invalid escape"
        case invalidUTF8 = "invalid UTF-8"
        case controlCharacterInString = "control character in string"
        case tooDeep = "nesting too deep"
        case trailingBytes = "trailing bytes after the value"
        case notAnObject = "not a JSON object"
    }

    public let kind: Kind
    public let offset: Int

    public init(kind: Kind, offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    public var description: String { "json: \(kind.rawValue) at byte \(offset)" }
}
