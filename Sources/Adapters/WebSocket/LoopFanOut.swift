// Adapter: the subscriber sink that encodes each event once and hands it to every loop's shard.
public import Application

/// Delivers events to the WebSocket shards of every loop (ARCHITECTURE.md "Runtime model").
///
/// The push frame is encoded once per event; each loop with subscribers receives a reference to
/// it. The loop that handled the publish delivers at once; the others through `execute`, in
/// publish order. Loops without any subscriber are not woken.
public final class LoopFanOut: SubscriberSink, @unchecked Sendable {
    // Written only before the loops start (App wiring); read-only afterwards.
    private var shards: [WebSocketTransport] = []

    public init() {}

    /// Adds a loop's shard. Call before the loops start.
    public func attach(_ shard: WebSocketTransport) {
        shards.append(shard)
    }

    public func deliver(_ event: PublishedEvent) {
        guard shards.contains(where: \.hasSubscribers) else { return }  // Nobody listens: no encoding either.
        let frame = WebSocketFrameEncoder.push(payload: event.payload.bytes)
        let topic = event.topic
        for shard in shards where shard.hasSubscribers {
            if shard.loop.inLoop {
                shard.deliver(frame, to: topic)
            } else {
                let target = ShardReference(shard)
                shard.loop.execute { _ in target.shard.deliver(frame, to: topic) }
            }
        }
    }
}

/// A shard carried to its own loop; only that loop dereferences it.
private struct ShardReference: @unchecked Sendable {
    let shard: WebSocketTransport
    init(_ shard: WebSocketTransport) { self.shard = shard }
}
