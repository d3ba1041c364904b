// How a topic's pushes are shaped: the operator's `topic_rules`, first match wins.

/// One rule: topics matching `pattern` get their pushes folded (`coalesce`), or only their
/// newest unsent one kept for a slow reader (`latestOnly`), or both; a rule with neither
/// exempts its topics from the rules after it.
public struct TopicRule: Hashable, Sendable {
    /// The longest coalescing window: a window is a delay every burst's last push waits.
    public static let longestWindow: Duration = .seconds(60)

    public let pattern: TopicPattern
    public let latestOnly: Bool
    /// The window of a burst; nil when pushes are not folded.
    public let coalesce: Duration?

    public init(pattern: TopicPattern, latestOnly: Bool = false, coalesce: Duration? = nil) {
        self.pattern = pattern
        self.latestOnly = latestOnly
        self.coalesce = coalesce
    }
}

/// The rules in their configured order. Namespaced topics (a transport's own channels) never
/// match: the rules shape the Wavelog protocol's pushes.
public struct TopicRules: Sendable, Equatable {
    public let rules: [TopicRule]

    public init(_ rules: [TopicRule] = []) {
        self.rules = rules
    }

    public var isEmpty: Bool { rules.isEmpty }

    public func rule(for topic: TopicName) -> TopicRule? {
        guard !rules.isEmpty, !topic.isNamespaced else { return nil }
        return rules.first { $0.pattern.matches(topic) }
    }
}
