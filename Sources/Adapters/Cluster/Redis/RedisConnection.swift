// One hiredis asynchronous connection, driven by our event loop (no thread ever blocks on Redis).
public import Logging
internal import CHiredis
internal import Domain
internal import Glibc

/// A Redis connection confined to one event loop: hiredis' read/write hooks register its socket
/// with the loop's poller, so commands and replies never block a loop. Reconnects with capped
/// exponential backoff and jitter, then logs in (AUTH, SELECT) before reporting `ready`.
public final class RedisConnection: LoopHandler, Flushable {
    /// Backoff between connection attempts: doubles from `initialBackoff` up to `maxBackoff`.
    /// The cap is low because a node that lost Redis must resume cross-node delivery within
    /// about two seconds of Redis returning; one connection attempt per second costs nothing.
    static let initialBackoff: Duration = .milliseconds(100)
    static let maxBackoff: Duration = .seconds(1)

    public enum State: Equatable {
        /// `unresponsive`: the link is open and Redis has stopped answering on it; no new
        /// command is accepted until it answers again or the link is lost.
        case disconnected, connecting, ready, unresponsive, stopped
    }

    /// How a connection notices a Redis that stopped answering (hung, paused, partitioned
    /// without a reset), which TCP alone reports only after many minutes.
    public struct Liveness: Sendable {
        /// A command whose reply is older than this drops the link: the same path as a lost one.
        public var timeout: Duration = .seconds(3)
        /// Ping while idle, so a silent link is tested too (not on a subscribed connection,
        /// where the commands are not answered one by one).
        public var pings = true
        /// What a link that stopped answering becomes. `reconnect` frees it and connects again:
        /// right where a command lost with the link costs nothing. `wait` reports it down and
        /// keeps it open: Redis still runs every command that reached its socket, even after
        /// we reset the connection (measured with a paused redis-server), so only a link kept
        /// open learns which commands ran. A dead path still ends it: data the peer's kernel
        /// has not acknowledged for `deadPathTimeout`, or kernel keep-alive probes of an idle
        /// link left unanswered. A paused Redis's kernel acknowledges both, even at a full
        /// window (which is why TCP_USER_TIMEOUT, which ends a zero window too, is not used).
        public var whenSilent = WhenSilent.reconnect

        public enum WhenSilent: Sendable { case reconnect, wait }

        /// Twice the timeout: a path that comes back within that loses nothing at all.
        var deadPathTimeout: Duration { timeout * 2 }

        public init() {}
    }

    public let name: String
    private let endpoint: RedisEndpoint
    private unowned let loop: EventLoop
    private let logger: Logger
    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var registeredDescriptor: Int32 = -1
    private var interest: PollerInterest = []
    /// A before-sleep write is scheduled: commands of one turn go out in one write.
    private var writeScheduled = false
    /// Inside redisAsyncHandleWrite: an addWrite now means the socket is full.
    private var writing = false
    private var backoff = RedisConnection.initialBackoff
    private var everConnected = false
    public private(set) var state: State = .disconnected
    /// Logins after the first: how often a lost connection came back.
    public private(set) var reconnects = 0
    public var liveness = Liveness()
    /// Commands sent and not yet answered, oldest first (replies come in order).
    private var inFlight = InFlightCommands()
    /// Bytes of the commands not yet answered: what Redis has not taken, bounded by the caller.
    public var unansweredBytes: Int { inFlight.bytes }
    public var unansweredCommands: Int { inFlight.count }
    private var livenessArmed = false

    /// Called on the loop once the connection is logged in and usable.
    public var onReady: (() -> Void)?
    /// Called on the loop when an established connection is lost (not on failed attempts), or
    /// stops answering while `whenSilent` is `wait`.
    public var onLost: (() -> Void)?
    /// Called on the loop when a connection that stopped answering answers again.
    public var onRecovered: (() -> Void)?
    private var silentSince: MonotonicTime?

    public init(name: String, endpoint: RedisEndpoint, loop: EventLoop, logger: Logger) {
        self.name = name
        self.endpoint = endpoint
        self.loop = loop
        self.logger = logger
    }

    // MARK: - Connecting

    /// Starts connecting; retries until `stop()`. Call on the loop.
    public func start() {
        guard state == .disconnected else { return }
        attempt()
    }

