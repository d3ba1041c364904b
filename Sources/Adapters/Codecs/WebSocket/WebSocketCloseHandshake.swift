// The WebSocket close handshake (RFC 6455 §7) as a value: each event returns what to do.

/// Where a connection stands in the close handshake.
///
/// Either side may start it. When the peer starts, we answer with a close frame echoing its code
/// and close the TCP connection once the answer is written. When we start, we send our close
/// frame, keep reading (discarding messages) until the peer's close frame arrives, and then
/// close the TCP connection at once: the server closes first (§7.1.1). A peer that never
/// answers is cut off by the connection's linger deadline.
public struct WebSocketCloseHandshake: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case open
        /// Our close frame is sent (or queued); the peer's is awaited.
        case awaitingPeerClose
        /// Both close frames are accounted for, or the connection is gone.
        case closed
    }

    public enum Action: Sendable, Equatable {
        case none
        /// Send our close frame (after any preface), then wait for the peer's.
        case sendClose
        /// Answer the peer's close with ours, echoing `code`, and close once it is written.
        case answerClose(code: UInt16?)
        /// The handshake is complete: close the TCP connection once what is queued is written.
        case finish
    }

    public private(set) var state: State = .open

    public init() {}

    /// We decided to close (an error, a timeout, shutdown, a slow consumer).
    public mutating func closeRequested() -> Action {
        guard state == .open else { return .none }
        state = .awaitingPeerClose
        return .sendClose
    }

    /// Whether a data message that arrives now goes to the endpoint: not once a close frame went
    /// out (RFC 6455 §1.4: after sending a close frame, an endpoint ignores further data).
    public var deliversMessages: Bool { state == .open }

    /// The peer's close frame arrived.
    public mutating func peerClosed(code: UInt16?) -> Action {
        switch state {
        case .open:
            state = .closed
            return .answerClose(code: code)
        case .awaitingPeerClose:
            state = .closed
            return .finish
        case .closed:
            return .none
        }
    }

    /// The TCP connection ended, by either side or a deadline.
    public mutating func connectionClosed() {
        state = .closed
    }
}
