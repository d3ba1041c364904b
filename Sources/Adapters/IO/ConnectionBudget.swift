// How many client connections the node may hold, shared by every loop's listeners.
internal import Synchronization

/// A node-wide connection counter; listeners refuse connections beyond `limit` (`max_connections`).
public final class ConnectionBudget: Sendable {
    public let limit: Int
    private let open = Atomic<Int>(0)

    public init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot; false when the node is full.
    func acquire() -> Bool {
        let after = open.wrappingAdd(1, ordering: .relaxed).newValue
        if after > limit {
            open.wrappingSubtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Connections open now, across loops.
    public var current: Int { open.load(ordering: .relaxed) }
}
