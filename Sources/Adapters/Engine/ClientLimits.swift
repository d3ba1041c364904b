// The per-address limits of the whole node, shared by every loop's transports.
public import Domain
internal import Synchronization

/// `max_connections_per_ip` and `handshake_rate_per_ip` across every loop: one table behind a
/// lock, taken once when a handshake is admitted and once when its connection closes, never on
/// the delivery path.
public final class ClientLimits: Sendable {
    public let settings: AddressLimiter.Settings
    private let limiter: Locked<AddressLimiter>

    public init(settings: AddressLimiter.Settings) {
        self.settings = settings
        limiter = Locked(AddressLimiter(settings: settings))
    }

    public var isOff: Bool { settings.isOff }

    /// Counts a handshake of `address`; on success the connection holds the returned lease
    /// until it closes.
    func admit(_ address: String, now: MonotonicTime) -> Result<any ConnectionLease, AddressLimiter.Refusal> {
        if let refusal = limiter.withLock({ $0.admit(address, now: now) }) { return .failure(refusal) }
        return .success(AddressSlot(address: address, limits: self))
    }

    fileprivate func release(_ address: String) {
        let now = EventLoop.readMonotonic()
        limiter.withLock { $0.release(address, now: now) }
    }

    /// Addresses the table holds now (for tests: it must shrink back).
    public var trackedAddresses: Int { limiter.withLock { $0.trackedAddresses } }
}

/// One admitted connection's place in its address's count.
private final class AddressSlot: ConnectionLease {
    let address: String
    let limits: ClientLimits

    init(address: String, limits: ClientLimits) {
        self.address = address
        self.limits = limits
    }

    func release() { limits.release(address) }
}
