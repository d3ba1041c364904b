// A batch of webhook events as Pusher's wire format writes it.
internal import Domain

enum WebhookBody {
    /// `{"time_ms":<ms>,"events":[{"name":...,...},...]}`.
    static func encode(_ events: [WebhookEvent], timeMilliseconds: Int64) -> [UInt8] {
        var text = #"{"time_ms":\#(timeMilliseconds),"events":["#
        for (index, event) in events.enumerated() {
            if index > 0 { text += "," }
            text += encode(event)
        }
        text += "]}"
        return Array(text.utf8)
    }

    static func encode(_ event: WebhookEvent) -> String {
        let name = #"{"name":"\#(event.name)","#
        switch event {
        case .channelOccupied(let channel), .channelVacated(let channel), .cacheMiss(let channel):
            return name + #""channel":\#(JSONWriter.quoted(channel))}"#
        case .memberAdded(let channel, let userID), .memberRemoved(let channel, let userID):
            return name + #""channel":\#(JSONWriter.quoted(channel)),"user_id":\#(JSONWriter.quoted(userID))}"#
        case .clientEvent(let channel, let eventName, let data, let socketID, let userID):
            var text = name + #""channel":\#(JSONWriter.quoted(channel)),"event":\#(JSONWriter.quoted(eventName)),"#
            text += #""data":\#(JSONWriter.quoted(data)),"socket_id":\#(JSONWriter.quoted(socketID))"#
            if let userID { text += #","user_id":\#(JSONWriter.quoted(userID))"# }
            return text + "}"
        case .subscriptionCount(let channel, let count):
            return name + #""channel":\#(JSONWriter.quoted(channel)),"subscription_count":\#(count)}"#
        case .topicOccupied(let topic), .topicVacated(let topic):
            return name + #""topic":\#(JSONWriter.quoted(topic))}"#
        }
    }
}
