// A listening socket on one loop; accepted connections stay on that loop for life.
public import Logging
internal import Glibc
internal import CLinux

/// Accepts connections for one transport on one loop. Every loop binds the same address with
/// `SO_REUSEPORT`, so the kernel spreads connections over the loops without a hand-off.
public final class Listener {
    /// Accepts per readable event, so one busy listener cannot starve the loop's other sockets.
    static let acceptsPerEvent = 64
    /// How long to stop accepting when out of descriptors, instead of spinning on EMFILE.
    static let pauseWhenExhausted: Duration = .milliseconds(100)

    public let descriptor: Int32
    public let address: SocketAddress
    unowned let loop: EventLoop
    private let transport: any Transport
    /// Set on a TLS port: every connection gets a session on its current certificate.
    private let tls: TLSServer?
    private let budget: ConnectionBudget
    private let limits: WriteQueue.Limits
    private let lingerTimeout: Duration
    private let logger: Logger
    private let refusals: RefusalLog
    private var nextConnection: UInt64 = 0
    private(set) var isOpen = true
    /// Set from a failed accept until the first retry, so a pause is logged once, not once per slot.
    private var acceptPaused = false

    /// Binds and registers a listener on `loop`.
    /// - Parameters:
    ///   - key: the configuration key of the address, named in bind errors.
    public init(
        address: SocketAddress, key: String, loop: EventLoop, transport: any Transport, budget: ConnectionBudget,
        queueLimits: (frames: Int, bytes: Int), refusals: RefusalLog? = nil, lingerTimeout: Duration = Connection.defaultLingerTimeout,
        tls: TLSServer? = nil, logger: Logger
    ) throws(SystemError) {
        self.tls = tls
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
        do {
            try loop.socketIO.listen(self)
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

    /// Gives an accepted socket its connection, or closes it when even the overflow is full.
    func admit(_ client: Int32, peer: SocketAddress) {
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
        connection.tls = tls.flatMap(TLSSession.init)
        do {
            // Out of memory for the TLS session: nothing to answer with either.
            guard tls == nil || connection.tls != nil else { throw SystemError(call: "SSL_new", errno: ENOMEM) }
            try loop.socketIO.attach(connection)
        } catch {
            Syscall.close(client)
            budget.release()
            return
        }
        if let tls {
            loop.schedule(afterSharedDelay: tls.handshakeTimeout) { [weak connection] _ in
                guard let connection else { return }
                connection.tls?.timedOut(connection)
            }
        }
        transport.accepted(connection)
    }

    /// An accept failed. True when the next can be accepted at once (the peer gave up before we
    /// accepted); otherwise accepting pauses for `pauseWhenExhausted` (out of descriptors or
    /// memory, or something stranger that retrying at once could spin on), logged once per
    /// pause, and `resume` runs after it unless the listener closed meanwhile.
    func acceptFailed(_ errno: Int32, resume: @escaping (Listener) -> Void) -> Bool {
        switch errno {
        case ECONNABORTED, EPROTO, EPERM:
            return true
        default:
            if !acceptPaused {
                acceptPaused = true
                logger.error("accept paused", metadata: ["reason": "\(SystemError(call: "accept", errno: errno))", "listener": "\(address)"])
            }
            loop.schedule(after: Self.pauseWhenExhausted) { [weak self] _ in
                guard let self, self.isOpen else { return }
                self.acceptPaused = false
                resume(self)
            }
            return false
        }
    }

    /// Stops accepting and closes the socket; established connections are not touched.
    public func close() {
        guard isOpen else { return }
        isOpen = false
        loop.socketIO.stopListening(self)
        Syscall.close(descriptor)
    }
}
