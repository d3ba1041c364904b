// One thread, one poller, its timers, its cross-thread task queue
// (docs/architecture.md "Runtime model").
public import Domain
public import Application
internal import Glibc
internal import Synchronization
internal import CLinux

/// An event loop. Everything it owns is touched only on its thread; the one way in from another
/// thread is `execute(_:)`. Marked `@unchecked Sendable` so other threads can hold a reference
/// and call `execute`, which is the only member that is safe to call from them.
public final class EventLoop: @unchecked Sendable {
    /// Bytes read per `read(2)`: one buffer per loop, lent to whichever socket is readable
/// (docs/development.md "Loop-owned buffers").
    public static let readBufferSize = 64 * 1024

    public let index: Int
    /// This loop's counters; written only on this loop (see `LoopMetrics`).
    public let metrics = LoopMetrics()
    private let poller: any Poller
    /// How this loop's listeners and connections reach the kernel. A strong `let`: read from a
    /// loop passed in as a parameter, it is borrowed without a retain (an unowned(unsafe)
    /// reference cost a retain and a release per flush, once per push).
    let socketIO: any SocketIO
    private var slots: [Slot] = []
    private var events: [PollerEvent] = Array(repeating: PollerEvent(descriptor: -1, generation: 0, readable: false, writable: false, hangup: false), count: 256)
    private var timers = LoopTimers()
    /// The shared delays seen so far, with their nanoseconds (see `nanoseconds(ofShared:)`).
    private var sharedDelays: [(delay: Duration, nanoseconds: Int64)] = []
    private static let rememberedSharedDelays = 16
    private var dirty: [any Flushable] = []
    private var dirtyEarly: [any Flushable] = []
    private var nextGeneration: UInt32 = 0
    private var stopping = false
    /// The thread running `run()` (0 before): read from any thread by `inLoop`.
    private let ownerThread = Atomic<UInt>(0)

    private let tasks = Locked<[@Sendable (EventLoop) -> Void]>([])
    private let wakeupPending = Atomic<Bool>(false)

    /// The loop's read buffer; valid only during a callback on this loop.
    public let readBuffer: UnsafeMutableRawBufferPointer
    /// Scratch for `writev`; `iovecCapacity` entries.
    let iovecs: UnsafeMutablePointer<iovec>
    static let iovecCapacity = 1024  // IOV_MAX on Linux

    /// Called at the end of every turn, for tests that wait for a state the loop reaches
    /// without an event they could wait on (the kernel's completions of io_uring operations).
    var afterEachTurn: ((EventLoop) -> Void)?

    /// The time at the start of this turn; cheaper than a clock read per event.
    public private(set) var now: MonotonicTime

    private struct Slot {
        var handler: (any LoopHandler)?
        var generation: UInt32
        var interest: PollerInterest
    }

    /// Where the loop reads the time when it is not the monotonic clock: a test's manual clock,
    /// so timer behaviour is tested without sleeping. Timers then come due only when the clock
    /// is moved and the loop woken (`execute`); the loop never sleeps for a deadline.
    private let manualTime: (any Application.Clock)?
    /// `manualTime != nil`, asked instead of it on every turn: unwrapping the existential copies
    /// it through its value witnesses, some 150 instructions a time.
    private let usesManualTime: Bool

    public init(index: Int, poller kind: PollerKind = .epoll, manualTime: (any Application.Clock)? = nil) throws(SystemError) {
        self.index = index
        self.manualTime = manualTime
        usesManualTime = manualTime != nil
        let backend = try kind.makeBackend()
        poller = backend.poller
        socketIO = backend.socketIO
        readBuffer = .allocate(byteCount: Self.readBufferSize, alignment: 16)
        iovecs = .allocate(capacity: Self.iovecCapacity)
        now = manualTime?.monotonic ?? Self.readMonotonic()
    }

    deinit {
        poller.close()
        readBuffer.deallocate()
        iovecs.deallocate()
    }

    // MARK: - Registration (loop thread only)

    /// Starts watching `descriptor`; `handler` is retained until `deregister`.
    public func register(_ descriptor: Int32, interest: PollerInterest, handler: any LoopHandler) throws(SystemError) {
        assertInLoop()
        let generation = claimSlot(descriptor)
        try poller.register(descriptor, interest: interest, generation: generation)
        slots[Int(descriptor)] = Slot(handler: handler, generation: generation, interest: interest)
    }

    /// Takes `descriptor` into the loop's table without polling it: its I/O completes through
    /// the socket I/O. `deregisterForClose` ends it like a registration.
    func adopt(_ descriptor: Int32, handler: any LoopHandler) {
        assertInLoop()
        slots[Int(descriptor)] = Slot(handler: handler, generation: claimSlot(descriptor), interest: [])
    }

