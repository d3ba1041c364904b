// One webhook endpoint's queue: batching, retries with backoff, the bound, and the endpoint's
// state as the log reports it.

/// What goes to one endpoint and when. Events gather into a batch that closes after
/// `batchWindow` or at `batchSize` events; batches go one at a time, in order. A batch that
/// fails in a way worth retrying (5xx, 408, 429, a timeout, no connection) is retried after
/// 1 s, 2 s, 4 s ... up to `maxBackoff`, for `retryFor` from its first attempt, then dropped;
/// one refused otherwise (another 4xx) is dropped at once. At most `maxBatches` wait; beyond,
/// the oldest waiting one is dropped.
///
/// A value driven by the sender's thread: `next` says what to do now, `finished` takes the
/// answer. Every drop is counted here.
public struct WebhookQueue: Sendable {
    public struct Settings: Sendable, Equatable {
        public var batchWindow: Duration = .milliseconds(50)
        public var batchSize = 50
        public var maxBatches = 1000
        public var retryFor: Duration = .seconds(300)
        public var firstBackoff: Duration = .seconds(1)
        public var maxBackoff: Duration = .seconds(60)
        public init() {}
    }

    public struct Batch: Sendable, Equatable {
        /// Numbers batches in the order they closed.
        public let number: UInt64
        public let events: [WebhookEvent]
        /// When the first attempt went (nil before).
        public fileprivate(set) var firstAttempt: MonotonicTime?
        public fileprivate(set) var attempts = 0
    }

    public enum Next: Equatable, Sendable {
        case send(Batch)
        /// Nothing to do until `until`, or until an event is added when nil.
        case wait(until: MonotonicTime?)
    }

    public enum Outcome: Equatable, Sendable {
        case accepted
        /// Worth another attempt; `reason` labels the count (status_5xx, status_429, timeout ...).
        case retry(reason: String)
        /// Refused for good.
        case rejected(reason: String)
    }

    /// A change of the endpoint's state, for one log line each.
    public enum Notice: Equatable, Sendable {
        case failing(reason: String)
        case recovered
    }

    public struct Counts: Sendable, Equatable {
        public var sent = 0
        public var retried: [String: Int] = [:]
        public var failed: [String: Int] = [:]
        public var dropped = 0
        /// Events in batches that failed or were dropped.
        public var eventsLost = 0
        public init() {}
    }

    public let settings: Settings
    public private(set) var counts = Counts()
    private var open: [WebhookEvent] = []
    private var openedAt: MonotonicTime?
    private var waiting: [Batch] = []
    private var waitingHead = 0
    private var current: Batch?
    private var retryAt: MonotonicTime?
    private var closed: UInt64 = 0
    private var failing = false

    public init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Events not yet sent, the one being sent included.
    public var depth: Int {
        open.count + waiting[waitingHead...].reduce(0) { $0 + $1.events.count } + (current?.events.count ?? 0)
    }

    /// True when the sender has to look again: a batch opened (it has a deadline now) or closed.
    @discardableResult
    public mutating func add(_ event: WebhookEvent, now: MonotonicTime) -> Bool {
        if open.isEmpty { openedAt = now }
        open.append(event)
        guard open.count < settings.batchSize else {
            close()
            return true
        }
        return open.count == 1
    }

    public mutating func next(now: MonotonicTime) -> Next {
        if let openedAt, now.duration(since: openedAt) >= settings.batchWindow { close() }
        if current == nil, waitingHead < waiting.count {
            current = waiting[waitingHead]
            waitingHead += 1
            compact()
        }
        let batchDue = openedAt.map { $0.advanced(by: settings.batchWindow) }
        guard var batch = current else { return .wait(until: batchDue) }
        if let retryAt, retryAt > now { return .wait(until: batchDue.map { min($0, retryAt) } ?? retryAt) }
        if batch.firstAttempt == nil { batch.firstAttempt = now }
        batch.attempts += 1
        current = batch
        retryAt = nil
        return .send(batch)
    }

    /// The answer to the batch `next` handed out.
    public mutating func finished(_ outcome: Outcome, now: MonotonicTime) -> Notice? {
        guard let batch = current else { return nil }
        switch outcome {
        case .accepted:
            counts.sent += 1
            current = nil
            guard failing else { return nil }
            failing = false
            return .recovered
        case .retry(let reason):
            if now.duration(since: batch.firstAttempt ?? now) >= settings.retryFor {
                counts.failed["expired", default: 0] += 1
                counts.eventsLost += batch.events.count
                current = nil
            } else {
                counts.retried[reason, default: 0] += 1
                retryAt = now.advanced(by: backoff(after: batch.attempts))
            }
            return fail(reason)
        case .rejected(let reason):
            counts.failed[reason, default: 0] += 1
            counts.eventsLost += batch.events.count
            current = nil
            return fail(reason)
        }
    }

    private mutating func fail(_ reason: String) -> Notice? {
        guard !failing else { return nil }
        failing = true
        return .failing(reason: reason)
    }

    /// 1 s, 2 s, 4 s ... capped.
    private func backoff(after attempts: Int) -> Duration {
        var delay = settings.firstBackoff
        for _ in 1..<max(1, attempts) {
            delay = delay * 2
            if delay >= settings.maxBackoff { return settings.maxBackoff }
        }
        return min(delay, settings.maxBackoff)
    }

    private mutating func close() {
        guard !open.isEmpty else { return }
        closed += 1
        waiting.append(Batch(number: closed, events: open))
        open = []
        openedAt = nil
        if waiting.count - waitingHead > settings.maxBatches {
            counts.dropped += 1
            counts.eventsLost += waiting[waitingHead].events.count
            waitingHead += 1
            compact()
        }
    }

    /// Frees the batches already taken or dropped once they are half the array: what a queue
    /// holds stays within its bound while one batch is retried for minutes.
    private mutating func compact() {
        guard waitingHead > 64 && waitingHead * 2 > waiting.count else { return }
        waiting.removeFirst(waitingHead)
        waitingHead = 0
    }

    /// Batches held, the one in flight included: at most `maxBatches` + 1, plus the open one.
    public var heldBatches: Int { waiting.count + (current == nil ? 0 : 1) }
}
