// The node's webhook endpoints: where each app's events, and the Wavelog topics', go.
public import Application
public import Domain
public import Logging

/// Every configured endpoint, each with its own sender thread, by scope (a Pusher app id, or
/// `WebhookScope.topics`). `emit` hands an event to the endpoints of its scope that take its
/// name; it never waits on the network, so it may be called under a node's lock.
public final class Webhooks: LifecycleService, @unchecked Sendable {
    public struct Settings: Sendable {
        /// How long vacated and member removed wait.
        public var delay: Duration = .seconds(3)
        public var queue = WebhookQueue.Settings()
        public var caFile: String?
        public init() {}
    }

    public let settings: Settings
    // Written in init, read-only afterwards.
    private let senders: [String: [WebhookSender]]
    private let clock: any Clock
    /// How long a stopping node keeps sending what it has queued.
    static let stopBudget: Duration = .seconds(2)

    public init(apps: [PusherAppSettings], topicTargets: [WebhookTarget], workerSecret: SharedSecret, settings: Settings, clock: any Clock, logger: Logger) {
        self.settings = settings
        self.clock = clock
        var senders: [String: [WebhookSender]] = [:]
        for app in apps {
            senders[app.id] = app.webhooks.map { target in
                WebhookSender(
                    scope: app.id, target: target, secret: Array(app.secret.utf8), signatureName: "X-Pusher-Signature",
                    headers: ["X-Pusher-Key: \(app.key)"], settings: settings.queue, caFile: settings.caFile, clock: clock, logger: logger)
            }
        }
        senders[WebhookScope.topics] = topicTargets.map { target in
            WebhookSender(
                scope: WebhookScope.topics, target: target, secret: workerSecret.bytes, signatureName: "X-Worker-Signature", headers: [],
                settings: settings.queue, caFile: settings.caFile, clock: clock, logger: logger)
        }
        self.senders = senders.filter { !$0.value.isEmpty }
    }

    /// Whether any endpoint takes events of `scope`.
    public func wants(_ scope: String) -> Bool { senders[scope] != nil }

    /// Whether any endpoint of `scope` takes events named `name`.
    public func wants(_ scope: String, _ name: String) -> Bool { senders[scope]?.contains { $0.target.wants(name) } ?? false }

    public func emit(_ event: ScopedWebhookEvent) {
        for sender in senders[event.scope] ?? [] where sender.target.wants(event.event.name) { sender.add(event.event) }
    }

    public var isEmpty: Bool { senders.isEmpty }

    // MARK: - LifecycleService

    public func start() throws {
        for sender in senders.values.joined() { sender.start() }
    }

    /// Sends what is queued for up to two seconds, then stops.
    public func shutdown() {
        let deadline = clock.monotonic.advanced(by: Self.stopBudget)
        for sender in senders.values.joined() { sender.stop(deadline: deadline) }
        for sender in senders.values.joined() { sender.awaitEnd(deadline: deadline.advanced(by: .milliseconds(100))) }
    }

    // MARK: - Metrics

    /// Counters and the queue depth per scope, summed over its endpoints.
    public var samples: [TransportGauge] {
        var sent: [(String, Int)] = []
        var retried: [(String, String, Int)] = []
        var failed: [(String, String, Int)] = []
        var dropped: [(String, Int)] = []
        var lost: [(String, Int)] = []
        var depth: [(String, Int)] = []
        for scope in senders.keys.sorted() {
            var total = WebhookQueue.Counts()
            var waiting = 0
            for sender in senders[scope]! {
                let (counts, queued) = sender.figures
                total.sent += counts.sent
                total.dropped += counts.dropped
                total.eventsLost += counts.eventsLost
                total.retried.merge(counts.retried, uniquingKeysWith: +)
                total.failed.merge(counts.failed, uniquingKeysWith: +)
                waiting += queued
            }
            sent.append((scope, total.sent))
            dropped.append((scope, total.dropped))
            lost.append((scope, total.eventsLost))
            depth.append((scope, waiting))
            retried += total.retried.sorted { $0.key < $1.key }.map { (scope, $0.key, $0.value) }
            failed += total.failed.sorted { $0.key < $1.key }.map { (scope, $0.key, $0.value) }
        }
        func counter(_ name: String, _ help: String, _ values: [(String, Int)]) -> [TransportGauge] {
            values.map { TransportGauge(name: name, help: help, labels: [("app", $0.0)], value: Double($0.1), isCounter: true) }
        }
        func counter(_ name: String, _ help: String, _ values: [(String, String, Int)]) -> [TransportGauge] {
            values.map { TransportGauge(name: name, help: help, labels: [("app", $0.0), ("reason", $0.1)], value: Double($0.2), isCounter: true) }
        }
        return counter("wavelog_webhooks_sent_total", "Webhook requests an endpoint accepted (2xx), by app (topics: the Wavelog topics).", sent)
            + counter("wavelog_webhooks_retried_total", "Webhook requests that failed and will be tried again, by app and reason.", retried)
            + counter("wavelog_webhooks_failed_total", "Webhook requests given up: refused (4xx) or retried for too long (expired).", failed)
            + counter("wavelog_webhooks_dropped_total", "Webhook requests dropped unsent because the endpoint's queue was full.", dropped)
            + counter("wavelog_webhook_events_lost_total", "Webhook events in failed or dropped requests.", lost)
            + depth.map {
                TransportGauge(name: "wavelog_webhook_queue_events", help: "Webhook events waiting or being sent, by app.", labels: [("app", $0.0)], value: Double($0.1))
            }
    }
}
