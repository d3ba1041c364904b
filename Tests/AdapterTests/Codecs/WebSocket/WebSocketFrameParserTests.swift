// The WebSocket decoder: every fixture whole, byte by byte, in random chunkings, and concatenated.
import Adapters
import Foundation
import Testing
import TestSupport

/// Builds a masked client frame.
func clientFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D], masked: Bool = true, forceLength: Int? = nil) -> [UInt8] {
    var frame: [UInt8] = [(fin ? 0x80 : 0) | rsv | opcode]
    let length = forceLength ?? payload.count
    let maskBit: UInt8 = masked ? 0x80 : 0
    if length < 126 {
        frame.append(maskBit | UInt8(length))
    } else if length <= 0xFFFF {
        frame += [maskBit | 126, UInt8(length >> 8), UInt8(length & 0xFF)]
    } else {
        frame.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: UInt64(length) >> UInt64(shift))) }
    }
    if masked {
        frame += mask
        frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    } else {
        frame += payload
    }
    return frame
}

struct WebSocketOutcome: Equatable {
    var events: [WebSocketEvent] = []
    var error: WebSocketProtocolError?
    var leftover = 0
}

/// Feeds `bytes` under `plan`; with `inflater`, as a connection that negotiated permessage-deflate.
func decodeWebSocket(_ bytes: [UInt8], plan: ChunkPlan, limit: Int = 4096, inflater: RawInflater? = nil) -> WebSocketOutcome {
    var parser = WebSocketFrameParser(maxMessageBytes: limit, inflater: inflater)
    var pending: [UInt8] = []
    var outcome = WebSocketOutcome()
    for chunk in plan.chunks(of: bytes) {
        pending += chunk
        parsing: while true {
            do {
                switch try withGuardBytes(pending, { try parser.parse($0) }) {
                case .needMoreBytes: break parsing
                case .fragment(let consumed): pending.removeFirst(consumed)
                case .event(let event, let consumed):
                    outcome.events.append(event)
                    pending.removeFirst(consumed)
                }
            } catch let error as WebSocketProtocolError {
                outcome.error = error
                return outcome
            } catch {
                Issue.record("unexpected \(error)")
                return outcome
            }
        }
    }
    outcome.leftover = pending.count
    return outcome
}

struct WebSocketFixture: CustomTestStringConvertible, Sendable {
    let name: String
    let bytes: [UInt8]
    let events: [WebSocketEvent]
    var testDescription: String { name }
}

enum WebSocketFixtures {
    static let hello = Array("Hello".utf8)
    static let valid: [WebSocketFixture] = [
        WebSocketFixture(name: "text", bytes: clientFrame(1, hello), events: [.text(hello)]),
        WebSocketFixture(name: "empty text", bytes: clientFrame(1, []), events: [.text([])]),
        WebSocketFixture(name: "binary", bytes: clientFrame(2, [0, 255, 1]), events: [.binary([0, 255, 1])]),
        WebSocketFixture(name: "16-bit length", bytes: clientFrame(1, [UInt8](repeating: 0x61, count: 300)), events: [.text([UInt8](repeating: 0x61, count: 300))]),
        WebSocketFixture(name: "64-bit length", bytes: clientFrame(2, [UInt8](repeating: 7, count: 70_000)), events: [.binary([UInt8](repeating: 7, count: 70_000))]),
        WebSocketFixture(name: "fragmented with interleaved ping", bytes: clientFrame(1, Array("Hel".utf8), fin: false) + clientFrame(9, [1, 2]) + clientFrame(0, Array("lo".utf8)), events: [.ping([1, 2]), .text(hello)]),
        WebSocketFixture(name: "utf-8 split across fragments", bytes: clientFrame(1, [0xCE], fin: false) + clientFrame(0, [0xBA, 0xE1, 0xBD], fin: false) + clientFrame(0, [0xB9]), events: [.text([0xCE, 0xBA, 0xE1, 0xBD, 0xB9])]),
        WebSocketFixture(name: "pong", bytes: clientFrame(10, [9]), events: [.pong([9])]),
        WebSocketFixture(name: "close with code and reason", bytes: clientFrame(8, [0x03, 0xE8] + Array("bye".utf8)), events: [.close(code: 1000, reason: Array("bye".utf8))]),
        WebSocketFixture(name: "empty close", bytes: clientFrame(8, []), events: [.close(code: nil, reason: [])]),
        WebSocketFixture(name: "close 4999", bytes: clientFrame(8, [0x13, 0x87]), events: [.close(code: 4999, reason: [])]),
        WebSocketFixture(name: "control payload of 125", bytes: clientFrame(9, [UInt8](repeating: 1, count: 125)), events: [.ping([UInt8](repeating: 1, count: 125))]),
    ]

