// The subscriber sink: encodes each event once per wire format in use and hands it to every loop.
public import Application

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

    public init(formats: WireFormats) {
        self.formats = formats
    }

    /// Adds a loop's shard. Call before the loops start.
    public func attach(_ shard: SubscriberShard) {
        shards.append(shard)
    }

    public func deliver(_ event: PublishedEvent) {
        var needed: UInt64 = 0
        for shard in shards { needed |= shard.formatsInUse }
        guard needed != 0 else { return }  // Nobody listens: no encoding either.
        let encoded = formats.encode(event, needed: needed)
        for shard in shards where shard.formatsInUse != 0 {
            if shard.loop.inLoop {
                shard.deliver(encoded)
            } else {
                let target = LoopBound(shard)
                shard.loop.execute { _ in target.value.deliver(encoded) }
            }
        }
    }
}
