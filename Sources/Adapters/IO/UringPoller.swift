// io_uring(7) behind the poller port: readiness for whatever registers (listeners, Redis, the
// wake-up), and, where the kernel has what it takes, the receives and sends of connections
// themselves (UringSocketIO.swift). Everything is submitted with the next wait (docs/adr/0014).
internal import Glibc
internal import CLinux
internal import CUring

/// The io_uring poller. One-shot polls give the loop the level-triggered readiness it expects
/// from epoll: a poll armed on a descriptor that is already ready completes at once. Arming,
/// re-arming, changing and removing are submission entries, sent with the next `wait` in the
/// same `io_uring_enter`, so none of them costs a system call of its own.
public final class UringPoller: Poller {
    /// Submission entries; a turn that queues more submits early.
    static let submissionEntries: UInt32 = 4096

    var ring = io_uring()
    private let wakeupDescriptor: Int32
    private var registrations: [Registration] = []
    /// Descriptors whose poll completed in the last batch: re-armed before the next wait, after
    /// their handlers had the chance to change or drop them.
    private var fired: [Int32] = []
    private var nextArm: UInt32 = 0
    /// Completions of connection receives and sends, taken in `wait` and delivered by
    /// `deliverCompletions` once the loop has read the clock for the turn.
    var socketCompletions: [SocketCompletion] = []
    /// The batch being delivered (swapped with `socketCompletions`, so neither reallocates).
    var deliveringCompletions: [SocketCompletion] = []
    /// The user data of entries whose completions mean nothing to us (removals, cancellations).
    static let ignored: UInt64 = .max
    /// Set on the user data of connection receives and sends (a poll's never has it).
    static let socketOperation: UInt64 = 1 << 63

    /// Where connections receive into; nil when the kernel cannot receive for them (then they
    /// are polled for readiness, like any registration).
    let buffers: ProvidedBufferRing?
    /// Scratch for the headers and byte ranges of the sends of one submission batch; the kernel
    /// has copied them once the batch is submitted (IORING_FEAT_SUBMIT_STABLE).
    let sendHeaders: UnsafeMutablePointer<msghdr>
    let sendVectors: UnsafeMutablePointer<iovec>
    /// Counts submissions, so a connection can tell whether an entry it prepared is still ours.
    var batch: UInt64 = 0
    var sendHeadersUsed = 0
    var sendVectorsUsed = 0
    /// Where each quiet send is, from prepared to settled (UringQuietSend.swift).
    var quiet: QuietSendLedger
    static let sendHeaderCapacity = 1024
    static let sendVectorCapacity = 16384

    private struct Registration {
        var generation: UInt32 = 0
        var interest: PollerInterest = []
        var active = false
        /// The arm sequence of the poll in the kernel, if one is.
        var armed: UInt32?
    }

    /// Set once the loop thread enabled the ring (see `init`).
    private var enabled = false

    /// Receive buffers per loop and their size: enough for a turn of small messages from many
    /// sockets; a larger message arrives in several completions.
    static let receiveBuffers: UInt32 = 256
    static let receiveBufferSize = 8192

