// Port: something with background work that App starts and stops in order.

/// A service with a start and a stop. App starts services in order and stops them in reverse.
public protocol LifecycleService: Sendable {
    /// Starts background work. Must not block on the network.
    func start() throws
    /// Stops background work and releases its resources.
    func shutdown()
}
