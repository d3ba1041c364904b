// The close handshake as a value: every transition and every event that changes nothing.
import Adapters
import Testing

struct WebSocketCloseHandshakeTests {
    @Test func thePeerClosingFirstIsAnsweredWithItsCodeAndEndsTheHandshake() {
        var handshake = WebSocketCloseHandshake()
        #expect(handshake.deliversMessages)
        #expect(handshake.peerClosed(code: 1000) == .answerClose(code: 1000))
        #expect(handshake.state == .closed)
        #expect(handshake.peerClosed(code: 1000) == .none)
        #expect(handshake.closeRequested() == .none)
        #expect(!handshake.deliversMessages)
    }

    @Test func aCloseWithoutACodeIsAnsweredWithoutOne() {
        var handshake = WebSocketCloseHandshake()
        #expect(handshake.peerClosed(code: nil) == .answerClose(code: nil))
    }

    @Test func closingFirstSendsOurFrameDiscardsMessagesAndFinishesOnThePeersClose() {
        var handshake = WebSocketCloseHandshake()
        #expect(handshake.closeRequested() == .sendClose)
        #expect(handshake.state == .awaitingPeerClose)
        #expect(handshake.closeRequested() == .none)
        #expect(!handshake.deliversMessages)
        #expect(handshake.state == .awaitingPeerClose)
        #expect(handshake.peerClosed(code: 1001) == .finish)
        #expect(handshake.state == .closed)
    }

    @Test(arguments: [false, true])
    func theConnectionEndingEndsTheHandshakeInAnyState(_ closing: Bool) {
        var handshake = WebSocketCloseHandshake()
        if closing { _ = handshake.closeRequested() }
        handshake.connectionClosed()
        #expect(handshake.state == .closed)
        #expect(handshake.peerClosed(code: 1000) == .none)
        #expect(handshake.closeRequested() == .none)
    }
}