    public init() throws(SystemError) {
        // One thread submits, and completions are posted only when it asks for them: no
        // interrupt of the running loop per completion (DEFER_TASKRUN, Linux 6.1). The ring
        // starts disabled because the loop's thread, not the one building it, is its submitter.
        var (status, features) = Self.setUp(&ring, flags: IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED)
        let modern = status == 0
        // Older kernels: completions still wait for the loop to enter the kernel (5.19), or not.
        if status == -EINVAL { (status, features) = Self.setUp(&ring, flags: IORING_SETUP_COOP_TASKRUN) }
        if status == -EINVAL { (status, features) = Self.setUp(&ring, flags: 0) }
        guard status == 0 else { throw SystemError(call: "io_uring_setup", errno: -status) }
        guard let probe = io_uring_get_probe_ring(&ring) else {
            io_uring_queue_exit(&ring)
            throw SystemError(call: "io_uring probe", errno: ENOSYS)
        }
        let polls = io_uring_opcode_supported(probe, Int32(IORING_OP_POLL_ADD.rawValue)) != 0
            && io_uring_opcode_supported(probe, Int32(IORING_OP_POLL_REMOVE.rawValue)) != 0
        io_uring_free_probe(probe)
        guard polls else {
            io_uring_queue_exit(&ring)
            throw SystemError(call: "io_uring poll", errno: EOPNOTSUPP)
        }
        // A kernel that takes DEFER_TASKRUN (6.1) also has multishot receive (6.0) and
        // provided-buffer rings (5.19); without a stable submission the send scratch could not
        // be reused after each batch.
        if modern && features & UInt32(IORING_FEAT_SUBMIT_STABLE) != 0 {
            buffers = try? ProvidedBufferRing(ring: &ring, count: Self.receiveBuffers, size: Self.receiveBufferSize)
        } else {
            buffers = nil
        }
        quiet = QuietSendLedger(enabled: buffers != nil && Self.quietSendsWork)
        sendHeaders = .allocate(capacity: Self.sendHeaderCapacity)
        sendVectors = .allocate(capacity: Self.sendVectorCapacity)
        do {
            wakeupDescriptor = try Syscall.blocking("eventfd", { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) })
        } catch {
            io_uring_queue_exit(&ring)
            buffers?.deallocate()
            sendHeaders.deallocate()
            sendVectors.deallocate()
            throw error
        }
        try register(wakeupDescriptor, interest: .readable, generation: 0)
    }

    private static func setUp(_ ring: inout io_uring, flags: UInt32) -> (status: Int32, features: UInt32) {
        var parameters = io_uring_params()
        parameters.flags = IORING_SETUP_CQSIZE | flags
        parameters.cq_entries = submissionEntries * 4
        let status = io_uring_queue_init_params(submissionEntries, &ring, &parameters)
        return (status, parameters.features)
    }

    public func register(_ descriptor: Int32, interest: PollerInterest, generation: UInt32) throws(SystemError) {
        let position = Int(descriptor)
        if position >= registrations.count {
            registrations.append(contentsOf: repeatElement(Registration(), count: position - registrations.count + 1))
        }
        guard !registrations[position].active else { throw SystemError(call: "io_uring register", errno: EEXIST) }
        registrations[position] = Registration(generation: generation, interest: interest, active: true, armed: nil)
        if !interest.isEmpty { arm(descriptor) }
    }

    public func modify(_ descriptor: Int32, interest: PollerInterest, generation: UInt32) throws(SystemError) {
        let position = Int(descriptor)
        guard position < registrations.count, registrations[position].active else {
            throw SystemError(call: "io_uring modify", errno: ENOENT)
        }
        let previous = registrations[position].interest
        registrations[position].generation = generation
        registrations[position].interest = interest
        if let sequence = registrations[position].armed {
            guard interest != previous else { return }
            remove(descriptor, sequence)
        }
        if !interest.isEmpty { arm(descriptor) }
    }

    public func deregister(_ descriptor: Int32) throws(SystemError) {
        let position = Int(descriptor)
        guard position < registrations.count, registrations[position].active else {
            throw SystemError(call: "io_uring deregister", errno: ENOENT)
        }
        forgetClosing(descriptor)
    }

    /// An armed poll holds its own reference to the socket: until the removal is submitted (with
    /// the next wait, at the end of this turn) the peer sees no FIN.
    public func forgetClosing(_ descriptor: Int32) {
        let position = Int(descriptor)
        guard position < registrations.count, registrations[position].active else { return }
        if let sequence = registrations[position].armed { remove(descriptor, sequence) }
        registrations[position] = Registration()
    }

    public func wait(timeoutMilliseconds: Int32, into events: inout [PollerEvent]) throws(SystemError) -> Int {
        rearmFired()
        // Completions of the last turn not delivered yet (a full queue emptied mid-turn) come first.
        let pending = socketCompletions.isEmpty && !quiet.keepsLoopAwake ? timeoutMilliseconds : 0
        try submitAndWait(timeoutMilliseconds: pending)
        var produced = 0
        reap(into: &events, count: &produced)
        quiet.reaped(completionsOverflowed: io_uring_cq_has_overflow(&ring))
        return produced
    }

    /// Takes every completion the queue holds.
    private func reap(into events: inout [PollerEvent], count produced: inout Int) {
        while let completion = curing_peek(&ring) {
            let userData = completion.pointee.user_data
            let result = completion.pointee.res
            let flags = completion.pointee.flags
            io_uring_cqe_seen(&ring, completion)
            take(userData, result, flags, into: &events, count: &produced)
        }
    }

    public func wakeup() {
        var one: UInt64 = 1
        // EAGAIN means the counter is already non-zero: a wake-up is pending, which is all we need.
        _ = Glibc.write(wakeupDescriptor, &one, 8)
    }

    public func close() {
        // The kernel tears a ring down after the call returns: take the buffers out of its
        // hands first, so nothing is received into memory freed here.
        if buffers != nil { _ = io_uring_unregister_buf_ring(&ring, Int32(ProvidedBufferRing.group)) }
        io_uring_queue_exit(&ring)
        buffers?.deallocate()
        sendHeaders.deallocate()
        sendVectors.deallocate()
        Syscall.close(wakeupDescriptor)
    }

    // MARK: - Completions

    private func take(_ userData: UInt64, _ result: Int32, _ flags: UInt32, into events: inout [PollerEvent], count produced: inout Int) {
        guard userData != Self.ignored else { return }
        if userData & Self.socketOperation != 0 {
            let completion = SocketCompletion(userData: userData, result: result, flags: flags)
            if userData & 0xF == SocketOperation.quietSend.rawValue {
                quiet.shortfalls.append(completion)
            } else {
                socketCompletions.append(completion)
            }
            return
        }
        let descriptor = Int32(truncatingIfNeeded: userData & 0xFFFF_FFFF)
        let sequence = UInt32(truncatingIfNeeded: userData >> 32)
        let position = Int(descriptor)
        // A completion of a poll removed or replaced since (ECANCELED, or one that raced the
        // removal): the current registration has its own.
        guard position < registrations.count, registrations[position].armed == sequence else { return }
        registrations[position].armed = nil
        fired.append(descriptor)
        if descriptor == wakeupDescriptor {
            drainWakeup()
            return
        }
        let mask = result < 0 ? UInt32(POLLERR) : UInt32(bitPattern: result)
        let event = PollerEvent(
            descriptor: descriptor, generation: registrations[position].generation,
            readable: mask & UInt32(POLLIN) != 0 || mask & UInt32(CLINUX_POLLRDHUP) != 0,
            writable: mask & UInt32(POLLOUT) != 0,
            hangup: mask & UInt32(POLLHUP | POLLERR) != 0)
        if produced < events.count { events[produced] = event } else { events.append(event) }
        produced += 1
    }

    // MARK: - Submission

    private func arm(_ descriptor: Int32) {
        let position = Int(descriptor)
        // 31 bits: the top bit of the user data marks socket operations.
        nextArm = (nextArm &+ 1) & 0x7FFF_FFFF
        let sequence = nextArm
        // Hang-up and error are reported whether asked for or not.
        var mask: UInt32 = 0
        if registrations[position].interest.contains(.readable) { mask |= UInt32(POLLIN) | UInt32(CLINUX_POLLRDHUP) }
        if registrations[position].interest.contains(.writable) { mask |= UInt32(POLLOUT) }
        let entry = nextEntry()
        io_uring_prep_poll_add(entry, descriptor, mask)
        io_uring_sqe_set_data64(entry, UInt64(sequence) << 32 | UInt64(UInt32(bitPattern: descriptor)))
        registrations[position].armed = sequence
    }

    private func remove(_ descriptor: Int32, _ sequence: UInt32) {
        let entry = nextEntry()
        io_uring_prep_poll_remove(entry, UInt64(sequence) << 32 | UInt64(UInt32(bitPattern: descriptor)))
        io_uring_sqe_set_data64(entry, Self.ignored)
        registrations[Int(descriptor)].armed = nil
    }

    private func rearmFired() {
        for descriptor in fired {
            let registration = registrations[Int(descriptor)]
            if registration.active && registration.armed == nil && !registration.interest.isEmpty { arm(descriptor) }
        }
        fired.removeAll(keepingCapacity: true)
    }

    /// A free submission entry; when the queue is full, what it holds is submitted first.
    func nextEntry() -> UnsafeMutablePointer<io_uring_sqe> {
        while true {
            if let entry = io_uring_get_sqe(&ring) { return entry }
            // Before the loop runs only its listeners register: thousands of changes then are a bug.
            precondition(enabled, "io_uring submission queue full before the loop started")
            if io_uring_submit(&ring) == -EBUSY { reapKeepingSocketCompletions() }
            submitted()
        }
    }

    /// Hands everything prepared to the kernel now, until it took every entry: before the send
    /// scratch is reused, and before a descriptor is closed whose operations are prepared but
    /// not submitted, which would otherwise run on whatever socket gets its number next.
    func submitNow() {
        repeat {
            if io_uring_submit(&ring) == -EBUSY { reapKeepingSocketCompletions() }
        } while io_uring_sq_ready(&ring) > 0
        submitted()
    }

    /// Makes room in a full completion queue: socket completions are kept for delivery; a
    /// poll's event is dropped, and its descriptor is polled again on the next wait.
    private func reapKeepingSocketCompletions() {
        var dropped: [PollerEvent] = []
        var droppedCount = 0
        reap(into: &dropped, count: &droppedCount)
    }

    /// After a submission: once the kernel took every entry, the send scratch is free again.
    func submitted() {
        guard io_uring_sq_ready(&ring) == 0 else { return }
        sendHeadersUsed = 0
        sendVectorsUsed = 0
        batch &+= 1
        quiet.batchSubmitted()
    }

    private func submitAndWait(timeoutMilliseconds: Int32) throws(SystemError) {
        if !enabled {
            // liburing 2.3's shared library lacks io_uring_enable_rings; this is its body.
            let status = io_uring_register(UInt32(ring.ring_fd), UInt32(IORING_REGISTER_ENABLE_RINGS), nil, 0)
            // EBADFD: it was set up without R_DISABLED, so it is enabled already.
            guard status == 0 || status == -EBADFD else { throw SystemError(call: "io_uring_register(ENABLE_RINGS)", errno: -status) }
            enabled = true
        }
        buffers?.publish()
        var completion: UnsafeMutablePointer<io_uring_cqe>?
        let status: Int32
        if timeoutMilliseconds < 0 {
            status = io_uring_submit_and_wait(&ring, 1)
        } else if timeoutMilliseconds == 0 {
            status = io_uring_submit_and_get_events(&ring)
        } else {
            var timeout = __kernel_timespec(
                tv_sec: Int64(timeoutMilliseconds / 1000), tv_nsec: Int64(timeoutMilliseconds % 1000) * 1_000_000)
            status = io_uring_submit_and_wait_timeout(&ring, &completion, 1, &timeout, nil)
        }
        submitted()
        // Completions the kernel could not keep (no memory for its overflow list).
        if status == -EBADR { quiet.shortfallsLost = true }
        // ETIME: the timeout passed; EINTR: a signal. Both are a turn without events.
        if status < 0 && status != -ETIME && status != -EINTR && status != -EAGAIN && status != -EBUSY && status != -EBADR {
            throw SystemError(call: "io_uring_enter", errno: -status)
        }
    }

    private func drainWakeup() {
        var value: UInt64 = 0
        _ = Glibc.read(wakeupDescriptor, &value, 8)
    }
}

/// One completion of a connection's receive or send, as the kernel reported it.
struct SocketCompletion {
    var userData: UInt64
    var result: Int32
    var flags: UInt32
}
