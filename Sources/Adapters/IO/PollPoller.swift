// poll(2), for systems without epoll and to hold the loop to one contract in tests.
internal import Glibc
internal import CLinux

/// A portable poller: O(registered descriptors) per wait, fine for tests and small deployments.
public final class PollPoller: Poller {
    private var descriptors: [pollfd] = []
    private var generations: [UInt32] = []
    private var positions: [Int32: Int] = [:]
    private let wakeupPipe: (read: Int32, write: Int32)

    public init() throws(SystemError) {
        var ends: [Int32] = [0, 0]
        try Syscall.blocking("pipe2", { clinux_pipe2(&ends, O_NONBLOCK | O_CLOEXEC) })
        wakeupPipe = (ends[0], ends[1])
        descriptors.append(pollfd(fd: wakeupPipe.read, events: Int16(POLLIN), revents: 0))
        generations.append(0)
    }

    public func register(_ descriptor: Int32, interest: PollerInterest, generation: UInt32) throws(SystemError) {
        guard positions[descriptor] == nil else { throw SystemError(call: "poll register", errno: EEXIST) }
        positions[descriptor] = descriptors.count
        descriptors.append(pollfd(fd: descriptor, events: Self.bits(interest), revents: 0))
        generations.append(generation)
    }

    public func modify(_ descriptor: Int32, interest: PollerInterest, generation: UInt32) throws(SystemError) {
        guard let position = positions[descriptor] else { throw SystemError(call: "poll modify", errno: ENOENT) }
        descriptors[position].events = Self.bits(interest)
        generations[position] = generation
    }

    public func forgetClosing(_ descriptor: Int32) {
        // Unknown descriptors cannot occur here: the loop only forgets what it registered.
        try? deregister(descriptor)
    }

    public func deregister(_ descriptor: Int32) throws(SystemError) {
        guard let position = positions.removeValue(forKey: descriptor) else { throw SystemError(call: "poll deregister", errno: ENOENT) }
        let last = descriptors.count - 1
        if position != last {
            descriptors[position] = descriptors[last]
            generations[position] = generations[last]
            positions[descriptors[position].fd] = position
        }
        descriptors.removeLast()
        generations.removeLast()
    }

    public func wait(timeoutMilliseconds: Int32, into events: inout [PollerEvent]) throws(SystemError) -> Int {
        let count = nfds_t(descriptors.count)
        switch try Syscall.call("poll", { poll(&descriptors, count, timeoutMilliseconds) }) {
        case .processed(let ready) where ready > 0: break
        default: return 0
        }
        var produced = 0
        for index in descriptors.indices {
            let entry = descriptors[index]
            let bits = Int32(entry.revents)
            guard bits != 0 else { continue }
            descriptors[index].revents = 0
            if index == 0 {
                drainWakeup()
                continue
            }
            let event = PollerEvent(
                descriptor: entry.fd, generation: generations[index],
                readable: bits & (POLLIN | Int32(CLINUX_POLLRDHUP)) != 0,
                writable: bits & POLLOUT != 0,
                hangup: bits & (POLLHUP | POLLERR | POLLNVAL) != 0)
            if produced < events.count { events[produced] = event } else { events.append(event) }
            produced += 1
        }
        return produced
    }

    public func wakeup() {
        var byte: UInt8 = 1
        // A full pipe means a wake-up is already pending.
        _ = Glibc.write(wakeupPipe.write, &byte, 1)
    }

    public func close() {
        Syscall.close(wakeupPipe.read)
        Syscall.close(wakeupPipe.write)
    }

    private func drainWakeup() {
        var scratch = [UInt8](repeating: 0, count: 64)
        while Glibc.read(wakeupPipe.read, &scratch, scratch.count) > 0 {}
    }

    private static func bits(_ interest: PollerInterest) -> Int16 {
        var bits = CLINUX_POLLRDHUP
        if interest.contains(.readable) { bits |= Int16(POLLIN) }
        if interest.contains(.writable) { bits |= Int16(POLLOUT) }
        return bits
    }
}
