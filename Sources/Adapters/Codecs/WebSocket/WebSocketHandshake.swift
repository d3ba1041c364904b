// The opening handshake (RFC 6455 §4.2): validating the upgrade request and computing the accept key.

/// Validation of a client's opening handshake.
public enum WebSocketHandshake {
    /// RFC 6455 §1.3.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// Why a request is not an acceptable WebSocket handshake.
    public enum Refusal: Error, Equatable, Sendable {
        /// Not a WebSocket upgrade at all (method, headers, key) → 400.
        case notWebSocket
        /// `Sec-WebSocket-Version` other than 13 → 426 with `Sec-WebSocket-Version: 13`.
        case unsupportedVersion
    }

    /// Checks the upgrade headers; returns the client's key.
    public static func validate(_ head: HTTPRequestHead) -> Result<String, Refusal> {
        let headers = head.headers
        guard head.method == .get, head.minorVersion >= 1,
            let upgrade = headers.upgrade, upgrade.lowercased().split(separator: ",").contains(where: { $0.trimmingSpaces() == "websocket" }),
            headers.connectionUpgrade,
            let key = headers.secWebSocketKey, Base64.decodedCount(key) == 16
        else { return .failure(.notWebSocket) }
        guard headers.secWebSocketVersion == "13" else { return .failure(.unsupportedVersion) }
        return .success(key)
    }

    /// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)).
    public static func acceptValue(for key: String) -> String {
        let digest = Array((key + guid).utf8).withUnsafeBytes { OpenSSLDigest.sha1($0) }
        return Base64.encode(digest)
    }

    /// The 101 response, with the negotiated extensions if any.
    public static func response(key: String, extensions: String? = nil) -> EncodedFrame {
        EncodedFrame(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: \(acceptValue(for: key))\r\n"
                + (extensions.map { "Sec-WebSocket-Extensions: \($0)\r\n" } ?? "") + "\r\n")
    }

    /// permessage-deflate as the client offered it (every `Sec-WebSocket-Extensions` line), or nil.
    public static func deflateOffer(_ head: HTTPRequestHead) -> PermessageDeflate? {
        let offers = head.headers.fields.values(of: "sec-websocket-extensions")
        return offers.isEmpty ? nil : PermessageDeflate.negotiate(offers)
    }
}

/// Standard base64 (RFC 4648 §4), only what the handshake needs.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = bytes[index]
            let b1 = remaining > 1 ? bytes[index + 1] : 0
            let b2 = remaining > 2 ? bytes[index + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(remaining > 1 ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(remaining > 2 ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The decoded length of well-formed base64 text, or nil when it is not base64.
    public static func decodedCount(_ text: String) -> Int? {
        var text = text
        return text.withUTF8 { decodedCount($0) }
    }

    private static func decodedCount(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        guard bytes.count % 4 == 0, !bytes.isEmpty else { return nil }
        var padding = 0
        for (index, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: "=") {
                guard index >= bytes.count - 2 else { return nil }
                padding += 1
            } else {
                guard padding == 0, isDigit(byte) else { return nil }
            }
        }
        return bytes.count / 4 * 3 - padding
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "+"), UInt8(ascii: "/"):
            return true
        default:
            return false
        }
    }
}
