// epoll(7) with an eventfd for wake-ups.
internal import Glibc
internal import CLinux

/// The Linux poller. The descriptor and its generation travel packed in `epoll_event.data.u64`.
public final class EpollPoller: Poller {
    private let epollDescriptor: Int32
    private let wakeupDescriptor: Int32
    private var kernelEvents: [epoll_event]
    // Wake-ups are tagged with a generation no registration uses.
    private static let wakeupGeneration: UInt32 = .max

    public init() throws(SystemError) {
        epollDescriptor = try Syscall.blocking("epoll_create1", { epoll_create1(Int32(EPOLL_CLOEXEC)) })
        do {
            wakeupDescriptor = try Syscall.blocking("eventfd", { eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC)) })
        } catch {
            Syscall.close(epollDescriptor)
            throw error
        }
        kernelEvents = Array(repeating: epoll_event(), count: 256)
        try control(EPOLL_CTL_ADD, wakeupDescriptor, interest: .readable, generation: Self.wakeupGeneration)
    }

    public func register(_ descriptor: Int32, interest: PollerInterest, generation: UInt32) throws(SystemError) {
        try control(EPOLL_CTL_ADD, descriptor, interest: interest, generation: generation)
    }

    public func modify(_ descriptor: Int32, interest: PollerInterest, generation: UInt32) throws(SystemError) {
        try control(EPOLL_CTL_MOD, descriptor, interest: interest, generation: generation)
    }

    public func forgetClosing(_ descriptor: Int32) {}

    public func deregister(_ descriptor: Int32) throws(SystemError) {
        var unused = epoll_event()
        try Syscall.blocking("epoll_ctl(DEL)", { epoll_ctl(epollDescriptor, EPOLL_CTL_DEL, descriptor, &unused) })
    }

    public func wait(timeoutMilliseconds: Int32, into events: inout [PollerEvent]) throws(SystemError) -> Int {
        let capacity = Int32(kernelEvents.count)
        let ready: Int
        switch try Syscall.call("epoll_wait", { epoll_wait(epollDescriptor, &kernelEvents, capacity, timeoutMilliseconds) }) {
        case .processed(let count): ready = Int(count)
        case .wouldBlock: ready = 0
        }
        var produced = 0
        for index in 0..<ready {
            let event = kernelEvents[index]
            let packed = event.data.u64
            let generation = UInt32(truncatingIfNeeded: packed >> 32)
            let descriptor = Int32(truncatingIfNeeded: packed & 0xFFFF_FFFF)
            if generation == Self.wakeupGeneration && descriptor == wakeupDescriptor {
                drainWakeup()
                continue
            }
            let bits = event.events
            let translated = PollerEvent(
                descriptor: descriptor, generation: generation,
                readable: bits & EPOLLIN.rawValue != 0 || bits & EPOLLRDHUP.rawValue != 0,
                writable: bits & EPOLLOUT.rawValue != 0,
                hangup: bits & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0)
            if produced < events.count { events[produced] = translated } else { events.append(translated) }
            produced += 1
        }
        // A full batch suggests more are waiting: grow, as Redis' ae does.
        if ready == kernelEvents.count { kernelEvents += Array(repeating: epoll_event(), count: kernelEvents.count) }
        return produced
    }

    public func wakeup() {
        var one: UInt64 = 1
        // EAGAIN means the counter is already non-zero: a wake-up is pending, which is all we need.
        _ = Glibc.write(wakeupDescriptor, &one, 8)
    }

    public func close() {
        Syscall.close(wakeupDescriptor)
        Syscall.close(epollDescriptor)
    }

    private func drainWakeup() {
        var value: UInt64 = 0
        _ = Glibc.read(wakeupDescriptor, &value, 8)
    }

    private func control(_ operation: Int32, _ descriptor: Int32, interest: PollerInterest, generation: UInt32) throws(SystemError) {
        var event = epoll_event()
        var bits: UInt32 = EPOLLRDHUP.rawValue
        if interest.contains(.readable) { bits |= EPOLLIN.rawValue }
        if interest.contains(.writable) { bits |= EPOLLOUT.rawValue }
        event.events = bits
        event.data.u64 = UInt64(generation) << 32 | UInt64(UInt32(bitPattern: descriptor))
        let name = operation == EPOLL_CTL_ADD ? "epoll_ctl(ADD)" : "epoll_ctl(MOD)"
        try Syscall.blocking(name, { epoll_ctl(epollDescriptor, operation, descriptor, &event) })
    }
}
