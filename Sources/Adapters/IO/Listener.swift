// A listening socket on one loop; accepted connections stay on that loop for life.
public import Logging
internal import Glibc
internal import CLinux

/// Accepts connections for one transport on one loop. Every loop binds the same address with
/// `SO_REUSEPORT`, so the kernel spreads connections over the loops without a hand-off.
public final class Listener: LoopHandler {
    /// Accepts per readable event, so one busy listener cannot starve the loop's other sockets.
    static let acceptsPerEvent = 64
    /// How long to stop accepting when out of descriptors, instead of spinning on EMFILE.
    static let pauseWhenExhausted: Duration = .milliseconds(100)

    public let descriptor: Int32
    public let address: SocketAddress
    private unowned let loop: EventLoop
    private let transport: any Transport
    private let budget: ConnectionBudget
    private let limits: WriteQueue.Limits
    private let lingerTimeout: Duration
    private let logger: Logger
    private let refusals: RefusalLog
    private var nextConnection: UInt64 = 0
    private var isOpen = true
    /// io_uring only: the accepts this listener keeps in the kernel. Each takes one connection
    /// and is armed again, so a turn accepts up to this many per listener.
    static let acceptsInFlight = 16
    private var acceptSlots: [AcceptSlot] = []
    /// Set from a failed accept until the first retry, so a pause is logged once, not once per slot.
    private var acceptPaused = false

    /// Binds and registers a listener on `loop`.
    /// - Parameters:
    ///   - key: the configuration key of the address, named in bind errors.
    public init(
        address: SocketAddress, key: String, loop: EventLoop, transport: any Transport, budget: ConnectionBudget,
        queueLimits: (frames: Int, bytes: Int), refusals: RefusalLog? = nil, lingerTimeout: Duration = Connection.defaultLingerTimeout,
        logger: Logger
    ) throws(SystemError) {
        self.lingerTimeout = lingerTimeout
        descriptor = try Self.bind(address, key: key)
        var bound = address
        getsockname(descriptor, withUnsafeMutablePointer(to: &bound.storage) { UnsafeMutableRawPointer($0).assumingMemoryBound(to: sockaddr.self) }, &bound.length)
        self.address = bound
        self.loop = loop
        self.transport = transport
        self.budget = budget
        self.limits = WriteQueue.Limits(maxFrames: queueLimits.frames, maxBytes: queueLimits.bytes)
        self.logger = logger
        self.refusals = refusals ?? RefusalLog(logger: logger)
        if let io = loop.socketIO {
            loop.adopt(descriptor, handler: self)
            acceptSlots = (0..<Self.acceptsInFlight).map { _ in AcceptSlot(listener: self) }
            for slot in acceptSlots { io.startAccepting(slot) }
            return
        }
        do {
            try loop.register(descriptor, interest: .readable, handler: self)
        } catch {
            Syscall.close(descriptor)
            throw error
        }
    }

