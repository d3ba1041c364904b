// What the backend is told through webhooks: one event of a batch, in the Pusher wire vocabulary.

/// One webhook event. The names and fields are Pusher's (`channel_occupied`, `member_added`, ...)
/// plus two of this worker's own for Wavelog topics (`topic_occupied`, `topic_vacated`).
public enum WebhookEvent: Hashable, Sendable {
    case channelOccupied(channel: String)
    case channelVacated(channel: String)
    case memberAdded(channel: String, userID: String)
    case memberRemoved(channel: String, userID: String)
    /// `data` is the event's data as the client sent it (a JSON string's contents, unescaped).
    case clientEvent(channel: String, event: String, data: String, socketID: String, userID: String?)
    case cacheMiss(channel: String)
    case subscriptionCount(channel: String, count: Int)
    case topicOccupied(topic: String)
    case topicVacated(topic: String)

    /// The `name` field, which `event_types` filters on.
    public var name: String {
        switch self {
        case .channelOccupied: "channel_occupied"
        case .channelVacated: "channel_vacated"
        case .memberAdded: "member_added"
        case .memberRemoved: "member_removed"
        case .clientEvent: "client_event"
        case .cacheMiss: "cache_miss"
        case .subscriptionCount: "subscription_count"
        case .topicOccupied: "topic_occupied"
        case .topicVacated: "topic_vacated"
        }
    }

    public static let pusherNames: Set<String> = [
        "channel_occupied", "channel_vacated", "member_added", "member_removed", "client_event", "cache_miss", "subscription_count",
    ]
    public static let topicNames: Set<String> = ["topic_occupied", "topic_vacated"]
}

/// A webhook event of one app (or of the Wavelog topics, app `WebhookScope.topics`).
public struct ScopedWebhookEvent: Hashable, Sendable {
    public let scope: String
    public let event: WebhookEvent

    public init(scope: String, event: WebhookEvent) {
        self.scope = scope
        self.event = event
    }
}

public enum WebhookScope {
    /// The scope of Wavelog topic webhooks: no Pusher app id (digits only) can be this.
    public static let topics = "topics"
}
