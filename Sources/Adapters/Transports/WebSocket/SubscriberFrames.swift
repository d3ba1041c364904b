// The constant frames of the subscriber flow, built once at start-up like shared replies.

/// Every fixed message of the Wavelog WebSocket protocol, pre-encoded.
public struct SubscriberFrames: Sendable {
    public let authOK = WebSocketFrameEncoder.text(#"{"type":"auth_ok"}"#)
    public let authRequired = WebSocketFrameEncoder.text(
        #"{"type":"error","code":"auth_required","message":"first frame must be {type:auth,token:...}"}"#)
    public let unauthorized = WebSocketFrameEncoder.text(
        #"{"type":"error","code":"unauthorized","message":"invalid or expired token"}"#)
    public let authExpired = WebSocketFrameEncoder.text(#"{"type":"error","code":"auth_expired","message":"token expired"}"#)
    public let closePolicy = WebSocketFrameEncoder.close(code: CloseCode.policyViolation)
    public let closeGoingAway = WebSocketFrameEncoder.close(code: CloseCode.goingAway, reason: "server shutting down")
    public let closeSlow = WebSocketFrameEncoder.close(code: CloseCode.tryAgainLater, reason: "too slow")

    public init() {}
}