    static let invalid: [(String, [UInt8], WebSocketProtocolError)] = [
        ("unmasked", clientFrame(1, hello, masked: false), .protocolError("client frame not masked")),
        ("rsv1", clientFrame(1, hello, rsv: 0x40), .protocolError("reserved bits set without an extension")),
        ("reserved opcode 3", clientFrame(3, []), .protocolError("reserved opcode")),
        ("reserved control opcode 11", clientFrame(11, []), .protocolError("reserved opcode")),
        ("fragmented ping", clientFrame(9, [], fin: false), .protocolError("fragmented control frame")),
        ("ping of 126", clientFrame(9, [UInt8](repeating: 1, count: 126)), .protocolError("control frame over 125 bytes")),
        ("continuation first", clientFrame(0, hello), .protocolError("continuation without a message")),
        ("text inside fragmented text", clientFrame(1, hello, fin: false) + clientFrame(1, hello), .protocolError("new message inside a fragmented one")),
        ("invalid utf-8", clientFrame(1, [0xCE, 0xBA, 0xFF]), .invalidUTF8),
        ("truncated utf-8 at the end", clientFrame(1, [0xE1, 0xBD]), .invalidUTF8),
        ("surrogate in utf-8", clientFrame(1, [0xED, 0xA0, 0x80]), .invalidUTF8),
        ("over the message limit", clientFrame(1, [UInt8](repeating: 0x61, count: 4097)), .messageTooBig),
        ("fragments over the limit", clientFrame(1, [UInt8](repeating: 0x61, count: 4000), fin: false) + clientFrame(0, [UInt8](repeating: 0x61, count: 97)), .messageTooBig),
        ("huge declared length", Array(clientFrame(2, [], forceLength: 1 << 40).prefix(14)), .messageTooBig),
        ("64-bit length with top bit", [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0], .protocolError("64-bit length with the top bit set")),
        ("one-byte close", clientFrame(8, [0x03]), .protocolError("close frame with a one-byte body")),
        ("close code 1005", clientFrame(8, [0x03, 0xED]), .protocolError("invalid close code 1005")),
        ("close code 999", clientFrame(8, [0x03, 0xE7]), .protocolError("invalid close code 999")),
        ("close code 2999", clientFrame(8, [0x0B, 0xB7]), .protocolError("invalid close code 2999")),
        ("close reason not utf-8", clientFrame(8, [0x03, 0xE8, 0xFF]), .invalidUTF8),
    ]
}

struct WebSocketFrameParserTests {
    @Test(arguments: WebSocketFixtures.valid)
    func decodesValidFramesUnderEveryChunking(_ fixture: WebSocketFixture) {
        let randomCount = fixture.bytes.count > 10_000 ? 5 : 100
        for plan in ChunkPlans.all(length: fixture.bytes.count, randomCount: randomCount) where !(fixture.bytes.count > 10_000 && plan.description == "byte by byte") {
            let outcome = decodeWebSocket(fixture.bytes, plan: plan, limit: 100_000)
            #expect(outcome == WebSocketOutcome(events: fixture.events), "\(plan)")
        }
    }

