// Adapter: decodes token claims with the bounded JSON reader.
public import Application
public import Domain

/// Reads `user_id`, `topic`, `session_id` and `expires` from claims JSON.
public struct JSONClaimsDecoder: ClaimsDecoder {
    /// Claims are flat; nothing legitimate nests deeper.
    static let maxDepth = 8

    public init() {}

    public func decodeClaims(_ json: [UInt8]) -> ClaimFields? {
        json.withUnsafeBufferPointer { buffer -> ClaimFields? in
            guard let object = try? JSONObjectFields(buffer, maxDepth: Self.maxDepth) else { return nil }
            func value(_ name: StaticString) -> ClaimFields.Value? {
                // Go's encoding/json leaves a field untouched on null: treat it as absent.
                guard let field = object[name], field.kind != .null else { return nil }
                if let integer = object.int64(field) { return .integer(integer) }
                if let string = object.string(field) { return .string(string) }
                return .other
            }
            return ClaimFields(
                userID: value("user_id"), topic: value("topic"),
                sessionID: value("session_id"), expires: value("expires")
            )
        }
    }
}
