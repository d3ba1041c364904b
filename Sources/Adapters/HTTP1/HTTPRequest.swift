// A parsed HTTP/1.1 request: the head fields the worker uses, and the decoded body.

/// Request methods the worker distinguishes.
public enum HTTPMethod: Sendable, Equatable {
    case get, head, post, put, delete, options, patch, other(String)

    init(_ token: Substring) {
        switch token {
        case "GET": self = .get
        case "HEAD": self = .head
        case "POST": self = .post
        case "PUT": self = .put
        case "DELETE": self = .delete
        case "OPTIONS": self = .options
        case "PATCH": self = .patch
        default: self = .other(String(token))
        }
    }
}

/// The header fields the worker reads; all others are validated and skipped.
public struct HTTPHeaders: Sendable, Equatable {
    public var contentLength: Int?
    public var chunked = false
    public var connectionClose = false
    public var connectionKeepAlive = false
    public var connectionUpgrade = false
    public var upgrade: String?
    public var expectContinue = false
    public var host: String?
    public var workerSecret: [UInt8]?
    public var secWebSocketKey: String?
    public var secWebSocketVersion: String?
    public var origin: String?
    public var forwardedFor: String?
    public var realIP: String?
    /// Every field line, read or not.
    public var count = 0

    public init() {}
}

/// The request line and headers.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: HTTPMethod
    /// The request target as sent (origin-form: path and query).
    public var target: String
    public var minorVersion: Int
    public var headers: HTTPHeaders

    /// The path, without the query.
    public var path: Substring {
        target.firstIndex(of: "?").map { target[..<$0] } ?? target[...]
    }

    /// The query, without the `?`.
    public var query: Substring {
        target.firstIndex(of: "?").map { target[target.index(after: $0)...] } ?? ""
    }

    /// RFC 9112 §9.3: HTTP/1.1 persists unless `close`; HTTP/1.0 only with `keep-alive`.
    public var keepAlive: Bool {
        minorVersion >= 1 ? !headers.connectionClose : headers.connectionKeepAlive && !headers.connectionClose
    }

    /// The first value of query parameter `name`, percent-decoded.
    public func queryValue(_ name: String) -> String? {
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = PercentDecoding.decode(parts[0]), key == name else { continue }
            return parts.count > 1 ? PercentDecoding.decode(parts[1]) : ""
        }
        return nil
    }
}

/// A complete request.
public struct HTTPRequest: Sendable, Equatable {
    public var head: HTTPRequestHead
    public var body: [UInt8]
}

/// `application/x-www-form-urlencoded` decoding of URL components.
public enum PercentDecoding {
    /// Decodes `%XX` and `+`; nil for a bad escape or invalid UTF-8.
    public static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hex), let low = iterator.next().flatMap(hex) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
