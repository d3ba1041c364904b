// The opening handshake (RFC 6455 §4.2): validating the upgrade request and computing the accept key.

/// Validation of a client's opening handshake.
public enum WebSocketHandshake {
    /// RFC 6455 §1.3.
    static let guid: StaticString = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

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
            headers.upgradeWebSocket, headers.connectionUpgrade,
            let key = headers.secWebSocketKey, Base64.decodedCount(key) == 16
        else { return .failure(.notWebSocket) }
        guard headers.secWebSocketVersion == "13" else { return .failure(.unsupportedVersion) }
        return .success(key)
    }

    /// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + GUID)).
    public static func acceptValue(for key: String) -> String {
        String(unsafeUninitializedCapacity: acceptCount) { out in
            writeAccept(for: key, into: UnsafeMutableRawPointer(out.baseAddress!))
            return acceptCount
        }
    }

    /// The 101 response, with the negotiated extensions if any. Written straight into the frame:
    /// built from interpolated strings it cost 11,000 instructions a handshake (callgrind), most of
    /// them string growth, a third of what a connection's set-up costs the worker in user space.
    public static func response(key: String, extensions: String? = nil) -> EncodedFrame {
        let extensionsCount = extensions.map { extensionsField.utf8CodeUnitCount + $0.utf8.count } ?? 0
        let count = responseHead.utf8CodeUnitCount + acceptCount + extensionsCount + responseEnd.utf8CodeUnitCount
        return EncodedFrame(count: count) { out in
            var cursor = out.baseAddress!
            cursor = append(responseHead, at: cursor)
            writeAccept(for: key, into: cursor)
            cursor += acceptCount
            if var value = extensions {
                cursor = append(extensionsField, at: cursor)
                value.withUTF8 { value in
                    cursor.copyMemory(from: value.baseAddress!, byteCount: value.count)
                    cursor += value.count
                }
            }
            _ = append(responseEnd, at: cursor)
        }
    }

    private static let responseHead: StaticString =
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
    private static let extensionsField: StaticString = "\r\nSec-WebSocket-Extensions: "
    private static let responseEnd: StaticString = "\r\n\r\n"
    /// Base64 of a 20-byte SHA-1 digest.
    private static let acceptCount = 28

    private static func append(_ text: StaticString, at cursor: UnsafeMutableRawPointer) -> UnsafeMutableRawPointer {
        cursor.copyMemory(from: text.utf8Start, byteCount: text.utf8CodeUnitCount)
        return cursor + text.utf8CodeUnitCount
    }

    /// Writes the 28 bytes of the accept value at `out`.
    private static func writeAccept(for key: String, into out: UnsafeMutableRawPointer) {
        var key = key
        withUnsafeTemporaryAllocation(byteCount: 20, alignment: 8) { digest in
            key.withUTF8 { keyBytes in
                OpenSSLDigest.sha1(UnsafeRawBufferPointer(keyBytes), UnsafeRawBufferPointer(start: guid.utf8Start, count: guid.utf8CodeUnitCount),
                                   into: digest.baseAddress!)
            }
            Base64.encode(UnsafeRawBufferPointer(digest), into: out)
        }
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
        let count = (bytes.count + 2) / 3 * 4
        return String(unsafeUninitializedCapacity: count) { out in
            bytes.withUnsafeBytes { encode($0, into: UnsafeMutableRawPointer(out.baseAddress!)) }
            return count
        }
    }

    /// Writes the (count + 2) / 3 * 4 bytes of the encoding of `bytes` at `out`.
    static func encode(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutableRawPointer) {
        var index = 0, cursor = out
        while index < bytes.count {
            let remaining = bytes.count - index
            let b0 = bytes[index]
            let b1 = remaining > 1 ? bytes[index + 1] : 0
            let b2 = remaining > 2 ? bytes[index + 2] : 0
            cursor.storeBytes(of: alphabet[Int(b0 >> 2)], toByteOffset: 0, as: UInt8.self)
            cursor.storeBytes(of: alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)], toByteOffset: 1, as: UInt8.self)
            cursor.storeBytes(of: remaining > 1 ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="), toByteOffset: 2, as: UInt8.self)
            cursor.storeBytes(of: remaining > 2 ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="), toByteOffset: 3, as: UInt8.self)
            index += 3
            cursor += 4
        }
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