    /// Closes the connection now and stops retrying; pending callbacks get nil. Must not be
    /// called from inside a hiredis callback. (redisAsyncDisconnect would wait for pending
    /// replies, which a subscribed connection always has, so it never closed.)
    public func stop() {
        state = .stopped
        if let context {
            redisAsyncFree(context)
            self.context = nil
        }
    }

    private func attempt() {
        guard state == .disconnected else { return }
        guard HostResolver.isAddressLiteral(endpoint.host) else {
            // hiredis would resolve the name with getaddrinfo, which blocks: resolve on a thread
            // of its own (a container's "redis" may take seconds to answer), then connect here.
            state = .connecting
            let host = endpoint.host
            let connection = LoopBound(self)
            let loop = self.loop
            DetachedThread.run {
                let address = HostResolver.resolve(host)
                loop.execute { _ in connection.value.resolved(address) }
            }
            return
        }
        connect(to: endpoint.host)
    }

    private func resolved(_ address: String?) {
        guard state == .connecting, context == nil else { return }  // Stopped meanwhile.
        state = .disconnected
        guard let address else {
            scheduleRetry(reason: "cannot resolve \(endpoint.host)")
            return
        }
        connect(to: address)
    }

    private func connect(to address: String) {
        guard let context = redisAsyncConnect(address, Int32(endpoint.port)) else {
            scheduleRetry(reason: "out of memory")
            return
        }
        if context.pointee.err != 0 {
            let reason = context.pointee.errstr.map { String(cString: $0) } ?? "connect failed"
            redisAsyncFree(context)
            scheduleRetry(reason: reason)
            return
        }
        self.context = context
        state = .connecting
        probeWhenIdle(context.pointee.c.fd)
        context.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        installHooks(context)
        redisAsyncSetConnectCallback(context) { context, status in
            guard let connection = RedisConnection.owner(context) else { return }
            connection.connected(status: status)
        }
        redisAsyncSetDisconnectCallback(context) { context, status in
            guard let connection = RedisConnection.owner(context) else { return }
            connection.disconnected(status: status)
        }
        // The connect and the login (AUTH, SELECT) get one timeout too: a Redis that accepts
        // the TCP connection and then says nothing must not hold the attempt for minutes.
        loop.schedule(after: liveness.timeout) { [weak self] _ in
            guard let self, self.state == .connecting, self.context == context else { return }
            self.logger.warning("redis not answering", metadata: [
                "redis": "\(self.endpoint)", "connection": "\(self.name)", "phase": "connect",
            ])
            self.abandon(reason: "connect timed out")
        }
    }

