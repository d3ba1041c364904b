// WebSocket close codes (RFC 6455 §7.4) and the protocol errors that carry them
// (docs/development.md "Errors carry their wire answer").

/// Close codes the worker sends or checks.
public enum CloseCode {
    public static let normal: UInt16 = 1000
    public static let goingAway: UInt16 = 1001
    public static let protocolError: UInt16 = 1002
    public static let invalidPayload: UInt16 = 1007
    public static let policyViolation: UInt16 = 1008
    public static let messageTooBig: UInt16 = 1009
    public static let internalError: UInt16 = 1011
    public static let serviceRestart: UInt16 = 1012
    public static let tryAgainLater: UInt16 = 1013

    /// RFC 6455 §7.4.1–7.4.2 and the IANA registry: the codes a peer may put in a close frame.
    /// 1005, 1006 and 1015 are reserved for reporting and never sent; 1016–2999 are unassigned.
    public static func isValidOnTheWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1011: return true
        case 1012...1014: return true  // Service restart, try again later, bad gateway (IANA).
        case 3000...4999: return true
        default: return false
        }
    }
}

/// A violation by the peer; the connection sends a close frame with `closeCode` and ends.
public enum WebSocketProtocolError: Error, Sendable, Equatable {
    case protocolError(String)
    case invalidUTF8
    case messageTooBig
    /// A compressed message that is not valid deflate data (RFC 7692 §8.1: fail the connection).
    case badCompressedData
    /// The server could not process the message (zlib without memory): 1011.
    case internalError

    public var closeCode: UInt16 {
        switch self {
        case .protocolError: return CloseCode.protocolError
        case .invalidUTF8, .badCompressedData: return CloseCode.invalidPayload
        case .messageTooBig: return CloseCode.messageTooBig
        case .internalError: return CloseCode.internalError
        }
    }
}
