// The subscriber sink: encodes each event once per wire format in use and hands it to every loop.
public import Application
public import Domain

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

    public init(formats: WireFormats, history: HistoryRules = HistoryRules()) {
        self.formats = formats
        self.history = history
    }

    /// Adds a loop's shard. Call before the loops start.
    public func attach(_ shard: SubscriberShard) {
        shards.append(shard)
    }

    public func deliver(_ event: PublishedEvent) {
        var needed: UInt64 = 0
        for shard in shards { needed |= shard.formatsInUse }
        let rule = history.isEmpty ? nil : history.rule(for: event.topic)
        if let rule {
            // Every loop keeps the history, subscribers or not: a resume may come to any of them.
            deliverWithHistory(event, rule: rule, needed: needed)
            return
        }
        guard needed != 0 else { return }  // Nobody listens: no encoding either.
        let encoded = formats.encode(event, needed: needed)
        for shard in shards where shard.formatsInUse != 0 {
            hand(encoded, to: shard)
        }
    }

    private func deliverWithHistory(_ event: PublishedEvent, rule: HistoryRule, needed: UInt64) {
        var encoding = formats.encode(event, needed: event.position == nil ? needed : needed | formats.retainedMask)
        encoding.historyRule = rule
        let encoded = encoding
        let retained = encoded.keeping(formats.retainedMask)
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
