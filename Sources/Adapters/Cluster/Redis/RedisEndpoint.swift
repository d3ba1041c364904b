// Where the Redis server is and how to log in: parsed from `redis_url`.

/// A parsed `redis://[user:pass@]host[:port][/db]` URL (docs/protocol.md "Redis cluster"), or
/// `rediss://` for TLS.
public struct RedisEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?
    public var database: Int
    /// `rediss://`: the links run TLS (through `RedisTLSRelay`, since hiredis 0.14 has none).
    public var usesTLS = false
    /// How TLS links verify the server; set at start-up for a `rediss://` endpoint.
    public var tls: TLSClient?

    public init(host: String, port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
    }

    /// Parses `url`; the error text says what is wrong without echoing a password.
    public init(url: String) throws(RedisURLError) {
        let secure = url.hasPrefix("rediss://")
        guard url.hasPrefix("redis://") || secure else { throw RedisURLError("expected redis://[user:pass@]host:port/db or rediss://...") }
        var rest = Substring(url.dropFirst(secure ? "rediss://".count : "redis://".count))
        if let query = rest.firstIndex(of: "?") { rest = rest[..<query] }

        var pathPart: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            pathPart = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var username: String?
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let credentials = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = credentials.firstIndex(of: ":") {
                let user = try Self.percentDecoded(credentials[..<colon])
                username = user.isEmpty ? nil : user
                password = try Self.percentDecoded(credentials[credentials.index(after: colon)...])
            } else {
                // `redis://secret@host` is how some clients spell a password-only URL.
                password = try Self.percentDecoded(credentials)
            }
            if password?.isEmpty == true { password = nil }
        }

        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw RedisURLError("unterminated IPv6 address") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw RedisURLError("unexpected text after the IPv6 address")
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        guard !host.isEmpty else { throw RedisURLError("missing host") }

        var port = 6379
        if let portText {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else {
                throw RedisURLError("port must be 1-65535, got \"\(portText)\"")
            }
            port = parsed
        }
        var database = 0
        if !pathPart.isEmpty {
            guard let parsed = Int(pathPart), parsed >= 0 else {
                throw RedisURLError("database must be a number, got \"\(pathPart)\"")
            }
            database = parsed
        }
        self.init(host: String(host), port: port, username: username, password: password, database: database)
        usesTLS = secure
    }

    /// The URL with the password masked, for logs.
    public var description: String {
        let credentials = password == nil ? "" : "\(username ?? ""):***@"
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(usesTLS ? "rediss" : "redis")://\(credentials)\(hostPart):\(port)/\(database)"
    }

    private static func percentDecoded(_ text: Substring) throws(RedisURLError) -> String {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(HexDigit.value), let low = iterator.next().flatMap(HexDigit.value) else {
                throw RedisURLError("bad percent-encoding in the credentials")
            }
            bytes.append(high << 4 | low)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Why a `redis_url` was refused.
public struct RedisURLError: Error, Sendable, Equatable {
    public let reason: String

    init(_ reason: String) {
        self.reason = reason
    }
}
