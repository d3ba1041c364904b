// The subscriber sink: encodes each event once per wire format in use and hands it to every loop.
public import Application
public import Domain
internal import Synchronization

/// Delivers events to the subscriber shards of every loop (docs/architecture.md "Runtime model").
///
/// An event is encoded once for each wire format that has a subscriber on some loop, and for no
/// other; each loop with subscribers receives a reference to the same frames. The loop that
/// handled the publish delivers at once, the others through `execute`, in publish order. Loops
/// without subscribers are not woken. It knows no transport.
public final class LoopFanOut: SubscriberSink, @unchecked Sendable {
    // Written only before the loops start (App wiring); read-only afterwards.
    private var shards: [SubscriberShard] = []
    private let formats: WireFormats
    private let history: HistoryRules
    private let rules: TopicRules
    private let clock: any Clock
    /// The bursts in progress. A lock taken once per publish of a coalescing topic only (the
    /// bus delivers from the publishing loop, or from the Redis loop), never per subscriber.
    private let windows = Mutex(CoalescingWindows<PublishedEvent>())

    /// - Parameters:
    ///   - rules: coalescing and latest-value topics; their windows run on the first loop's timers.
    ///   - clock: reads the time of a publish for the windows.
    public init(formats: WireFormats, history: HistoryRules = HistoryRules(), rules: TopicRules = TopicRules(), clock: any Clock = SystemClock()) {
        self.formats = formats
        self.history = history
        self.rules = rules
        self.clock = clock
    }

    /// Publishes that a later one of the same coalescing window replaced; any thread.
    public var coalescedPublishes: Int { windows.withLock { $0.folded } }

    /// Topics in a coalescing burst now (each holds one timer until its window closes); any thread.
    public var openCoalescingWindows: Int { windows.withLock { $0.openCount } }

    /// Adds a loop's shard. Call before the loops start.
    public func attach(_ shard: SubscriberShard) {
        shards.append(shard)
    }

    public func deliver(_ event: PublishedEvent) {
        // One branch for a node without rules; the delivery path below is the same for all.
        guard !rules.isEmpty, let rule = rules.rule(for: event.topic) else {
            deliverNow(event, latestOnly: false)
            return
        }
        // A topic with history pushes every message: a resume replays exactly what was pushed,
        // and a message folded away would leave a hole in the record (docs/adr/0024).
        guard let window = rule.coalesce, history.rule(for: event.topic) == nil else {
            deliverNow(event, latestOnly: rule.latestOnly)
            return
        }
        // Nobody here reads the topic: nothing to fold, and no window or timer for it.
        guard shards.contains(where: { $0.formatsInUse != 0 }) else { return }
        let admission = windows.withLock { $0.publish(event, to: event.topic, window: window, now: clock.monotonic) }
        if case .deliver(let first, _) = admission {
            deliverNow(first, latestOnly: rule.latestOnly)
            armWindowEnd(of: event.topic, after: window, rule: rule)
        }
    }

    /// The trailing edge of `topic`'s window: its pending publish goes out and the next
    /// window starts, or the window closes and the topic costs nothing until its next burst.
    private func armWindowEnd(of topic: TopicName, after delay: Duration, rule: TopicRule) {
        guard let timers = shards.first?.loop else { return }
        let window = rule.coalesce ?? delay
        let fire: @Sendable (EventLoop) -> Void = { [self] loop in
            loop.schedule(after: delay) { [self] _ in
                // The loop's timers read its turn's time, a little behind the clock: a tick of
                // tolerance keeps a timer that fired on time from counting as early.
                let now = clock.monotonic.advanced(by: .milliseconds(1))
                switch windows.withLock({ $0.windowEnded(topic, window: window, now: now) }) {
                case .deliver(let pending, _):
                    deliverNow(pending, latestOnly: rule.latestOnly)
                    armWindowEnd(of: topic, after: window, rule: rule)
                case .early:
                    // The loop's timer and the clock disagree by less than a tick.
                    armWindowEnd(of: topic, after: .milliseconds(1), rule: rule)
                case .closed:
                    break
                }
            }
        }
        if timers.inLoop { fire(timers) } else { timers.execute(fire) }
    }

    private func deliverNow(_ event: PublishedEvent, latestOnly: Bool) {
        var needed: UInt64 = 0
        for shard in shards { needed |= shard.formatsInUse }
        let rule = history.isEmpty ? nil : history.rule(for: event.topic)
        if let rule {
            // Every loop keeps the history, subscribers or not: a resume may come to any of them.
            deliverWithHistory(event, rule: rule, needed: needed, latestOnly: latestOnly)
            return
        }
        guard needed != 0 else { return }  // Nobody listens: no encoding either.
        var encoding = formats.encode(event, needed: needed)
        encoding.latestOnly = latestOnly
        let encoded = encoding
        for shard in shards where shard.formatsInUse != 0 {
            hand(encoded, to: shard)
        }
    }

    private func deliverWithHistory(_ event: PublishedEvent, rule: HistoryRule, needed: UInt64, latestOnly: Bool) {
        var encoding = formats.encode(event, needed: event.position == nil ? needed : needed | formats.retainedMask)
        encoding.historyRule = rule
        encoding.latestOnly = latestOnly
        let encoded = encoding
        // Without a position nothing is recorded (the record of its topic ends): no copy to keep.
        let retained = event.position == nil ? encoded : encoded.keeping(formats.retainedMask)
        // Through every loop's queue, this one's too: the caller serialises these calls (the
        // bus hands out positions under a lock, or from its one loop), so each queue gets the
        // topic's messages in position order, which a direct delivery here could overtake.
        for shard in shards {
            let target = LoopBound(shard)
            shard.loop.execute { _ in target.value.deliver(encoded, retaining: retained) }
        }
    }

    /// Messages may have been missed (the cluster link's subscription was lost): every loop
    /// ends its records, so no resume is answered across the hole.
    public func historyInterrupted() {
        guard !history.isEmpty else { return }
        for shard in shards {
            let target = LoopBound(shard)
            shard.loop.execute { _ in target.value.historyInterrupted() }
        }
    }

    private func hand(_ encoded: EncodedEvent, to shard: SubscriberShard) {
        if shard.loop.inLoop {
            shard.deliver(encoded)
        } else {
            let target = LoopBound(shard)
            shard.loop.execute { _ in target.value.deliver(encoded) }
        }
    }
}
