// The close handshake over loopback: the server closes the TCP connection as soon as both close
// frames are exchanged (RFC 6455 §7.1.1), without waiting for the client's FIN. The linger
// deadline is set far beyond the socket's 10 s receive timeout, so only the handshake can end
// these cases in time.
@testable import Adapters
import Testing
import TestSupport

extension TestWebSocket {
    /// A masked close frame with `code`.
    func sendClose(code: UInt16) throws {
        let mask: [UInt8] = [9, 8, 7, 6]
        let payload = [UInt8(code >> 8), UInt8(code & 0xFF)]
        try socket.send([0x88, 0x80 | 2] + mask + payload.enumerated().map { $0.element ^ mask[$0.offset & 3] })
    }
}

@Suite(.serialized)
struct WebSocketCloseTests {
    func node() throws -> NodeHarness {
        var options = NodeHarness.Options(loops: 1)
        options.lingerTimeout = .seconds(600)
        let node = try NodeHarness(options)
        node.register("session.42")
        return node
    }

    @Test func afterTheServersCloseThePeersCloseFrameEndsTheConnectionAtOnce() throws {
        let node = try node()
        let socket = try TestWebSocket(node, topic: "session.42")
        try socket.sendText(#"{"type":"auth","token":"\#(node.token("session.7"))"}"#)
        #expect(try socket.text() == #"{"type":"error","code":"unauthorized","message":"invalid or expired token"}"#)
        #expect(try socket.closeCode() == 1008)
        // Messages after the server's close frame are ignored; the close frame completes it.
        try socket.sendText(#"{"type":"auth","token":"late"}"#)
        try socket.sendClose(code: 1008)
        #expect(try socket.socket.receiveUntilClosed().isEmpty)
        // Closed, not half-closed and lingering: the descriptor is gone while the client's side is open.
        #expect(node.wait { node.connectionBudget.current == 0 })
    }

    @Test func thePeersCloseIsAnsweredWithItsCodeAndTheConnectionEndsWithoutItsFIN() throws {
        let node = try node()
        let socket = try TestWebSocket(node, topic: "session.42")
        try socket.sendText(#"{"type":"auth","token":"\#(node.token("session.42"))"}"#)
        #expect(try socket.text() == WebSocketSessionTests.authOK)
        try socket.sendClose(code: 1000)
        #expect(try socket.closeCode() == 1000)
        #expect(try socket.socket.receiveUntilClosed().isEmpty)
        #expect(node.wait { node.connectionBudget.current == 0 })
        #expect(node.subscribed == 0)
    }
}
