// Unmasked server frames, encoded once into shareable buffers (docs/development.md "Encode once").
public import Domain


/// Builds server-to-client frames (RFC 6455 §5.2; servers never mask).
public enum WebSocketFrameEncoder {
    public static let textOpcode: UInt8 = 0x1
    public static let binaryOpcode: UInt8 = 0x2
    public static let closeOpcode: UInt8 = 0x8
    public static let pingOpcode: UInt8 = 0x9
    public static let pongOpcode: UInt8 = 0xA

    /// Header bytes for a final frame of `length` payload bytes.
    static func headerLength(for length: Int) -> Int {
        length < 126 ? 2 : (length <= 0xFFFF ? 4 : 10)
    }

    static func writeHeader(_ out: UnsafeMutableRawBufferPointer, opcode: UInt8, length: Int, compressed: Bool = false) {
        // RSV1 marks a message compressed with permessage-deflate (RFC 7692 §6).
        out[0] = 0x80 | (compressed ? 0x40 : 0) | opcode
        if length < 126 {
            out[1] = UInt8(length)
        } else if length <= 0xFFFF {
            out[1] = 126
            out[2] = UInt8(length >> 8)
            out[3] = UInt8(length & 0xFF)
        } else {
            out[1] = 127
            for index in 0..<8 { out[2 + index] = UInt8(truncatingIfNeeded: UInt64(length) >> UInt64(56 - 8 * index)) }
        }
    }

    /// One frame whose payload is the concatenation of `parts`, encoded in a single allocation.
    public static func frame(opcode: UInt8, compressed: Bool = false, parts: [UnsafeRawBufferPointer]) -> EncodedFrame {
        let length = parts.reduce(0) { $0 + $1.count }
        let header = headerLength(for: length)
        return EncodedFrame(count: header + length) { out in
            writeHeader(out, opcode: opcode, length: length, compressed: compressed)
            var offset = header
            for part in parts where part.count > 0 {
                UnsafeMutableRawBufferPointer(rebasing: out[offset..<(offset + part.count)]).copyMemory(from: part)
                offset += part.count
            }
        }
    }

    public static func text(_ payload: [UInt8]) -> EncodedFrame {
        payload.withUnsafeBytes { frame(opcode: textOpcode, parts: [$0]) }
    }

    public static func text(_ payload: String) -> EncodedFrame {
        text(Array(payload.utf8))
    }

    public static func binary(_ payload: [UInt8]) -> EncodedFrame {
        payload.withUnsafeBytes { frame(opcode: binaryOpcode, parts: [$0]) }
    }

    public static func close(code: UInt16?, reason: String = "") -> EncodedFrame {
        guard let code else { return frame(opcode: closeOpcode, parts: []) }
        let payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8.prefix(123))
        return payload.withUnsafeBytes { frame(opcode: closeOpcode, parts: [$0]) }
    }

    public static func pong(_ payload: [UInt8]) -> EncodedFrame {
        payload.withUnsafeBytes { frame(opcode: pongOpcode, parts: [$0]) }
    }

    public static let ping = frame(opcode: pingOpcode, parts: [])

    private static let pushPrefix = Array(#"{"type":"push","payload":"#.utf8)
    private static let statusPrefix = Array(#"{"type":"status","payload":"#.utf8)
    private static let suffix: [UInt8] = [UInt8(ascii: "}")]

    /// `{"type":"push","payload":<payload>}` as one text frame: the only encoding a publish gets.
    public static func push(payload: [UInt8], offset: StreamPosition? = nil) -> EncodedFrame {
        let end = pushSuffix(offset)
        return pushPrefix.withUnsafeBytes { prefix in
            payload.withUnsafeBytes { body in
                end.withUnsafeBytes { end in frame(opcode: textOpcode, parts: [prefix, body, end]) }
            }
        }
    }

    /// `}`, or `,"offset":"<epoch>-<offset>"}` for a topic with history: only such topics'
    /// pushes carry the field, so clients that never asked for it never see it.
    private static func pushSuffix(_ offset: StreamPosition?) -> [UInt8] {
        guard let offset else { return suffix }
        return Array(",\"offset\":\"\(offset)\"}".utf8)
    }

    /// The push message deflated into one text frame with RSV1 (RFC 7692 §7.2.1), or the plain
    /// frame when it is shorter than `threshold` bytes or zlib has no stream to lend.
    public static func deflatedPush(payload: [UInt8], offset: StreamPosition? = nil, pool: DeflaterPool, threshold: Int) -> EncodedFrame {
        let end = pushSuffix(offset)
        let length = pushPrefix.count + payload.count + end.count
        guard length >= threshold else { return push(payload: payload, offset: offset) }
        var message = pushPrefix
        message.reserveCapacity(length)
        message.append(contentsOf: payload)
        message.append(contentsOf: end)
        let compressed = message.withUnsafeBytes { bytes in
            pool.compress(bytes) { frame(opcode: textOpcode, compressed: true, parts: [$0]) }
        }
        return compressed ?? push(payload: payload, offset: offset)
    }

    /// `{"type":"status","payload":<status>}` as one text frame.
    public static func status(_ statusJSON: [UInt8]) -> EncodedFrame {
        statusPrefix.withUnsafeBytes { prefix in
            statusJSON.withUnsafeBytes { body in
                suffix.withUnsafeBytes { end in frame(opcode: textOpcode, parts: [prefix, body, end]) }
            }
        }
    }
}
