// The server's messages of the Pusher protocol, as WebSocket text frames.
internal import Application
internal import Domain

/// Builds every server message. Constant ones are built once per transport; the rest once per
/// answer (a subscription, an error), never per delivery: events are built once per publish.
struct PusherFrames: Sendable {
    let pong = WebSocketFrameEncoder.text(#"{"event":"pusher:pong","data":{}}"#)
    let ping = WebSocketFrameEncoder.text(#"{"event":"pusher:ping","data":{}}"#)

    func connectionEstablished(socketID: String, activityTimeout: Int) -> EncodedFrame {
        let data = #"{"socket_id":"\#(socketID)","activity_timeout":\#(activityTimeout)}"#
        return WebSocketFrameEncoder.text(#"{"event":"pusher:connection_established","data":"# + JSONWriter.quoted(data) + "}")
    }

    static func errorMessage(code: UInt16?, _ message: String) -> EncodedFrame {
        let codeText = code.map(String.init) ?? "null"
        return WebSocketFrameEncoder.text(#"{"event":"pusher:error","data":{"code":\#(codeText),"message":"# + JSONWriter.quoted(message) + "}}")
    }

    /// `pusher:error` then the close frame with the same code: how an error ends a connection.
    static func fatal(code: UInt16, _ message: String) -> (preface: EncodedFrame, close: EncodedFrame) {
        (errorMessage(code: code, message), WebSocketFrameEncoder.close(code: code, reason: String(message.prefix(100))))
    }

    static func subscriptionSucceeded(channel: String, data: String = "{}") -> EncodedFrame {
        WebSocketFrameEncoder.text(
            #"{"event":"pusher_internal:subscription_succeeded","channel":"# + JSONWriter.quoted(channel)
                + #","data":"# + JSONWriter.quoted(data) + "}")
    }

    static func subscriptionError(channel: String, type: String, error: String, status: Int) -> EncodedFrame {
        WebSocketFrameEncoder.text(
            #"{"event":"pusher:subscription_error","channel":"# + JSONWriter.quoted(channel)
                + #","data":{"type":"# + JSONWriter.quoted(type) + #","error":"# + JSONWriter.quoted(error)
                + #","status":\#(status)}}"#)
    }

    static func cacheMiss(channel: String) -> EncodedFrame {
        WebSocketFrameEncoder.text(#"{"event":"pusher:cache_miss","channel":"# + JSONWriter.quoted(channel) + #","data":"{}"}"#)
    }

    static func signinSuccess(userData: String) -> EncodedFrame {
        let data = #"{"user_data":"# + JSONWriter.quoted(userData) + "}"
        return WebSocketFrameEncoder.text(#"{"event":"pusher:signin_success","data":"# + JSONWriter.quoted(data) + "}")
    }

    /// The `data` of a presence channel's `subscription_succeeded`.
    static func presenceData(_ members: [PresenceMember]) -> String {
        var ids: [String] = []
        var hash: [String] = []
        for member in members {
            ids.append(JSONWriter.quoted(member.userID))
            hash.append(JSONWriter.quoted(member.userID) + ":" + String(decoding: member.userInfo ?? Array("null".utf8), as: UTF8.self))
        }
        return #"{"presence":{"ids":["# + ids.joined(separator: ",") + #"],"hash":{"# + hash.joined(separator: ",")
            + #"},"count":\#(members.count)}}"#
    }

    /// An event message: `{"event":…,"channel":…,"data":…}`, with `data` the JSON value given
    /// (a string for events from the HTTP API), and `user_id` for client events on presence channels.
    static func event(name: String, channel: String, data: [UInt8], userID: String? = nil) -> [UInt8] {
        var bytes = Array(#"{"event":"#.utf8) + Array(JSONWriter.quoted(name).utf8)
        bytes += Array(#","channel":"#.utf8) + Array(JSONWriter.quoted(channel).utf8)
        bytes += Array(#","data":"#.utf8) + data
        if let userID { bytes += Array(#","user_id":"#.utf8) + Array(JSONWriter.quoted(userID).utf8) }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    static func memberAdded(channel: String, _ member: PresenceMember) -> [UInt8] {
        let data = #"{"user_id":"# + JSONWriter.quoted(member.userID) + #","user_info":"#
            + String(decoding: member.userInfo ?? Array("null".utf8), as: UTF8.self) + "}"
        return event(name: "pusher_internal:member_added", channel: channel, data: Array(JSONWriter.quoted(data).utf8))
    }

    /// `pusher_internal:watchlist_events` with one `online` or `offline` event.
    static func watchlistEvent(online: Bool, userIDs: [String]) -> EncodedFrame {
        let data = #"{"events":[{"name":"\#(online ? "online" : "offline")","user_ids":["# + userIDs.map(JSONWriter.quoted).joined(separator: ",") + "]}]}"
        return WebSocketFrameEncoder.text(#"{"event":"pusher_internal:watchlist_events","data":"# + JSONWriter.quoted(data) + "}")
    }

    static func memberRemoved(channel: String, userID: String) -> [UInt8] {
        let data = #"{"user_id":"# + JSONWriter.quoted(userID) + "}"
        return event(name: "pusher_internal:member_removed", channel: channel, data: Array(JSONWriter.quoted(data).utf8))
    }
}

/// The one wire format of the transport: the event message, published whole, in a text frame.
struct PusherEventEncoder: EventEncoder {
    var readsNamespacedTopics: Bool { true }

    func encode(_ event: PublishedEvent) -> EncodedFrame {
        WebSocketFrameEncoder.text(event.payload.bytes)
    }
}
