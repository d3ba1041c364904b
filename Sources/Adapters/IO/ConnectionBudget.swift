// How many client connections a listener's connections may number, shared by every loop.
internal import Synchronization

/// A node-wide connection counter; listeners refuse connections beyond `limit`
/// (`max_connections`). A few more, up to `overflow`, are accepted only to be answered 503,
/// so a browser or a load balancer hears why instead of seeing a reset.
public final class ConnectionBudget: Sendable {
    public enum Grant: Equatable {
        case granted
        /// Beyond the limit, within the overflow: answer, then close.
        case overBudget
        case refused
    }

    public let limit: Int
    public let overflow: Int
    private let open = Atomic<Int>(0)

    public init(limit: Int, overflow: Int? = nil) {
        self.limit = limit
        self.overflow = overflow ?? min(1024, max(16, limit / 16))
    }

    /// Takes a slot (`granted` or `overBudget`), or refuses.
    func acquire() -> Grant {
        let after = open.wrappingAdd(1, ordering: .relaxed).newValue
        if after <= limit { return .granted }
        if after <= limit + overflow { return .overBudget }
        open.wrappingSubtract(1, ordering: .relaxed)
        return .refused
    }

    func release() {
        open.wrappingSubtract(1, ordering: .relaxed)
    }

    /// Connections open now, across loops, over-budget ones included.
    public var current: Int { open.load(ordering: .relaxed) }
}
