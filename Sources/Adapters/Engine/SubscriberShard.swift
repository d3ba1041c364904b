// A loop's shard of subscribers: index, token expiry, statistics, slow consumers, drain.
public import Application
public import Domain
public import Logging
internal import Synchronization

/// Everything one loop knows of its subscribers, whatever their transport. Confined to `loop`,
/// except `formatsInUse`, which the fan-out reads from any thread.
public final class SubscriberShard: Drainable {
    /// How often this loop looks for expired tokens (seconds are the tokens' resolution).
    static let expiryCheckInterval: Duration = .seconds(1)

    public let loop: EventLoop
    let broker: Broker
    let counters: EngineCounters
    let logger: Logger
    var index = SubscriptionIndex<Subscriber>()
    /// Told when a Wavelog topic gets its first subscriber on this loop and loses its last (for
    /// the topic webhooks); nil without them. Set before the loops start.
    public var occupancy: (any TopicOccupancy)?
    /// Admitted connections, authenticated or not: what a drain must reach.
    private var members: [ObjectIdentifier: Subscriber] = [:]
    /// Subscribed connections per wire format on this loop.
    private var subscribedPerFormat = [Int](repeating: 0, count: WireFormats.capacity)
    /// Bit n set while format n has a subscriber here, so the fan-out encodes only what is read
    /// and wakes only loops with subscribers. Written on this loop, read anywhere; it may lag a
    /// subscribe by one publish, the race a publish and a subscribe always have.
    private let inUse = Atomic<UInt64>(0)
    public private(set) var draining = false
    /// Finds the connection an event excludes by its transport's socket name; set by the
    /// transport that names sockets (Pusher's `socket_id`).
    public weak var socketDirectory: (any SocketDirectory)?
    /// The retained messages of topics with history, as this loop delivered them: a resume on
    /// this loop reads it in the same turn as it subscribes, so nothing falls between the
    /// replay and the live pushes, and nothing comes twice. Every loop keeps the same events;
    /// their frames are shared, so a message costs its bytes once and a reference per loop.
    private(set) var history: TopicHistory<EncodedEvent>

    public init(
        loop: EventLoop, broker: Broker, counters: EngineCounters, logger: Logger,
        historyLimits: HistoryLimits = .init(), completeHistory: (epoch: UInt64, rules: HistoryRules)? = nil
    ) {
        self.loop = loop
        self.broker = broker
        self.counters = counters
        self.logger = logger
        history = TopicHistory(limits: historyLimits, completeEpoch: completeHistory)
    }

    /// Starts this loop's token-expiry checks. Call on the loop (or before it runs).
    public func start() {
        scheduleExpiryCheck()
    }

    /// The formats read on this loop, as a bit mask; any thread.
    public var formatsInUse: UInt64 { inUse.load(ordering: .relaxed) }

    /// Connections subscribed on this loop.
    public var subscribedCount: Int { index.count }

    // MARK: - Membership

    /// Adds an admitted connection; from now on a drain reaches it.
    public func admit(_ subscriber: Subscriber) {
        guard members.updateValue(subscriber, forKey: ObjectIdentifier(subscriber)) == nil else { return }
        counters.opened(subscriber.format)
    }

    /// Authenticates `subscriber` for its topic and, on success, subscribes it.
    public func authenticate(_ subscriber: Subscriber, message: AuthMessage) -> Result<Subscription, AuthFailure> {
        let wasSubscribed = index.subscription(of: subscriber) != nil
        let result = broker.authenticateSubscriber(subscriber, topic: subscriber.topic, message: message, into: &index)
        switch result {
        case .success:
            if !wasSubscribed {
                adjust(subscriber.format, by: 1)
                if let occupancy, index.subscribers(of: subscriber.topic).count == 1 { occupancy.topicOccupied(subscriber.topic) }
            }
        case .failure(let failure): loop.metrics.countAuthFailure(failure.reason)
        }
        return result
    }

    /// A subscribed socket's new token (see `AuthenticateSubscriber.refresh`); counted either way.
    public func refresh(_ subscriber: Subscriber, message: AuthMessage) -> Result<Subscription, AuthFailure> {
        let result = broker.authenticateSubscriber.refresh(subscriber, message: message, in: &index)
        switch result {
        case .success: loop.metrics.tokenRefreshes &+= 1
        case .failure: loop.metrics.tokenRefreshesRefused &+= 1
        }
        return result
    }