    /// TCP alone takes many minutes to give up on a peer that acknowledges nothing (a
    /// partition, a host gone without a reset): an idle link is probed by the kernel instead.
    private func probeWhenIdle(_ descriptor: Int32) {
        // Idle for twice the timeout, then three probes a second apart: longer than the dead
        // path of a busy link, so a subscription outlives a partition its publisher survives.
        let seconds = Int32(clamping: max(1, liveness.deadPathTimeout.components.seconds))
        let size = socklen_t(MemoryLayout<Int32>.size)
        var on: Int32 = 1, idle = seconds, interval: Int32 = 1, count: Int32 = 3
        _ = setsockopt(descriptor, SOL_SOCKET, SO_KEEPALIVE, &on, size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_KEEPIDLE, &idle, size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_KEEPINTVL, &interval, size)
        _ = setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_KEEPCNT, &count, size)
    }

    /// Nothing acknowledged for `deadPathTimeout` while something awaits acknowledgement: sent
    /// data, or probes of a zero window (a peer that stopped reading and then vanished). A
    /// paused peer's kernel answers its zero-window probes, which resets both counts.
    private func pathIsDead() -> Bool {
        guard let context else { return false }
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        guard getsockopt(context.pointee.c.fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0 else { return false }
        let limit = liveness.deadPathTimeout.components
        let milliseconds = limit.seconds * 1000 + limit.attoseconds / 1_000_000_000_000_000
        return (info.tcpi_unacked > 0 || info.tcpi_probes >= 3) && Int64(info.tcpi_last_ack_recv) >= milliseconds
    }

    private func connected(status: Int32) {
        guard status == REDIS_OK else {
            // hiredis frees the context after this callback; the disconnect callback is not called.
            let reason = context.map { $0.pointee.errstr.map { String(cString: $0) } ?? "connect failed" } ?? "connect failed"
            detach()
            scheduleRetry(reason: reason)
            return
        }
        logIn()
    }

    private func logIn() {
        var steps: [[String]] = []
        if let password = endpoint.password {
            steps.append(endpoint.username.map { ["AUTH", $0, password] } ?? ["AUTH", password])
        }
        if endpoint.database != 0 { steps.append(["SELECT", String(endpoint.database)]) }
        // A link is ready once Redis has answered on it: a paused Redis completes TCP
        // handshakes from its backlog, and a command sent on such a link would run later.
        if steps.isEmpty { steps.append(["PING"]) }
        runLogin(steps[...])
    }

    private func runLogin(_ steps: ArraySlice<[String]>) {
        guard let step = steps.first else {
            state = .ready
            backoff = Self.initialBackoff
            logger.info("redis connected", metadata: ["redis": "\(endpoint)", "connection": "\(name)"])
            if everConnected { reconnects += 1 }
            everConnected = true
            armLiveness()
            onReady?()
            return
        }
        command(step.map { Array($0.utf8) }) { [weak self] reply in
            guard let self else { return }
            // No reply: the attempt was abandoned (and said so) or the link dropped; it retries.
            guard let reply else { return }
            guard !reply.isError else {
                // Wrong password or database: say so (without the password) and keep retrying.
                let reason = "\(reply)"
                self.logger.error("redis login failed", metadata: ["redis": "\(self.endpoint)", "command": "\(step[0])", "reason": "\(reason)"])
                if let context = self.context { redisAsyncDisconnect(context) }
                return
            }
            self.runLogin(steps.dropFirst())
        }
    }

    private func disconnected(status: Int32) {
        let reason = context.map { $0.pointee.errstr.map { String(cString: $0) } ?? "closed" } ?? "closed"
        let wasReady = state == .ready || state == .unresponsive
        detach()
        if state == .stopped { return }
        if wasReady {
            logger.warning("redis connection lost", metadata: ["redis": "\(endpoint)", "connection": "\(name)", "reason": "\(reason)"])
            onLost?()
        }
        scheduleRetry(reason: reason)
    }

    // The context is about to be freed by hiredis: forget it and its descriptor.
    private func detach() {
        inFlight = InFlightCommands()
        silentSince = nil
        if registeredDescriptor >= 0 {
            loop.deregister(registeredDescriptor)
            registeredDescriptor = -1
        }
        interest = []
        context = nil
        if state != .stopped { state = .disconnected }
    }

    private func scheduleRetry(reason: String) {
        guard state != .stopped else { return }
        state = .disconnected
        // Jitter spreads reconnects of many nodes after a Redis restart.
        let jitter = Double.random(in: 0.5...1.0)
        let delay = backoff * jitter
        if !everConnected || backoff == Self.initialBackoff {
            logger.warning("redis unavailable", metadata: ["redis": "\(endpoint)", "connection": "\(name)", "reason": "\(reason)", "retry_in": "\(delay)"])
        }
        backoff = min(backoff * 2, Self.maxBackoff)
        loop.schedule(after: delay) { [weak self] _ in self?.attempt() }
    }

    // MARK: - Commands

    /// Sends a command; `reply` runs on the loop with the reply, or nil if the connection dropped.
    /// Returns false (and never calls `reply`) when not connected.
    @discardableResult
    public func command(_ arguments: [[UInt8]], persistent: Bool = false, reply: ((RedisReply?) -> Void)? = nil) -> Bool {
        guard let context, state == .ready || state == .connecting else { return false }
        // Every one-shot command is answered once, in order: its reply (or nil when the link
        // drops) ends its place in `inFlight`, which the liveness check and the bound read.
        let size = arguments.reduce(0) { $0 + $1.count }
        let tracked: ((RedisReply?) -> Void)? = persistent ? reply : { [weak self] value in
            self?.answered(value != nil)
            reply?(value)
        }
        let box = tracked.map { Unmanaged.passRetained(ReplyBox($0, persistent: persistent)).toOpaque() }
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        let storage = arguments.map { bytes -> UnsafeMutablePointer<CChar> in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { pointer.update(from: $0.baseAddress ?? UnsafePointer(pointer), count: bytes.count) }
            }
            return pointer
        }
        defer { storage.forEach { $0.deallocate() } }
        for (index, bytes) in arguments.enumerated() {
            pointers.append(UnsafePointer(storage[index]))
            lengths.append(bytes.count)
        }
        let callback: (@convention(c) (UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void)? =
            box == nil ? nil : { _, reply, privdata in
                guard let privdata else { return }
                let unmanaged = Unmanaged<ReplyBox>.fromOpaque(privdata)
                let handler = unmanaged.takeUnretainedValue()
                let value = reply.map { RedisReply(UnsafePointer($0.assumingMemoryBound(to: redisReply.self))) }
                // One-shot boxes end with their reply; subscription boxes end with the connection.
                if !handler.persistent || value == nil { unmanaged.release() }
                handler.body(value)
            }
        let status = pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { argvlen in
                redisAsyncCommandArgv(context, callback, box, Int32(arguments.count), argv.baseAddress, argvlen.baseAddress)
            }
        }
        if status != REDIS_OK {
            if let box { Unmanaged<ReplyBox>.fromOpaque(box).release() }
            return false
        }
        if !persistent { inFlight.sent(bytes: size, at: loop.now) }
        return true
    }

    // MARK: - Liveness

    private func armLiveness() {
        guard !livenessArmed else { return }
        livenessArmed = true
        // Three checks per timeout: a hang is noticed between 1 and 1.33 timeouts after the
        // oldest unanswered command was sent.
        let period = liveness.timeout / 3
        loop.schedule(after: period) { [weak self] _ in
            guard let self else { return }
            self.livenessArmed = false
            self.checkLiveness()
        }
    }

    private func checkLiveness() {
        if state == .unresponsive {
            if pathIsDead() {
                logger.warning("redis link dead", metadata: ["redis": "\(endpoint)", "connection": "\(name)", "unanswered": "\(inFlight.count)"])
                abandon(reason: "nothing acknowledged")
            } else {
                armLiveness()
            }
            return
        }
        guard state == .ready, context != nil else { return }
        if let oldest = inFlight.oldest, loop.now.duration(since: oldest) >= liveness.timeout {
            logger.warning("redis not answering", metadata: [
                "redis": "\(endpoint)", "connection": "\(name)", "waited": "\(loop.now.duration(since: oldest))",
                "unanswered": "\(inFlight.count)", "then": "\(liveness.whenSilent == .wait ? "wait" : "reconnect")",
            ])
            switch liveness.whenSilent {
            case .reconnect:
                abandon(reason: "not answering")
            case .wait:
                state = .unresponsive
                silentSince = oldest
                armLiveness()
                onLost?()
            }
            return
        }
        if liveness.pings && inFlight.count == 0 { command([Array("PING".utf8)]) { _ in } }
        armLiveness()
    }

    private func answered(_ replied: Bool) {
        inFlight.answered()
        guard replied, state == .unresponsive else { return }
        state = .ready
        logger.warning("redis answering again", metadata: [
            "redis": "\(endpoint)", "connection": "\(name)",
            "silent_for": "\(silentSince.map { loop.now.duration(since: $0) } ?? .zero)", "unanswered": "\(inFlight.count)",
        ])
        silentSince = nil
        armLiveness()
        onRecovered?()
    }

    /// Gives up on a link that does not answer: frees it (pending replies get nil, the
    /// disconnect callback reports it lost) and reconnects. Not from inside a hiredis callback.
    func abandon(reason: String) {
        guard let context else { return }
        let wasReady = state == .ready || state == .unresponsive
        // A closed socket's kernel keeps sending what it holds; after a partition heals, Redis
        // would run commands already counted as lost. A reset discards them instead.
        var reset = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(context.pointee.c.fd, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
        redisAsyncFree(context)
        // hiredis reported the disconnect from inside redisAsyncFree when the link was up;
        // otherwise the context is gone all the same.
        if self.context != nil {
            detach()
            if wasReady { onLost?() }
            scheduleRetry(reason: reason)
        }
    }

    // MARK: - Event-loop hooks

    private func installHooks(_ context: UnsafeMutablePointer<redisAsyncContext>) {
        context.pointee.ev.data = Unmanaged.passUnretained(self).toOpaque()
        context.pointee.ev.addRead = { data in RedisConnection.hooked(data)?.change(add: .readable) }
        context.pointee.ev.delRead = { data in RedisConnection.hooked(data)?.change(remove: .readable) }
        context.pointee.ev.addWrite = { data in RedisConnection.hooked(data)?.wantWrite() }
        context.pointee.ev.delWrite = { data in RedisConnection.hooked(data)?.change(remove: .writable) }
        context.pointee.ev.cleanup = { data in RedisConnection.hooked(data)?.cleanupHook() }
    }

    /// hiredis asks for a write after every command. Once connected, we write in the loop's
    /// before-sleep flush instead of arming EPOLLOUT: the commands of a turn (many PUBLISHes)
    /// leave in one write, and no epoll_ctl pair is spent per command. EPOLLOUT is armed only
    /// to detect the connect, or when the socket is full.
    private func wantWrite() {
        guard let context else { return }
        let connected = context.pointee.c.flags & Int32(REDIS_CONNECTED) != 0
        if !connected || writing {
            change(add: .writable)
        } else if !writeScheduled {
            writeScheduled = true
            loop.markDirty(self)
        }
    }

    public func flush(on loop: EventLoop) {
        writeScheduled = false
        guard let context else { return }
        writing = true
        redisAsyncHandleWrite(context)
        writing = false
    }

    private func change(add: PollerInterest = [], remove: PollerInterest = []) {
        guard let context else { return }
        let descriptor = context.pointee.c.fd
        let desired = interest.union(add).subtracting(remove)
        do {
            if registeredDescriptor < 0 {
                try loop.register(descriptor, interest: desired, handler: self)
                registeredDescriptor = descriptor
            } else {
                try loop.setInterest(descriptor, desired)
            }
            interest = desired
        } catch {
            logger.error("redis poller registration failed", metadata: ["reason": "\(error)"])
        }
    }

    private func cleanupHook() {
        if registeredDescriptor >= 0 {
            // hiredis calls this hook around closing the socket, and on a refused connection
            // after it is already closed: epoll_ctl(DEL) then fails with EBADF (seen in a
            // parallel test run). The socket is closed either way, which removes it from epoll,
            // so the loop only forgets it.
            loop.deregisterForClose(registeredDescriptor)
            registeredDescriptor = -1
        }
        interest = []
    }

    public func readable(on loop: EventLoop) {
        if let context { redisAsyncHandleRead(context) }
    }

    public func writable(on loop: EventLoop) {
        guard let context else { return }
        writing = true
        redisAsyncHandleWrite(context)
        writing = false
    }

    public func hangup(on loop: EventLoop) {
        if let context { redisAsyncHandleRead(context) }
    }

    private static func owner(_ context: UnsafePointer<redisAsyncContext>?) -> RedisConnection? {
        guard let data = context?.pointee.data else { return nil }
        return Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
    }

    private static func hooked(_ data: UnsafeMutableRawPointer?) -> RedisConnection? {
        guard let data else { return nil }
        return Unmanaged<RedisConnection>.fromOpaque(data).takeUnretainedValue()
    }
}

/// The commands a connection awaits replies to, as a queue of send times and sizes.
struct InFlightCommands {
    private var sentAt: [MonotonicTime] = []
    private var sizes: [Int] = []
    private var head = 0
    private(set) var bytes = 0

    var count: Int { sentAt.count - head }
    var oldest: MonotonicTime? { head < sentAt.count ? sentAt[head] : nil }

    mutating func sent(bytes size: Int, at time: MonotonicTime) {
        sentAt.append(time)
        sizes.append(size)
        bytes += size
    }

    mutating func answered() {
        guard head < sentAt.count else { return }
        bytes -= sizes[head]
        head += 1
        if head == sentAt.count {
            sentAt.removeAll(keepingCapacity: true)
            sizes.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 1024 && head * 2 > sentAt.count {
            sentAt.removeFirst(head)
            sizes.removeFirst(head)
            head = 0
        }
    }
}

private final class ReplyBox {
    let body: (RedisReply?) -> Void
    let persistent: Bool

    init(_ body: @escaping (RedisReply?) -> Void, persistent: Bool) {
        self.body = body
        self.persistent = persistent
    }
}