    @Test func concatenatedFixturesDecodeInOrder() {
        let small = WebSocketFixtures.valid.filter { $0.bytes.count < 1000 }
        let stream = small.flatMap(\.bytes)
        for plan in ChunkPlans.all(length: stream.count) {
            #expect(decodeWebSocket(stream, plan: plan).events == small.flatMap(\.events), "\(plan)")
        }
    }

    @Test(arguments: WebSocketFixtures.invalid.map(\.0))
    func refusesViolationsWithTheirCloseCode(_ name: String) {
        let (_, bytes, expected) = WebSocketFixtures.invalid.first { $0.0 == name }!
        for plan in ChunkPlans.all(length: bytes.count, randomCount: 30) {
            let outcome = decodeWebSocket(bytes, plan: plan)
            #expect(outcome.error == expected, "\(plan): \(outcome)")
        }
    }

    @Test func closeCodesOfErrors() {
        #expect(WebSocketProtocolError.protocolError("x").closeCode == 1002)
        #expect(WebSocketProtocolError.invalidUTF8.closeCode == 1007)
        #expect(WebSocketProtocolError.messageTooBig.closeCode == 1009)
    }

    @Test func oversizeIsRefusedFromTheHeaderAlone() throws {
        var parser = WebSocketFrameParser(maxMessageBytes: 4096)
        let header: [UInt8] = [0x81, 0xFE, 0x10, 0x01, 1, 2, 3, 4]  // declares 4097 bytes, sends none
        #expect(throws: WebSocketProtocolError.messageTooBig) { try header.withUnsafeBytes { _ = try parser.parse($0) } }
    }

    @Test func invalidUTF8FailsFastInTheFirstFragment() throws {
        var parser = WebSocketFrameParser(maxMessageBytes: 4096)
        let first = clientFrame(1, [0x61, 0xFF], fin: false)
        #expect(throws: WebSocketProtocolError.invalidUTF8) { try first.withUnsafeBytes { _ = try parser.parse($0) } }
    }

    @Test func everyPayloadLengthAroundTheWordSizeIsUnmaskedUnderAnyKeyAndCutting() {
        var generator = SeededGenerator(seed: 0x4D41_534B)
        for length in 0..<41 {
            let payload = (0..<length).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let key = (0..<4).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let bytes = clientFrame(2, payload, mask: key)
            for plan in ChunkPlans.all(length: bytes.count, randomCount: 5, seed: UInt64(length)) {
                #expect(decodeWebSocket(bytes, plan: plan).events == [.binary(payload)], "\(length) bytes, key \(key), \(plan)")
            }
        }
    }

    @Test func randomBytesEndInADefinedState() {
        var generator = SeededGenerator(seed: 7)
        for _ in 0..<3000 {
            let bytes = (0..<Int(generator.next() % 64)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let outcome = decodeWebSocket(bytes, plan: .whole(bytes.count))
            #expect(outcome.leftover <= bytes.count)
        }
    }
}

struct WebSocketHandshakeTests {
    @Test func acceptKeyOfRFC6455Example() {
        #expect(WebSocketHandshake.acceptValue(for: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func theSwitchingProtocolsAnswerCarriesTheAcceptKeyAndTheNegotiatedExtensions() {
        let plain = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
        #expect(WebSocketHandshake.response(key: "dGhlIHNhbXBsZSBub25jZQ==").copiedBytes == Array((plain + "\r\n").utf8))
        let deflate = WebSocketHandshake.response(key: "dGhlIHNhbXBsZSBub25jZQ==", extensions: "permessage-deflate; server_no_context_takeover")
        #expect(deflate.copiedBytes == Array((plain + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n").utf8))
    }

    @Test func base64OfEveryLengthUpToAFewBlocks() {
        // Against a reference written from RFC 4648's definition, bit by bit.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var generator = SystemRandomNumberGenerator()
        for count in 0..<40 {
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let bits = bytes.flatMap { byte in (0..<8).map { (byte >> (7 - $0)) & 1 } }
            var expected = stride(from: 0, to: bits.count, by: 6).map { start in
                let group = (start..<start + 6).map { $0 < bits.count ? Int(bits[$0]) : 0 }
                return alphabet[group.reduce(0) { $0 << 1 | $1 }]
            }
            while expected.count % 4 != 0 { expected.append("=") }
            #expect(Base64.encode(bytes) == String(expected), "\(bytes)")
        }
    }

