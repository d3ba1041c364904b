// The load generator's one epoll loop: every socket of a scenario is read from this thread, so
// the generator costs one core however many connections it holds (docs/adr/0006).
import Glibc
import CLinux

protocol ReactorClient: AnyObject {
    var descriptor: Int32 { get }
    func readable(_ reactor: Reactor)
    func writable(_ reactor: Reactor)
    /// The peer hung up or the socket failed.
    func failed(_ reactor: Reactor)
}

final class Reactor {
    private let epollDescriptor: Int32
    private var clients: [(any ReactorClient)?] = []
    private var kernelEvents = [epoll_event](repeating: epoll_event(), count: 1024)
    private var timers: [(deadline: UInt64, action: (Reactor) -> Void)] = []
    /// Sleep after each batch of events, so pushes pile up in the socket buffers and one read
    /// takes many: the generator then needs a fraction of a core, which leaves the other core
    /// to a worker with `threads: 2` on a 2-core machine (the threads scenario).
    var pauseAfterBatchMicroseconds: UInt32 = 0
    /// One buffer lent to whichever socket is readable.
    let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)
    /// Where TLS clients decrypt what they read into `readBuffer`.
    let plainBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 * 1024, alignment: 16)

    init() {
        epollDescriptor = epoll_create1(Int32(EPOLL_CLOEXEC))
        precondition(epollDescriptor >= 0, "epoll_create1 failed: errno \(clinux_errno())")
    }

    deinit {
        close(epollDescriptor)
        readBuffer.deallocate()
        plainBuffer.deallocate()
    }

    func add(_ client: any ReactorClient, writable: Bool) {
        let descriptor = client.descriptor
        if Int(descriptor) >= clients.count {
            clients += [(any ReactorClient)?](repeating: nil, count: Int(descriptor) - clients.count + 1024)
        }
        clients[Int(descriptor)] = client
        control(EPOLL_CTL_ADD, descriptor, writable: writable)
    }

    func watchWritable(_ client: any ReactorClient, _ writable: Bool) {
        control(EPOLL_CTL_MOD, client.descriptor, writable: writable)
    }

    /// Forgets and closes the socket.
    func remove(_ client: any ReactorClient) {
        let descriptor = client.descriptor
        var unused = epoll_event()
        _ = epoll_ctl(epollDescriptor, EPOLL_CTL_DEL, descriptor, &unused)
        clients[Int(descriptor)] = nil
        close(descriptor)
    }

    func schedule(at deadline: UInt64, _ action: @escaping (Reactor) -> Void) {
        timers.append((deadline, action))
    }

    /// Runs turns until `done` holds or `deadline` (monotonic ns) passes; true when `done` held.
    @discardableResult
    func run(until deadline: UInt64, done: () -> Bool) -> Bool {
        while !done() {
            let now = Clock.now()
            if now >= deadline { return false }
            runDueTimers(now)
            if done() { return true }
            let nextTimer = timers.lazy.map(\.deadline).min() ?? deadline
            let wait = min(deadline, nextTimer)
            let timeout = wait > now ? Int32(min((wait - now + 999_999) / 1_000_000, 1000)) : 0
            let ready = epoll_wait(epollDescriptor, &kernelEvents, Int32(kernelEvents.count), timeout)
            if ready < 0 {
                precondition(clinux_errno() == EINTR, "epoll_wait failed: errno \(clinux_errno())")
                continue
            }
            for index in 0..<Int(ready) {
                let event = kernelEvents[index]
                let descriptor = Int(event.data.fd)
                let bits = event.events
                if bits & (EPOLLOUT.rawValue) != 0, let client = clients[descriptor] { client.writable(self) }
                if bits & (EPOLLIN.rawValue | EPOLLRDHUP.rawValue) != 0, let client = clients[descriptor] { client.readable(self) }
                if bits & (EPOLLERR.rawValue | EPOLLHUP.rawValue) != 0, let client = clients[descriptor] { client.failed(self) }
            }
            if ready == Int32(kernelEvents.count) { kernelEvents += [epoll_event](repeating: epoll_event(), count: kernelEvents.count) }
            if pauseAfterBatchMicroseconds > 0 && ready > 0 { usleep(pauseAfterBatchMicroseconds) }
        }
        return true
    }

    private func runDueTimers(_ now: UInt64) {
        guard timers.contains(where: { $0.deadline <= now }) else { return }
        let due = timers.filter { $0.deadline <= now }
        timers.removeAll { $0.deadline <= now }
        for timer in due { timer.action(self) }
    }

    private func control(_ operation: Int32, _ descriptor: Int32, writable: Bool) {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | (writable ? EPOLLOUT.rawValue : 0)
        event.data.fd = descriptor
        let result = epoll_ctl(epollDescriptor, operation, descriptor, &event)
        precondition(result == 0, "epoll_ctl failed: errno \(clinux_errno())")
    }
}

enum Clock {
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }

    static func unixSeconds() -> Int {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int(spec.tv_sec)
    }
}
