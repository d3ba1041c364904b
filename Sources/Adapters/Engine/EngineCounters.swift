// Node-wide subscriber counters, changed on connect and close only (never per delivery).
internal import Synchronization

/// Open subscriber connections per wire format, and slow-consumer closes; read by `/metrics`.
public final class EngineCounters: Sendable {
    // A lock is fine here: it is taken once per connection opened or closed, never per push.
    private let open = Locked<[Int]>([Int](repeating: 0, count: WireFormats.capacity))
    private let slow = Atomic<Int>(0)

    public init() {}

    func opened(_ format: WireFormat) { open.withLock { $0[format.index] += 1 } }
    func closed(_ format: WireFormat) { open.withLock { $0[format.index] -= 1 } }
    func slowConsumerClosed() { slow.wrappingAdd(1, ordering: .relaxed) }

    /// Admitted connections of `format` (authenticated or not) on this node.
    public func openConnections(_ format: WireFormat) -> Int { open.withLock { $0[format.index] } }
    /// Subscribers closed because their queue overflowed.
    public var slowConsumersClosed: Int { slow.load(ordering: .relaxed) }
}
