// Counters of one loop: plain integers, written only on that loop, summed at scrape time.

/// What one loop counts on its hot paths. No lock and no atomic: only the owning loop writes,
/// and a scrape reads it on that loop too (through `execute`), so a publish or a delivery costs
/// one addition.
public final class LoopMetrics {
    /// Publishes the internal API accepted on this loop.
    public internal(set) var publishes = 0
    /// Pushes this loop's shard wrote to a subscriber's queue (one per subscriber per publish).
    public internal(set) var deliveries = 0

    public init() {}

    /// A copy, taken on the loop.
    var snapshot: Snapshot { Snapshot(publishes: publishes, deliveries: deliveries) }

    struct Snapshot: Sendable {
        var publishes = 0
        var deliveries = 0

        static func + (lhs: Snapshot, rhs: Snapshot) -> Snapshot {
            Snapshot(publishes: lhs.publishes + rhs.publishes, deliveries: lhs.deliveries + rhs.deliveries)
        }
    }
}
