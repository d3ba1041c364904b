// What the backend says about a topic when it registers it.

/// The metadata of a registered topic.
public struct TopicMeta: Hashable, Sendable {
    /// Whether subscribers must present a valid token bound to the topic.
    public var requireToken: Bool

    public init(requireToken: Bool) {
        self.requireToken = requireToken
    }

    /// A register request without `meta.require_token` requires a token: secure by default,
    /// unlike the upstream worker (docs/adr/0003).
    public static let secureDefault = TopicMeta(requireToken: true)
}
