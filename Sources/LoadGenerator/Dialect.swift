// What differs between the servers under test: how to subscribe, authenticate and publish.
import COpenSSL

enum Dialect: String {
    /// wavelog-worker (or the upstream Go worker): `/ws?topic=`, an auth frame, `/internal/publish`.
    case worker
    /// nginx + nchan: WebSocket `/sub/T`, `POST /pub?id=T`, no authentication.
    case nchan
    /// wavelog-worker's Pusher transport: `/app/{key}`, a signed subscription to `private-T`,
    /// and the signed HTTP API (app `pusherAppID`, key `pusherKey`, the run's secret as its secret).
    case pusher

    static let pusherAppID = "1"
    static let pusherKey = "bench-key"

    /// The Pusher channel a topic maps to: private, so every set-up checks a signature.
    static func pusherChannel(_ topic: String) -> String { "private-" + topic }

    /// The request that opens an `EventSource` stream: the worker's `/sse` with the token in the
    /// query (as a browser must send it), or nchan's `/sub/T` asked for `text/event-stream`.
    func streamRequest(topic: String, port: UInt16, secret: String) -> [UInt8] {
        let path = self == .worker ? "/sse?topic=\(topic)&token=\(Token.mint(topic: topic, secret: secret))" : "/sub/\(topic)"
        return Array((
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: text/event-stream\r\n"
            + "Cache-Control: no-cache\r\nOrigin: http://127.0.0.1\r\n\r\n").utf8)
    }

    /// - Parameter deflate: offer permessage-deflate, as browsers do.
    func handshake(topic: String, port: UInt16, deflate: Bool = false) -> [UInt8] {
        let path = self == .worker ? "/ws?topic=\(topic)" : self == .pusher ? "/app/\(Self.pusherKey)?protocol=7" : "/sub/\(topic)"
        return Array((
            "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            + (deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "")
            + "Origin: http://127.0.0.1\r\n\r\n").utf8)
    }

    /// The masked frame a subscriber sends once upgraded; nil when the server wants none.
    func authFrame(topic: String, secret: String) -> [UInt8]? {
        guard self == .worker else { return nil }
        let token = Token.mint(topic: topic, secret: secret)
        return ClientFrame.maskedText(Array("{\"type\":\"auth\",\"token\":\"\(token)\"}".utf8))
    }

    /// The HTTP request that publishes `payload` to `topic`, as PHP's curl sends it.
    func publishRequest(topic: String, payload: [UInt8], secret: String, port: UInt16) -> [UInt8] {
        switch self {
        case .worker:
            let body = Array("{\"topic\":\"\(topic)\",\"payload\":".utf8) + payload + [UInt8(ascii: "}")]
            return Array((
                "POST /internal/publish HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: */*\r\n"
                + "X-Worker-Secret: \(secret)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.count)\r\n\r\n").utf8) + body
        case .pusher:
            // `data` is a string: the payload, quoted (it holds no character that needs more).
            let quoted = String(decoding: payload, as: UTF8.self).replacingQuotes()
            let body = Array("{\"name\":\"bench\",\"channel\":\"\(Self.pusherChannel(topic))\",\"data\":\"\(quoted)\"}".utf8)
            let path = "/apps/\(Self.pusherAppID)/events"
            let query = "auth_key=\(Self.pusherKey)&auth_timestamp=\(Clock.unixSeconds())&auth_version=1.0&body_md5=\(Token.hex(Token.md5(body)))"
            let signature = Token.hex(Token.hmac(Array("POST\n\(path)\n\(query)".utf8), secret: secret))
            return Array((
                "POST \(path)?\(query)&auth_signature=\(signature) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: */*\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n").utf8) + body
        case .nchan:
            return Array((
                "POST /pub?id=\(topic) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nAccept: */*\r\n"
                + "Content-Type: application/json\r\nContent-Length: \(payload.count)\r\n\r\n").utf8) + payload
        }
    }

    /// Setup the server needs before subscribers come (the worker's topic registry).
    func registerRequest(topic: String, secret: String, port: UInt16) -> [UInt8]? {
        guard self == .worker else { return nil }
        let body = "{\"topic\":\"\(topic)\",\"meta\":{\"require_token\":true}}"
        return Array((
            "POST /internal/register HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nX-Worker-Secret: \(secret)\r\n"
            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)").utf8)
    }

    /// A frame that tells the subscriber it is in; nchan has none, the 101 is enough.
    var waitsForAuthReply: Bool { self != .nchan }

    /// The Pusher subscription a socket sends once it knows its `socket_id`; on a presence
    /// channel the socket is a user of its own, named by its `socket_id`.
    static func pusherSubscribe(topic: String, socketID: String, secret: String, presence: Bool = false) -> [UInt8] {
        guard presence else {
            let channel = pusherChannel(topic)
            let signature = Token.hex(Token.hmac(Array("\(socketID):\(channel)".utf8), secret: secret))
            return ClientFrame.maskedText(Array(
                "{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"\(channel)\",\"auth\":\"\(pusherKey):\(signature)\"}}".utf8))
        }
        let channel = "presence-" + topic
        let channelData = "{\"user_id\":\"\(socketID)\"}"
        let signature = Token.hex(Token.hmac(Array("\(socketID):\(channel):\(channelData)".utf8), secret: secret))
        let quoted = "{\\\"user_id\\\":\\\"\(socketID)\\\"}"
        return ClientFrame.maskedText(Array(
            ("{\"event\":\"pusher:subscribe\",\"data\":{\"channel\":\"\(channel)\",\"auth\":\"\(pusherKey):\(signature)\","
                + "\"channel_data\":\"\(quoted)\"}}").utf8))
    }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var out = ""
        for character in self { out += character == "\"" ? "\\\"" : String(character) }
        return out
    }
}

/// Tokens as docs/protocol.md "Tokens" and PHP's `hash_hmac` mint them.
enum Token {
    static func mint(topic: String, secret: String) -> String {
        let claims = "{\"user_id\":0,\"topic\":\"\(topic)\",\"expires\":4102444800}"
        let head = hex(Array(claims.utf8))
        return head + "." + hex(hmac(Array(head.utf8), secret: secret))
    }

    static func hmac(_ message: [UInt8], secret: String) -> [UInt8] {
        var mac = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        let key = Array(secret.utf8)
        _ = HMAC(EVP_sha256(), key, Int32(key.count), message, message.count, &mac, &length)
        return mac
    }

    static func md5(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 16)
        _ = MD5(bytes, bytes.count, &digest)
        return digest
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Client-to-server frames must be masked (RFC 6455 5.3); a fixed key is fine for a load test.
enum ClientFrame {
    static let maskKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

    static func maskedText(_ payload: [UInt8]) -> [UInt8] { masked(opcode: 0x1, payload) }

    static func masked(opcode: UInt8, _ payload: [UInt8]) -> [UInt8] {
        var frame: [UInt8] = [0x80 | opcode]
        if payload.count < 126 {
            frame.append(0x80 | UInt8(payload.count))
        } else {
            frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        }
        frame += maskKey
        for (index, byte) in payload.enumerated() { frame.append(byte ^ maskKey[index & 3]) }
        return frame
    }
}
