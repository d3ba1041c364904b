// A parsed HTTP/1.1 request: the head fields the worker uses, and the decoded body.
internal import Glibc

/// Request methods the worker distinguishes.
public enum HTTPMethod: Sendable, Equatable {
    case get, head, post, put, delete, options, patch, other(String)

    /// Methods are case-sensitive tokens (RFC 9110 §9.1), compared as bytes.
    init(_ token: UnsafeRawBufferPointer) {
        if token.holds("GET") {
            self = .get
        } else if token.holds("POST") {
            self = .post
        } else if token.holds("HEAD") {
            self = .head
        } else if token.holds("PUT") {
            self = .put
        } else if token.holds("DELETE") {
            self = .delete
        } else if token.holds("OPTIONS") {
            self = .options
        } else if token.holds("PATCH") {
            self = .patch
        } else {
            self = .other(String(decoding: token, as: UTF8.self))
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
    /// An `Upgrade` field lists `websocket` (any case).
    public var upgradeWebSocket = false
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
    /// The field lines as received, for any header not named above.
    public var fields = HTTPFieldBlock()

    public init() {}
}

/// The request line and headers.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: HTTPMethod
    /// The request target as sent (origin-form: path and query).
    public var target: String
    public var minorVersion: Int
    public var headers: HTTPHeaders

    // Targets are searched as UTF-8 bytes: a Character search runs grapheme breaking over every
    // byte, which cost 6,500 instructions per keep-alive publish (callgrind, bench/instructions.py).

    /// The path, without the query.
    public var path: Substring {
        target.utf8.firstIndex(of: UInt8(ascii: "?")).map { target[..<$0] } ?? target[...]
    }

    /// The query, without the `?`.
    public var query: Substring {
        target.utf8.firstIndex(of: UInt8(ascii: "?")).map { target[target.utf8.index(after: $0)...] } ?? ""
    }

    /// True when the path is exactly `literal`, byte for byte.
    public func pathIs(_ literal: StaticString) -> Bool {
        var target = target  // withUTF8 only copies a string that is not contiguous UTF-8 already
        return target.withUTF8 { bytes in
            let count = literal.utf8CodeUnitCount
            guard bytes.count == count || (bytes.count > count && bytes[count] == UInt8(ascii: "?")) else { return false }
            return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[0..<count]).holds(literal)
        }
    }

    /// Calls `body` with the path's bytes (no query); allocates nothing.
    public func withPathBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        var target = target
        return target.withUTF8 { bytes in
            let end = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.count
            return body(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes)[0..<end]))
        }
    }

    /// RFC 9112 §9.3: HTTP/1.1 persists unless `close`; HTTP/1.0 only with `keep-alive`.
    public var keepAlive: Bool {
        minorVersion >= 1 ? !headers.connectionClose : headers.connectionKeepAlive && !headers.connectionClose
    }

    /// The first value of query parameter `name`, percent-decoded. Over the target's bytes:
    /// through `Substring` views and a decoded copy of every key it cost 5,700 instructions
    /// per WebSocket handshake (callgrind).
    public func queryValue(_ name: String) -> String? {
        var target = target, name = name
        return target.withUTF8 { targetBytes in
            name.withUTF8 { nameBytes in
                let bytes = UnsafeRawBufferPointer(targetBytes), wanted = UnsafeRawBufferPointer(nameBytes)
                guard let mark = ASCII.index(of: UInt8(ascii: "?"), in: bytes) else { return nil }
                var pairStart = mark + 1
                while pairStart < bytes.count {
                    let pairEnd = ASCII.index(of: UInt8(ascii: "&"), in: bytes, from: pairStart) ?? bytes.count
                    let pair = UnsafeRawBufferPointer(rebasing: bytes[pairStart..<pairEnd])
                    pairStart = pairEnd + 1
                    let equals = ASCII.index(of: UInt8(ascii: "="), in: pair)
                    let key = UnsafeRawBufferPointer(rebasing: pair[0..<(equals ?? pair.count)])
                    guard !pair.isEmpty, PercentDecoding.component(key, equals: wanted) else { continue }
                    guard let equals else { return "" }
                    return PercentDecoding.decode(UnsafeRawBufferPointer(rebasing: pair[(equals + 1)...]))
                }
                return nil
            }
        }
    }
}

extension UnsafeRawBufferPointer {
    /// True when these bytes are exactly `literal`'s UTF-8.
    /// memcmp: the generic `elementsEqual` cost 500 instructions for a seven-byte method.
    func holds(_ literal: StaticString) -> Bool {
        count == literal.utf8CodeUnitCount && (count == 0 || memcmp(baseAddress!, literal.utf8Start, count) == 0)
    }

    /// True when these bytes begin with `literal`'s UTF-8.
    func begins(with literal: StaticString) -> Bool {
        count >= literal.utf8CodeUnitCount && UnsafeRawBufferPointer(rebasing: self[0..<literal.utf8CodeUnitCount]).holds(literal)
    }
}

/// A complete request.
public struct HTTPRequest: Sendable, Equatable {
    public var head: HTTPRequestHead
    public var body: [UInt8]
}
