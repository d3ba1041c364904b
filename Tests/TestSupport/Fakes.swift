// Fakes of the ports, for application-level tests only.
public import Application
public import Domain
import Synchronization

/// Records every delivered event.
public final class RecordingSink: SubscriberSink {
    private let events = Mutex<[PublishedEvent]>([])

    public init() {}

    public func deliver(_ event: PublishedEvent) {
        events.withLock { $0.append(event) }
    }

    public var delivered: [PublishedEvent] { events.withLock { $0 } }
}

/// A bus that records what was published and reports a fixed node count.
public final class RecordingBus: ClusterBus {
    private let events = Mutex<[PublishedEvent]>([])
    public let nodeCount: Int?

    public init(nodeCount: Int? = nil) {
        self.nodeCount = nodeCount
    }

    public func publish(_ event: PublishedEvent) {
        events.withLock { $0.append(event) }
    }

    public var published: [PublishedEvent] { events.withLock { $0 } }

    public var health: ClusterHealth? { nil }

    public func start() throws {}
    public func shutdown() {}
}

/// A topic store over the pure registry, without locks' subtleties.
public final class FakeTopicStore: TopicStore {
    private let registry = Mutex(TopicRegistry())

    public init() {}

    public func register(_ topic: TopicName, meta: TopicMeta, ttl: Duration?, now: MonotonicTime) {
        registry.withLock { $0.register(topic, meta: meta, ttl: ttl, now: now) }
    }

    public func unregister(_ topic: TopicName, now: MonotonicTime) {
        registry.withLock { _ = $0.unregister(topic, now: now) }
    }

    public func lookup(_ topic: TopicName, now: MonotonicTime) -> TopicMeta? {
        registry.withLock { $0.lookup(topic, now: now) }
    }

    public func liveTopics(now: MonotonicTime) -> [TopicName] {
        registry.withLock { $0.liveTopics(now: now) }
    }

    public func reapExpired(now: MonotonicTime) -> Int {
        registry.withLock { $0.reap(now: now).count }
    }
}

/// A MAC that is easy to compute by hand: the first byte of the message repeated, XOR 0x5A.
/// Lets use-case tests mint tokens without OpenSSL.
public struct FakeAuthenticator: MessageAuthenticator {
    public init() {}

    public func authenticationCode(for message: UnsafeRawBufferPointer) -> MAC256 {
        var sum: UInt64 = 0x5A5A
        for byte in message { sum = sum &* 31 &+ UInt64(byte) }
        return MAC256(words: (sum, sum ^ 1, sum ^ 2, sum ^ 3))
    }

    /// A token over `claimsJSON` that this authenticator accepts.
    public func mint(claimsJSON: String) -> String {
        let header = Hex.encodeLowercase(Array(claimsJSON.utf8))
        let mac = Array(header.utf8).withUnsafeBytes { authenticationCode(for: $0) }
        return header + "." + mac.description
    }
}

/// Decodes claims written as `key=value;key=value` (integers or strings), for use-case tests
/// that must not depend on the JSON adapter.
public struct FakeClaimsDecoder: ClaimsDecoder {
    public init() {}

    public func decodeClaims(_ json: [UInt8]) -> ClaimFields? {
        let text = String(decoding: json, as: UTF8.self)
        guard text.hasPrefix("claims:") else { return nil }
        var fields = ClaimFields()
        for pair in text.dropFirst("claims:".count).split(separator: ";") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { return nil }
            let value: ClaimFields.Value = Int64(parts[1]).map { .integer($0) } ?? .string(parts[1])
            switch parts[0] {
            case "user_id": fields.userID = value
            case "topic": fields.topic = value
            case "session_id": fields.sessionID = value
            case "expires": fields.expires = value
            default: break
            }
        }
        return fields
    }
}

/// Statistics over the pure value, behind a mutex.
public final class FakeStatistics: SubscriptionStatisticsStore {
    private let counters = Mutex(SubscriptionStatistics())

    public init() {}

    public func recordSubscribed(topic: TopicName, userID: Int64) {
        counters.withLock { $0.recordSubscribed(topic: topic, userID: userID) }
    }

    public func recordUnsubscribed(topic: TopicName, userID: Int64) {
        counters.withLock { $0.recordUnsubscribed(topic: topic, userID: userID) }
    }

    public func snapshot() -> SubscriptionStatistics { counters.withLock { $0 } }
}

/// A roster whose reading the test sets; nil reads as a roster that cannot be read.
public final class FakeRoster: ClusterRoster {
    private let state = Mutex<RosterReading?>(nil)

    public init() {}

    public var reading: RosterReading? {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }

    public func start() throws {}
    public func shutdown() {}
}
