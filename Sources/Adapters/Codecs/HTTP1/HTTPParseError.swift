// Why a request was refused, with the status that says so
// (docs/development.md "Errors carry their wire answer").

/// A request the parser refuses. The connection answers `status` and closes.
public enum HTTPParseError: Error, Sendable, Equatable {
    case badRequest(String)
    case headersTooLarge
    case payloadTooLarge
    case versionNotSupported

    public var status: HTTPStatus {
        switch self {
        case .badRequest: return .badRequest
        case .headersTooLarge: return .headersTooLarge
        case .payloadTooLarge: return .payloadTooLarge
        case .versionNotSupported: return .versionNotSupported
        }
    }
}