    /// Makes room for `descriptor` in the table and returns the generation of its new entry.
    private func claimSlot(_ descriptor: Int32) -> UInt32 {
        let position = Int(descriptor)
        if position >= slots.count {
            slots.append(contentsOf: repeatElement(Slot(handler: nil, generation: 0, interest: []), count: position - slots.count + 1))
        }
        nextGeneration &+= 1
        if nextGeneration == .max { nextGeneration = 1 }  // .max tags wake-ups in EpollPoller
        return nextGeneration
    }

    /// Changes what `descriptor` waits for; a no-op when nothing changes.
    public func setInterest(_ descriptor: Int32, _ interest: PollerInterest) throws(SystemError) {
        assertInLoop()
        let position = Int(descriptor)
        guard position < slots.count, slots[position].handler != nil, slots[position].interest != interest else { return }
        try poller.modify(descriptor, interest: interest, generation: slots[position].generation)
        slots[position].interest = interest
    }

    /// Stops watching `descriptor`; pending events for it in this batch are dropped.
    public func deregister(_ descriptor: Int32) {
        assertInLoop()
        let position = Int(descriptor)
        guard position < slots.count, slots[position].handler != nil else { return }
        // Deregistering a descriptor that is being closed cannot fail in a way we could act on.
        try? poller.deregister(descriptor)
        slots[position].handler = nil
        slots[position].interest = []
    }

    /// Stops watching `descriptor` because the caller closes it right after; cheaper than
    /// `deregister` with epoll, which drops closed sockets itself.
    public func deregisterForClose(_ descriptor: Int32) {
        assertInLoop()
        let position = Int(descriptor)
        guard position < slots.count, slots[position].handler != nil else { return }
        poller.forgetClosing(descriptor)
        slots[position].handler = nil
        slots[position].interest = []
    }

    public func interest(of descriptor: Int32) -> PollerInterest {
        let position = Int(descriptor)
        return position < slots.count ? slots[position].interest : []
    }

    /// Timers waiting in the heap and the lanes, for tests that bound them.
    var pendingTimerCount: Int { timers.count }

    /// Registered descriptors (listeners, connections, Redis).
    public var registeredCount: Int { slots.reduce(0) { $0 + ($1.handler == nil ? 0 : 1) } }

    // MARK: - Timers and flushing (loop thread only)

    /// Runs `action` on this loop at or after `deadline`. A timer whose `owner` is gone may be
    /// dropped before it is due (its action would do nothing then).
    public func schedule(at deadline: MonotonicTime, owner: TimerGuard? = nil, _ action: @escaping (EventLoop) -> Void) {
        assertInLoop()
        timers.schedule(at: deadline.nanoseconds, owner: owner, action)
    }

    /// Runs `action` after `delay`, for a delay that many timers of this loop share (a timeout
    /// of every connection): those wait in a queue of their own, O(1) to add and to fire, not
    /// in the heap.
    public func schedule(afterSharedDelay delay: Duration, owner: TimerGuard? = nil, _ action: @escaping (EventLoop) -> Void) {
        assertInLoop()
        let nanoseconds = nanoseconds(ofShared: delay)
        let (deadline, overflow) = now.nanoseconds.addingReportingOverflow(nanoseconds)
        timers.schedule(at: overflow ? .max : deadline, sharedDelay: nanoseconds, owner: owner, action)
    }

    /// A shared delay in nanoseconds, remembered: `Duration` gives them only through 128-bit
    /// arithmetic, 150 instructions a conversion, and a connection sets several such timers.
    private func nanoseconds(ofShared delay: Duration) -> Int64 {
        for known in sharedDelays where known.delay == delay { return known.nanoseconds }
        let nanoseconds = delay.wholeNanoseconds
        if sharedDelays.count < Self.rememberedSharedDelays { sharedDelays.append((delay, nanoseconds)) }
        return nanoseconds
    }

    /// Runs `action` on this loop after `delay`.
    public func schedule(after delay: Duration, owner: TimerGuard? = nil, _ action: @escaping (EventLoop) -> Void) {
        schedule(at: now.advanced(by: delay), owner: owner, action)
    }

    /// Timers waiting, those of owners already gone included.
    public var scheduledTimers: Int { timers.count }

    /// Asks for `flushable.flush` before the loop next sleeps. The caller keeps its own
    /// "already dirty" flag so it is queued once per turn.
    public func markDirty(_ flushable: any Flushable, early: Bool = false) {
        assertInLoop()
        if early { dirtyEarly.append(flushable) } else { dirty.append(flushable) }
    }

    // MARK: - Cross-thread