    /// Subscribes `subscriber` to its topic without a token: for transports that authorise on
    /// their own (a Pusher channel signature). Not in the Wavelog statistics; `remove` ends it.
    public func subscribeAuthorised(_ subscriber: Subscriber) {
        guard index.subscription(of: subscriber) == nil else { return }
        _ = index.subscribe(subscriber, to: subscriber.topic, userID: 0, expires: .never)
        adjust(subscriber.format, by: 1)
    }

    /// The subscriber's connection ended: unsubscribes and forgets it. Idempotent.
    public func remove(_ subscriber: Subscriber) {
        let ended = subscriber.isCountedInStatistics ? broker.disconnect(subscriber, from: &index) : index.unsubscribe(subscriber)
        if let ended {
            adjust(subscriber.format, by: -1)
            left(ended.topic)
        }
        if members.removeValue(forKey: ObjectIdentifier(subscriber)) != nil { counters.closed(subscriber.format) }
    }

    /// A subscriber of `topic` left: for a Wavelog topic, its last on this loop?
    private func left(_ topic: TopicName) {
        if let occupancy, !topic.isNamespaced, index.subscribers(of: topic).isEmpty { occupancy.topicVacated(topic) }
    }

    private func adjust(_ format: WireFormat, by delta: Int) {
        let before = subscribedPerFormat[format.index]
        subscribedPerFormat[format.index] = before + delta
        if before == 0 && delta > 0 {
            inUse.bitwiseOr(format.bit, ordering: .relaxed)
        } else if before + delta == 0 {
            inUse.bitwiseAnd(~format.bit, ordering: .relaxed)
        }
    }

    // MARK: - History (on this loop)

    /// A history topic's event: recorded (or, without a position, the record of its topic
    /// ends), then delivered.
    func deliver(_ event: EncodedEvent, retaining retained: EncodedEvent) {
        if let rule = event.historyRule {
            if let position = event.position {
                history.record(retained, bytes: retained.byteCount, at: position, of: event.topic, rule: rule, now: loop.now)
            } else {
                history.lose(event.topic)
            }
        }
        deliver(event)
    }

    /// See `LoopFanOut.historyInterrupted`.
    func historyInterrupted() {
        history.loseAll()
    }

    /// The latest position of `topic` delivered on this loop, nil when it has none.
    public func currentPosition(of topic: TopicName) -> StreamPosition? {
        history.current(topic)
    }

    /// What a subscriber of `topic` that last saw `since` missed, as delivered on this loop.
    public func replay(_ topic: TopicName, since: StreamPosition) -> HistoryReplay<EncodedEvent> {
        history.replay(topic, since: since, now: loop.now)
    }

    // MARK: - Delivery (on this loop)

    /// Writes the shared frames of `event` to every subscriber of its topic on this loop.
    /// O(subscribers of the topic on this loop); no allocation, copy or encoding per subscriber.
    public func deliver(_ event: EncodedEvent) {
        let subscribers = index.subscribers(of: event.topic)
        loop.metrics.deliveries &+= subscribers.count  // one addition per publish, not per delivery
        if event.latestOnly {
            deliverLatest(event, to: subscribers)
            return
        }
        if let excludedSocket = event.excludedSocket {
            // Found once per loop and publish; then an identity check, never a lookup per subscriber.
            let excluded = socketDirectory?.connection(forSocket: excludedSocket)
            for subscriber in subscribers where subscriber.connection !== excluded {
                guard let frame = event.frame(for: subscriber.format) else { continue }
                if !subscriber.connection.send(frame) { closeSlow(subscriber) }
            }
            return
        }
        for subscriber in subscribers {
            guard let frame = event.frame(for: subscriber.format) else { continue }
            if !subscriber.connection.send(frame) { closeSlow(subscriber) }
        }
    }

