// WebSocket decoding: the masked frames a browser sends (RFC 6455 §5.3: clients always mask).
import Adapters
import Benchmark

/// A final, masked client frame; payloads under 64 KiB are all this suite needs.
func maskedClientFrame(opcode: UInt8, payload: [UInt8], mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]) -> [UInt8] {
    precondition(payload.count <= 0xFFFF && mask.count == 4)
    var frame: [UInt8] = [0x80 | opcode]
    if payload.count < 126 {
        frame.append(0x80 | UInt8(payload.count))
    } else {
        frame += [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
    }
    frame += mask
    for (index, byte) in payload.enumerated() { frame.append(byte ^ mask[index % 4]) }
    return frame
}

/// True when `frame` decodes, in one call, into one whole message or control frame.
private func decodesWhole(_ frame: [UInt8], maxMessageBytes: Int) -> Bool {
    var parser = WebSocketFrameParser(maxMessageBytes: maxMessageBytes)
    guard case .event(_, let consumed)? = try? frame.withUnsafeBytes({ try parser.parse($0) }) else { return false }
    return consumed == frame.count
}

func registerWebSocketDecodingBenchmarks() {
    let maxMessageBytes = WebSocketSettings().maxMessageBytes
    let frames: [(name: String, bytes: [UInt8])] = [
        // The first message of every subscriber: ~200 bytes, so the 16-bit length header.
        ("auth message", maskedClientFrame(
            opcode: WebSocketFrameEncoder.textOpcode,
            payload: Array(#"{"type":"auth","token":"\#(Fixtures.token)"}"#.utf8))),
        // What `worker.status` subscribers send, and the shape of any short client message.
        ("status request", maskedClientFrame(
            opcode: WebSocketFrameEncoder.textOpcode, payload: Array(#"{"type":"status"}"#.utf8))),
        // A browser's answer to the server's empty ping every 30 s: what an idle subscriber sends.
        ("pong", maskedClientFrame(opcode: WebSocketFrameEncoder.pongOpcode, payload: [])),
    ]

    for (name, frame) in frames {
        requireFixture(decodesWhole(frame, maxMessageBytes: maxMessageBytes), "the \(name) frame does not decode whole")
        Benchmark("WebSocket: decode \(name)") { benchmark in
            // One parser per connection, as in WebSocketConnection: a whole message leaves it idle.
            var parser = WebSocketFrameParser(maxMessageBytes: maxMessageBytes)
            for _ in benchmark.scaledIterations {
                blackHole(try frame.withUnsafeBytes { try parser.parse($0) })
            }
        }
    }
}
