// The poller port of the event loop: six operations, Redis-sized
// (docs/development.md "A small poller port").

/// What a registration waits for; converted to EPOLL*/POLL* bits in exactly one place per backend.
public struct PollerInterest: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let readable = PollerInterest(rawValue: 1)
    public static let writable = PollerInterest(rawValue: 2)
}

/// One readiness event. `generation` lets the loop drop events for a descriptor number that was
/// closed and reused within the same batch (docs/development.md "Stale events are dropped").
public struct PollerEvent: Sendable, Equatable {
    public var descriptor: Int32
    public var generation: UInt32
    public var readable: Bool
    public var writable: Bool
    /// Hang-up or error: the loop lets the handler read what is left, then closes.
    public var hangup: Bool

    public init(descriptor: Int32, generation: UInt32, readable: Bool, writable: Bool, hangup: Bool) {
        self.descriptor = descriptor
        self.generation = generation
        self.readable = readable
        self.writable = writable
        self.hangup = hangup
    }
}

/// Waits for readiness on many descriptors. Confined to one loop thread, except `wakeup`.
public protocol Poller: AnyObject {
    func register(_ descriptor: Int32, interest: PollerInterest, generation: UInt32) throws(SystemError)
    func modify(_ descriptor: Int32, interest: PollerInterest, generation: UInt32) throws(SystemError)
    func deregister(_ descriptor: Int32) throws(SystemError)
    /// Forgets a descriptor its owner is about to close. epoll needs no call for that (the
    /// kernel drops a closed socket from the set; we never dup them), which saves a system call
    /// per connection; poll must drop it from its array.
    func forgetClosing(_ descriptor: Int32)
    /// Blocks up to `timeoutMilliseconds` (-1: forever) and fills `events`; returns the count.
    /// A wake-up is consumed here and never reported as an event.
    func wait(timeoutMilliseconds: Int32, into events: inout [PollerEvent]) throws(SystemError) -> Int
    /// Interrupts a `wait` from any thread.
    func wakeup()
    func close()
}

/// Which poller a loop uses: epoll, io_uring where the kernel allows it, poll(2) everywhere
/// (and in tests, to hold the loop to one contract).
public enum PollerKind: String, Sendable, CaseIterable {
    case epoll, uring, poll

    /// The poller alone (the poller contract tests it so).
    public func make() throws(SystemError) -> any Poller { try makeBackend().poller }

    /// A loop's poller with its socket I/O: readiness and system calls, or io_uring operations
    /// where this kernel completes them for sockets.
    func makeBackend() throws(SystemError) -> LoopBackend {
        switch self {
        case .epoll: return LoopBackend(poller: try EpollPoller(), socketIO: ReadinessSocketIO())
        case .uring: return try uringBackend()
        case .poll: return LoopBackend(poller: try PollPoller(), socketIO: ReadinessSocketIO())
        }
    }
}