    /// Runs `task` on this loop's thread. Safe from any thread. Writes the wake-up descriptor
    /// only when no wake-up is already pending (docs/development.md "Fd and loop confinement").
    public func execute(_ task: @escaping @Sendable (EventLoop) -> Void) {
        tasks.withLock { $0.append(task) }
        if !wakeupPending.exchange(true, ordering: .acquiringAndReleasing) {
            poller.wakeup()
        }
    }

    /// Ends `run()` after the current turn. Safe from any thread.
    public func stop() {
        execute { loop in loop.stopping = true }
    }

    /// True on this loop's thread.
    public var inLoop: Bool {
        let owner = ownerThread.load(ordering: .acquiring)
        return owner != 0 && pthread_equal(owner, pthread_self()) != 0
    }

    @inline(__always)
    func assertInLoop() {
        assert(ownerThread.load(ordering: .relaxed) == 0 || inLoop, "event loop \(index) touched from another thread")
    }

    // MARK: - The turn (docs/development.md "Fixed loop-turn order")

    /// Runs turns until `stop()`. Call on the thread that owns the loop.
    public func run() {
        ownerThread.store(pthread_self(), ordering: .releasing)
        while !stopping {
            let count = waitForEvents(timeoutMilliseconds: nextTimeoutMilliseconds())
            now = readTime()
            socketIO.turnBegins()
            for position in 0..<count { dispatch(events[position]) }
            socketIO.readinessDispatched()
            runTasks()
            runTimers()
            flushDirty()
            afterEachTurn?(self)
        }
        runTasks()
        flushDirty()
    }

    /// The only blocking call of the loop, under a name profiles can filter as idle time.
    @inline(never)
    private func waitForEvents(timeoutMilliseconds: Int32) -> Int {
        do {
            return try poller.wait(timeoutMilliseconds: timeoutMilliseconds, into: &events)
        } catch {
            // epoll_wait only fails on our bugs (EBADF, EINVAL); poll on ENOMEM. Back off, do not spin.
            usleep(1000)
            return 0
        }
    }

    private func nextTimeoutMilliseconds() -> Int32 {
        if wakeupPending.load(ordering: .acquiring) || !dirty.isEmpty || !dirtyEarly.isEmpty { return 0 }
        guard let deadline = timers.nextDeadline else { return -1 }
        let remaining = deadline - readTime().nanoseconds
        if remaining <= 0 { return 0 }
        if usesManualTime { return -1 }
        // Round up so a timer never fires a millisecond early and spins.
        return Int32(clamping: (remaining + 999_999) / 1_000_000)
    }

    private func dispatch(_ event: PollerEvent) {
        let position = Int(event.descriptor)
        guard position < slots.count, let handler = slots[position].handler,
            slots[position].generation == event.generation
        else { return }  // Stale: the descriptor was closed (and maybe reused) earlier in this batch.

        if event.writable && slots[position].interest.contains(.writable) {
            handler.writable(on: self)
        }
        // Re-check: the writable callback may have closed or replaced the descriptor.
        guard slots[position].handler === handler, slots[position].generation == event.generation else { return }
        if (event.readable || event.hangup) && slots[position].interest.contains(.readable) {
            handler.readable(on: self)
        } else if event.hangup {
            handler.hangup(on: self)
        }
    }

    private func runTasks() {
        wakeupPending.store(false, ordering: .releasing)
        let batch = tasks.withLock { queue -> [@Sendable (EventLoop) -> Void] in
            let taken = queue
            queue.removeAll(keepingCapacity: true)
            return taken
        }
        for task in batch { task(self) }
    }

    /// At most `timersPerTurn`: the rest stay due, so the next wait does not sleep, and the
    /// turn's I/O is not held up behind a burst of timeouts (the connections of a reconnect
    /// storm come due together).
    private func runTimers() {
        let current = now.nanoseconds
        var budget = Self.timersPerTurn
        while budget > 0, let action = timers.popDue(now: current) {
            action(self)
            budget -= 1
        }
    }

    static let timersPerTurn = 256

    private func flushDirty() {
        // Flushing can make other connections dirty (a close that notifies a peer): loop until calm.
        while !dirty.isEmpty || !dirtyEarly.isEmpty {
            let early = dirtyEarly
            dirtyEarly.removeAll(keepingCapacity: true)
            for flushable in early { flushable.flush(on: self) }
            let batch = dirty
            dirty.removeAll(keepingCapacity: true)
            for flushable in batch { flushable.flush(on: self) }
        }
    }

    @inline(__always)
    private func readTime() -> MonotonicTime {
        if usesManualTime, let manualTime { return manualTime.monotonic }
        return Self.readMonotonic()
    }

    static func readMonotonic() -> MonotonicTime {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return MonotonicTime(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }
}