    /// A latest-value topic: a subscriber that has not started receiving its previous push gets
    /// this one in its place instead of behind it, so a slow reader is kept with the newest
    /// value rather than closed. Only a queue full of other frames still closes it.
    private func deliverLatest(_ event: EncodedEvent, to subscribers: [Subscriber]) {
        var replaced = 0
        for subscriber in subscribers {
            guard let frame = event.frame(for: subscriber.format) else { continue }
            switch subscriber.connection.sendLatest(frame, replacing: &subscriber.latestPush) {
            case .queued: break
            case .replaced: replaced &+= 1
            case .full: closeSlow(subscriber)
            }
        }
        loop.metrics.pushesReplaced &+= replaced
    }

    /// Writes `frame` to one subscriber with the slow-consumer rule; false when it was closed.
    @discardableResult
    public func send(_ frame: EncodedFrame, to subscriber: Subscriber) -> Bool {
        if subscriber.connection.send(frame) { return true }
        closeSlow(subscriber)
        return false
    }

    /// A full queue ends in a close the client can see, never in a silent drop
/// (docs/development.md "Bounded queues end in a close code").
    private func closeSlow(_ subscriber: Subscriber) {
        // A connection already closing (or closed earlier in this delivery) is not a slow consumer.
        guard subscriber.connection.state == .open else { return }
        counters.slowConsumerClosed()
        logger.info("client too slow", metadata: [
            "ip": "\(subscriber.clientIP)", "topic": "\(subscriber.topic.value)", "transport": "\(subscriber.transportName)",
        ])
        // Out of the index now, so no further push is queued behind the close.
        remove(subscriber)
        subscriber.tooSlow()
    }

    private func scheduleExpiryCheck() {
        loop.schedule(after: Self.expiryCheckInterval) { [weak self] _ in
            guard let self else { return }
            let expired = self.broker.expireTokens(in: &self.index)
            for subscriber in expired {
                self.adjust(subscriber.format, by: -1)
                self.left(subscriber.topic)
                subscriber.tokenExpired()
            }
            self.scheduleExpiryCheck()
        }
    }

    // MARK: - Drainable

    public func drain() {
        draining = true
        for subscriber in Array(members.values) { end(subscriber, restarting: false) }
    }

    /// How often a paced drain closes its next slice of connections.
    static let drainTick: Duration = .milliseconds(50)
    /// The connections a paced drain has yet to close, in random order (closed from the end),
    /// how many it started with, and its ticks.
    private var drainQueue: [Subscriber] = []
    private var drainPace = PacedRelease(total: 0, ticks: 1)

    /// Closes every connection of this loop spread evenly over `period`, in random order, so
    /// that their reconnects spread over it too instead of arriving in the same second; the
    /// ones not closed yet keep getting their pushes. Zero is `drain()`: all at once.
    public func drain(over period: Duration) {
        guard period > .zero else {
            drain()
            return
        }
        draining = true
        drainQueue = Array(members.values).shuffled()
        drainPace = PacedRelease(total: drainQueue.count, ticks: Int(period / Self.drainTick))
        closeSlice(tick: 1)
    }

    /// Closes, now, what a paced drain has not closed yet (the operator asked again).
    public func hurryDrain() {
        closeSlice(tick: drainPace.ticks)
    }

    /// By tick k of n, k/n of the connections are closed (see `PacedRelease`).
    private func closeSlice(tick: Int) {
        let due = drainPace.due(afterTick: tick)
        while drainPace.total - drainQueue.count < due, let subscriber = drainQueue.popLast() {
            // One that left meanwhile is gone from the members; it counts as closed.
            guard members[ObjectIdentifier(subscriber)] != nil else { continue }
            end(subscriber, restarting: true)
        }
        guard !drainQueue.isEmpty else { return }
        loop.schedule(after: Self.drainTick) { [weak self] _ in self?.closeSlice(tick: tick + 1) }
    }

    private func end(_ subscriber: Subscriber, restarting: Bool) {
        // Out of the index first: a stream that ends by flushing must not keep taking pushes.
        if let ended = broker.disconnect(subscriber, from: &index) {
            adjust(subscriber.format, by: -1)
            left(ended.topic)
        }
        if restarting { subscriber.restart() } else { subscriber.goAway() }
    }

    public func closeAll() {
        for subscriber in Array(members.values) { subscriber.connection.close() }
    }

    public var openConnectionCount: Int { members.count }
}
