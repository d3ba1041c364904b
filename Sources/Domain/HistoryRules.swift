// Which topics keep a history, and how much of it: the operator's `history` rules.

/// One rule: topics matching `pattern` keep their last `size` messages for `ttl`.
public struct HistoryRule: Hashable, Sendable {
    public static let sizeLimit = 10_000

    public let pattern: TopicPattern
    /// Messages kept per topic, 1...`sizeLimit`.
    public let size: Int
    public let ttl: Duration

    public init(pattern: TopicPattern, size: Int, ttl: Duration) {
        self.pattern = pattern
        self.size = size
        self.ttl = ttl
    }
}

/// The rules in their configured order; the first that matches a topic applies. Namespaced
/// topics (a transport's own channels) never match: the history is the Wavelog protocol's.
public struct HistoryRules: Sendable, Equatable {
    public let rules: [HistoryRule]

    public init(_ rules: [HistoryRule] = []) {
        self.rules = rules
    }

    public var isEmpty: Bool { rules.isEmpty }

    public func rule(for topic: TopicName) -> HistoryRule? {
        guard !rules.isEmpty, !topic.isNamespaced else { return nil }
        return rules.first { $0.pattern.matches(topic) }
    }
}