    @Test func base64() {
        #expect(Base64.encode(Array("".utf8)) == "")
        #expect(Base64.encode(Array("f".utf8)) == "Zg==")
        #expect(Base64.encode(Array("fo".utf8)) == "Zm8=")
        #expect(Base64.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64.decodedCount("dGhlIHNhbXBsZSBub25jZQ==") == 16)
        #expect(Base64.decodedCount("not base64!") == nil)
        #expect(Base64.decodedCount("ab=c") == nil)
    }

    func head(_ raw: String) -> HTTPRequestHead {
        var parser = HTTPRequestParser()
        let bytes = Array(raw.utf8)
        guard case .request(let request, _) = try! bytes.withUnsafeBytes({ try parser.parse($0) }) else { fatalError("incomplete fixture") }
        return request.head
    }

    @Test func validatesUpgradeRequests() {
        let good = "GET /ws?topic=t HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        #expect(WebSocketHandshake.validate(head(good)) == .success("dGhlIHNhbXBsZSBub25jZQ=="))
        #expect(WebSocketHandshake.validate(head(good.replacingOccurrences(of: "Version: 13", with: "Version: 8"))) == .failure(.unsupportedVersion))
        #expect(WebSocketHandshake.validate(head(good.replacingOccurrences(of: "Upgrade: WebSocket\r\n", with: ""))) == .failure(.notWebSocket))
        #expect(WebSocketHandshake.validate(head(good.replacingOccurrences(of: "GET", with: "POST"))) == .failure(.notWebSocket))
        #expect(WebSocketHandshake.validate(head(good.replacingOccurrences(of: "dGhlIHNhbXBsZSBub25jZQ==", with: "c2hvcnQ="))) == .failure(.notWebSocket))
        #expect(WebSocketHandshake.validate(head(good.replacingOccurrences(of: "keep-alive, Upgrade", with: "keep-alive"))) == .failure(.notWebSocket))
    }

    @Test func pushFrameIsOneTextFrameAroundThePayloadBytes() {
        let payload = Array(#"{ "a" : "\u00e9" }"#.utf8)
        let frame = WebSocketFrameEncoder.push(payload: payload)
        let bytes = frame.copiedBytes
        let body = Array(#"{"type":"push","payload":"#.utf8) + payload + [UInt8(ascii: "}")]
        #expect(bytes == [0x81, UInt8(body.count)] + body)
    }

    @Test(arguments: [0, 125, 126, 65535, 65536])
    func serverFrameLengthsUseTheShortestForm(_ length: Int) {
        let frame = WebSocketFrameEncoder.binary([UInt8](repeating: 1, count: length)).copiedBytes
        let expectedHeader = length < 126 ? 2 : (length <= 65535 ? 4 : 10)
        #expect(frame.count == expectedHeader + length)
        #expect(frame[0] == 0x82)
        #expect(frame[1] & 0x80 == 0)  // servers never mask
    }
}

struct EncodedFrameTests {
    @Test func framesBuiltFromTextKeepTheirBytesWhileOtherMemoryIsReused() {
        // Regression: the [UInt8] initializer once copied through a pointer that had escaped its
        // closure, and 101 responses went out with freed memory in them (seen in release builds).
        var frames: [EncodedFrame] = []
        for index in 0..<200 {
            frames.append(EncodedFrame("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: \(index)\r\n\r\n"))
            _ = [UInt8](repeating: 0xEE, count: 64 + index)  // churn the allocator
        }
        for (index, frame) in frames.enumerated() {
            #expect(frame.copiedBytes == Array("HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: \(index)\r\n\r\n".utf8))
        }
    }
}
