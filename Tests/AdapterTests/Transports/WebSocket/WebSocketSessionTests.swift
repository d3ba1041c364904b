// The WebSocket subscriber session on the engine, over loopback: auth, pushes shared with SSE
// subscribers of the same publish, refusals, token expiry, drain.
@testable import Adapters
import Application
import Domain
import Glibc
import Testing
import TestSupport

/// A minimal WebSocket client: masked text frames out, unmasked server frames in.
final class TestWebSocket {
    let socket: TestSocket

    init(_ node: NodeHarness, topic: String) throws {
        socket = try TestSocket(port: node.port)
        let head = try socket.get("/ws?topic=\(topic)", headers: [
            "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13", "Origin: http://127.0.0.1",
        ])
        precondition(head.hasPrefix("HTTP/1.1 101"), head)
    }

    func sendText(_ text: String) throws {
        let payload = Array(text.utf8)
        precondition(payload.count <= 0xFFFF)
        let mask: [UInt8] = [1, 2, 3, 4]
        let length: [UInt8] = payload.count < 126 ? [0x80 | UInt8(payload.count)] : [0x80 | 126, UInt8(payload.count >> 8), UInt8(payload.count & 0xFF)]
        try socket.send([0x81] + length + mask + payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
    }

    /// The next frame: opcode and payload.
    func frame() throws -> (UInt8, [UInt8]) {
        let header = try socket.receive(exactly: 2)
        var length = Int(header[1] & 0x7F)
        if length == 126 {
            let extended = try socket.receive(exactly: 2)
            length = Int(extended[0]) << 8 | Int(extended[1])
        } else if length == 127 {
            length = try socket.receive(exactly: 8).reduce(0) { $0 << 8 | Int($1) }
        }
        return (header[0] & 0x0F, try socket.receive(exactly: length))
    }

    func text() throws -> String {
        let (opcode, payload) = try frame()
        precondition(opcode == 0x1, "opcode \(opcode)")
        return String(decoding: payload, as: UTF8.self)
    }

    /// The close code of the next frame, which must be a close frame.
    func closeCode() throws -> Int {
        let (opcode, payload) = try frame()
        precondition(opcode == 0x8, "opcode \(opcode)")
        return Int(payload[0]) << 8 | Int(payload[1])
    }
}

@Suite(.serialized)
struct WebSocketSessionTests {
    static let authOK = #"{"type":"auth_ok"}"#

    @Test func oneSharedPublishReachesWebSocketAndSSESubscribersWithTheSamePayloadBytes() throws {
        let node = try NodeHarness()
        node.register("session.42")
        let socket = try TestWebSocket(node, topic: "session.42")
        try socket.sendText(#"{"type":"auth","token":"\#(node.token("session.42", userID: 7))"}"#)
        #expect(try socket.text() == Self.authOK)
        let stream = try TestSocket.stream(node, "/sse?topic=session.42", headers: ["Authorization: Bearer \(node.token("session.42", userID: 8))"])
        #expect(node.wait { node.subscribed == 2 })
        let status = node.broker.reportStatus(includeTopicLists: false)
        #expect((status.connectedSockets, status.connectedClients, status.activeTopicCount) == (2, 2, 1))
        let payload = #"{"é":[1, "\u00e9\n",null]}"#
        try node.publish("session.42", payload)
        #expect(try socket.text() == #"{"type":"push","payload":"# + payload + "}")
        #expect(String(decoding: try stream.receive(exactly: "event: push\ndata: \(payload)\n\n".utf8.count), as: UTF8.self) == "event: push\ndata: \(payload)\n\n")
    }

    @Test func aBadTokenGetsTheErrorFrameAndClose1008AndLeavesNoSubscription() throws {
        let node = try NodeHarness(NodeHarness.Options(loops: 1))
        node.register("session.42")
        let socket = try TestWebSocket(node, topic: "session.42")
        try socket.sendText(#"{"type":"auth","token":"\#(node.token("session.7"))"}"#)
        #expect(try socket.text() == #"{"type":"error","code":"unauthorized","message":"invalid or expired token"}"#)
        #expect(try socket.closeCode() == 1008)
        #expect(node.subscribed == 0)
        #expect(node.wait { node.onLoops { $0.openConnectionCount } == [0] })
    }

    @Test func anExpiredTokenSendsAuthExpiredAndCloses1008() throws {
        let clock = ManualClock()
        let node = try NodeHarness(manualClock: clock)
        node.register("session.42")
        let socket = try TestWebSocket(node, topic: "session.42")
        let expires = Int(clock.unixTime.seconds) + 10
        try socket.sendText(#"{"type":"auth","token":"\#(node.token("session.42", expires: expires))"}"#)
        #expect(try socket.text() == Self.authOK)
        // Valid through its last second; the expiry check runs every second of the loop's time.
        #expect(clock.advance(by: .seconds(10), running: node.group.loops))
        #expect(node.subscribed == 1, "ended before its last second")
        #expect(clock.advance(by: .seconds(1), running: node.group.loops))
        #expect(try socket.text() == #"{"type":"error","code":"auth_expired","message":"token expired"}"#)
        #expect(try socket.closeCode() == 1008)
        #expect(node.subscribed == 0)
    }

    @Test func drainSends1001ToEverySocket() throws {
        let node = try NodeHarness()
        node.register("room", requireToken: false)
        let sockets = try (0..<3).map { _ in try TestWebSocket(node, topic: "room") }
        for socket in sockets {
            try socket.sendText(#"{"type":"auth"}"#)
            #expect(try socket.text() == Self.authOK)
        }
        node.drain()
        for socket in sockets { #expect(try socket.closeCode() == 1001) }
    }

    @Test func aRefusedOriginIs403BeforeTheUpgradeButSSEWithoutOriginIsAdmitted() throws {
        var options = NodeHarness.Options(loops: 1)
        options.allowedOrigins = ["https://log.example.org"]
        let node = try NodeHarness(options)
        node.register("room", requireToken: false)
        let client = try TestSocket(port: node.port)
        let head = try client.get("/ws?topic=room", headers: [
            "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13",
        ])
        #expect(head.hasPrefix("HTTP/1.1 403"))
        _ = try TestSocket.stream(node, "/sse?topic=room")
        let refused = try TestSocket(port: node.port)
        #expect(try refused.get("/sse?topic=room", headers: ["Origin: https://evil.example"]).hasPrefix("HTTP/1.1 403"))
    }
}
