// The constant frames of the subscriber flow, built once at start-up like shared replies.
public import Domain

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
    public let closeRestart = WebSocketFrameEncoder.close(code: CloseCode.serviceRestart, reason: "server restarting")
    public let closeSlow = WebSocketFrameEncoder.close(code: CloseCode.tryAgainLater, reason: "too slow")

    public init() {}

    /// `auth_ok` for a topic with history: its latest position, and whether a resume worked
    /// (only when the client asked for one). Built per subscription, which is not the push path.
    public static func authOK(recovered: Bool?, offset: StreamPosition?) -> EncodedFrame {
        var text = #"{"type":"auth_ok""#
        if let recovered { text += #","recovered":\#(recovered)"# }
        if let offset { text += #","offset":"\#(offset)""# }
        return WebSocketFrameEncoder.text(text + "}")
    }
}