    static func bind(_ address: SocketAddress, key: String) throws(SystemError) -> Int32 {
        let descriptor = try Syscall.blocking("socket", { socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        do {
            var on: Int32 = 1
            var off: Int32 = 0
            try Syscall.blocking("setsockopt(SO_REUSEADDR)", { setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, 4) })
            try Syscall.blocking("setsockopt(SO_REUSEPORT)", { setsockopt(descriptor, SOL_SOCKET, SO_REUSEPORT, &on, 4) })
            // Pushes are small and must not wait for Nagle. Linux copies the option to every
            // accepted socket, which saves a setsockopt per connection (2 % of set-up CPU).
            try Syscall.blocking("setsockopt(TCP_NODELAY)", { setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &on, 4) })
            if address.family == AF_INET6 {
                // "::" serves IPv4 too (as the Go worker's ":9000" does); a specific v6 address stays v6.
                try Syscall.blocking("setsockopt(IPV6_V6ONLY)", { setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &off, 4) })
            }
            var storage = address.storage
            try Syscall.blocking("bind(\(key) \(address))", {
                withUnsafePointer(to: &storage) { Glibc.bind(descriptor, UnsafeRawPointer($0).assumingMemoryBound(to: sockaddr.self), address.length) }
            })
            try Syscall.blocking("listen(\(key) \(address))", { listen(descriptor, 4096) })
        } catch {
            Syscall.close(descriptor)
            throw error
        }
        return descriptor
    }

    public func readable(on loop: EventLoop) {
        for _ in 0..<Self.acceptsPerEvent {
            guard isOpen else { return }
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let result: IOResult<Int32>
            do {
                result = try Syscall.call("accept4", {
                    withUnsafeMutablePointer(to: &peer) {
                        clinux_accept4(descriptor, UnsafeMutableRawPointer($0).assumingMemoryBound(to: sockaddr.self), &peerLength, Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue))
                    }
                })
            } catch {
                handleAcceptError(error)
                return
            }
            guard case .processed(let client) = result else { return }
            admit(client, peer: SocketAddress(storage: peer, length: peerLength))
        }
    }

    /// Gives an accepted socket its connection, or closes it when even the overflow is full.
    private func admit(_ client: Int32, peer: SocketAddress) {
        let grant = budget.acquire()
        guard grant != .refused else {
            // Even the overflow is full: nothing left to answer with.
            Syscall.close(client)
            loop.metrics.countRefusal("max_connections")
            refusals.refused("max_connections", at: loop.now, metadata: ["limit": "\(budget.limit)", "listener": "\(address)"])
            return
        }
        nextConnection &+= 1
        let connection = Connection(
            descriptor: client, id: nextConnection << 8 | UInt64(loop.index & 0xFF), peerHost: peer.host,
            loop: loop, limits: limits, budget: budget, isOverBudget: grant == .overBudget, lingerTimeout: lingerTimeout)
        if let io = loop.socketIO {
            loop.adopt(client, handler: connection)
            connection.startReceiving(io)
        } else {
            do {
                try loop.register(client, interest: .readable, handler: connection)
            } catch {
                Syscall.close(client)
                budget.release()
                return
            }
        }
        transport.accepted(connection)
    }

    /// The completion of one of the accepts kept in the kernel (io_uring).
    func acceptCompleted(_ result: Int32, _ slot: AcceptSlot) {
        guard isOpen else {
            // Accepted just before the cancellation took effect: nobody will serve it.
            if result >= 0 { Syscall.close(result) }
            return
        }
        guard let io = loop.socketIO else { return }
        if result >= 0 {
            admit(result, peer: SocketAddress(storage: slot.peer.pointee, length: slot.peerLength.pointee))
            // The transport may have closed this listener; its number must not be armed again.
            if isOpen { io.startAccepting(slot) }
            return
        }
        switch -result {
        case ECONNABORTED, EPROTO, EPERM:
            io.startAccepting(slot)  // The peer gave up before we accepted; accept the next.
        default:
            // Out of descriptors or memory, or something stranger (an EAGAIN the kernel did
            // not wait out itself): retrying at once could spin.
            if !acceptPaused {
                acceptPaused = true
                logger.error("accept paused", metadata: ["reason": "\(SystemError(call: "accept", errno: -result))", "listener": "\(address)"])
            }
            loop.schedule(after: Self.pauseWhenExhausted) { [weak self] _ in
                guard let self, self.isOpen, let io = self.loop.socketIO, !slot.inFlight else { return }
                self.acceptPaused = false
                io.startAccepting(slot)
            }
        }
    }

    private func handleAcceptError(_ error: SystemError) {
        switch error.errno {
        case ECONNABORTED, EPROTO, EPERM:
            return  // The peer gave up before we accepted; nothing to do.
        case EMFILE, ENFILE, ENOBUFS, ENOMEM:
            logger.error("accept paused", metadata: ["reason": "\(error)", "listener": "\(address)"])
            try? loop.setInterest(descriptor, [])
            loop.schedule(after: Self.pauseWhenExhausted) { [weak self] _ in
                guard let self, self.isOpen else { return }
                try? loop.setInterest(self.descriptor, .readable)
            }
        default:
            logger.error("accept failed", metadata: ["reason": "\(error)", "listener": "\(address)"])
        }
    }

    public func writable(on loop: EventLoop) {}

    public func hangup(on loop: EventLoop) {}

    /// Stops accepting and closes the socket; established connections are not touched.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        if let io = loop.socketIO {
            // An accept in the kernel holds the socket open: cancel them, and hand the
            // cancellations over before the number can be reused.
            for slot in acceptSlots where slot.inFlight { io.cancel(slot, .accept) }
            acceptSlots.removeAll()
            io.submitNow()
            loop.deregisterForClose(descriptor)
        } else {
            loop.deregister(descriptor)
        }
        Syscall.close(descriptor)
    }
}
