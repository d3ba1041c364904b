// One hiredis asynchronous connection, driven by our event loop (no thread ever blocks on Redis).
public import Logging
internal import CHiredis
internal import Domain
internal import Glibc

/// A Redis connection confined to one event loop: hiredis' read/write hooks register its socket
/// with the loop's poller, so commands and replies never block a loop. Reconnects with capped
/// exponential backoff and jitter, then logs in (AUTH, SELECT) before reporting `ready`. When
/// to do which is `RedisLinkCycle`'s; this class drives hiredis, the poller and the timers.
public final class RedisConnection: LoopHandler, Flushable {
    public enum State: Equatable {
        /// `unresponsive`: the link is open and Redis has stopped answering on it; no new
        /// command is accepted until it answers again or the link is lost.
        case disconnected, connecting, ready, unresponsive, stopped
    }

    public let name: String
    private let endpoint: RedisEndpoint
    unowned let loop: EventLoop
    let logger: Logger
    var context: UnsafeMutablePointer<redisAsyncContext>?
    var registeredDescriptor: Int32 = -1
    var interest: PollerInterest = []
    /// A before-sleep write is scheduled: commands of one turn go out in one write.
    var writeScheduled = false
    /// Inside redisAsyncHandleWrite: an addWrite now means the socket is full.
    var writing = false
    private var cycle: RedisLinkCycle
    public var state: State {
        switch cycle.phase {
        case .idle, .backingOff: return .disconnected
        case .resolving, .connecting, .loggingIn: return .connecting
        case .ready: return .ready
        case .unresponsive: return .unresponsive
        case .stopped: return .stopped
        }
    }
    /// Logins after the first: how often a lost connection came back.
    public private(set) var reconnects = 0
    public var liveness = Liveness()
    /// Commands sent and not yet answered, oldest first (replies come in order).
    private var inFlight = InFlightCommands()
    /// Bytes of the commands not yet answered: what Redis has not taken, bounded by the caller.
    public var unansweredBytes: Int { inFlight.bytes }
    public var unansweredCommands: Int { inFlight.count }
    private var livenessArmed = false
    /// `rediss://`: hiredis talks to this relay's Unix socket, the relay to Redis over TLS.
    private var relay: RedisTLSRelay?
    /// Why a `rediss://` connection has no relay; every attempt fails with it.
    private var relayFailure: String?

    /// Called on the loop once the connection is logged in and usable.
    public var onReady: (() -> Void)?
    /// Called on the loop when an established connection is lost (not on failed attempts), or
    /// stops answering while `whenSilent` is `wait`.
    public var onLost: (() -> Void)?
    /// Called on the loop when a connection that stopped answering answers again.
    public var onRecovered: (() -> Void)?

    public init(name: String, endpoint: RedisEndpoint, loop: EventLoop, logger: Logger) {
        self.name = name
        self.endpoint = endpoint
        self.loop = loop
        self.logger = logger
        cycle = RedisLinkCycle(host: endpoint.host, hostIsLiteral: HostResolver.isAddressLiteral(endpoint.host))
        if endpoint.usesTLS {
            do {
                let client = try endpoint.tls ?? TLSClient(TLSClientSettings())
                relay = try RedisTLSRelay(name: name, endpoint: endpoint, client: client, loop: loop, logger: logger)
            } catch {
                relayFailure = "the TLS relay cannot start: \(error)"
            }
        }
    }

    // MARK: - Connecting

    /// Starts connecting; retries until `stop()`. Call on the loop.
    public func start() {
        if let relay {
            relay.onRemoteConnected = { [weak self] descriptor in self?.liveness.probeWhenIdle(descriptor) }
            do { try relay.start() } catch {
                relayFailure = "the TLS relay cannot start: \(error)"
                relay.stop()
                self.relay = nil
            }
        }
        perform(cycle.start())
    }

    /// Closes the connection now and stops retrying; pending callbacks get nil. Must not be
    /// called from inside a hiredis callback. (redisAsyncDisconnect would wait for pending
    /// replies, which a subscribed connection always has, so it never closed.)
    public func stop() {
        perform(cycle.stop())
        relay?.stop()
        relay = nil
    }

    /// Spreads the reconnects of many nodes after a Redis restart (see `RedisLinkCycle`).
    private static var jitter: Double { .random(in: 0.5...1) }

    /// Does what the cycle decided.
    private func perform(_ action: RedisLinkCycle.Action) {
        switch action {
        case .none:
            break
        case .resolve:
            // hiredis would resolve the name with getaddrinfo, which blocks: resolve on a thread
            // of its own (a container's "redis" may take seconds to answer), then connect here.
            let host = endpoint.host
            let connection = LoopBound(self)
            let loop = self.loop
            DetachedThread.run {
                let address = HostResolver.resolve(host)
                loop.execute { _ in connection.value.perform(connection.value.cycle.resolved(address, jitter: Self.jitter)) }
            }
        case .connect(let address):
            connect(to: address)
        case .logIn:
            logIn()
        case .ready(let reconnected):
            logger.info("redis connected", metadata: ["redis": "\(endpoint)", "connection": "\(name)"])
            if reconnected { reconnects += 1 }
            armLiveness()
            onReady?()
        case .retry(let delay, let reason, let lost, let logged):
            if lost {
                logger.warning("redis connection lost", metadata: ["redis": "\(endpoint)", "connection": "\(name)", "reason": "\(reason)"])
                onLost?()
            }
            if logged {
                logger.warning("redis unavailable", metadata: ["redis": "\(endpoint)", "connection": "\(name)", "reason": "\(reason)", "retry_in": "\(delay)"])
            }
            loop.schedule(after: delay) { [weak self] _ in
                guard let self else { return }
                self.perform(self.cycle.retryDue())
            }
        case .abandon(let reason):
            abandon(reason: reason)
        case .reportSilent:
            armLiveness()
            onLost?()
        case .recovered(let silentFor):
            logger.warning("redis answering again", metadata: [
                "redis": "\(endpoint)", "connection": "\(name)", "silent_for": "\(silentFor)", "unanswered": "\(inFlight.count)",
            ])
            armLiveness()
            onRecovered?()
        case .ping:
            command([Array("PING".utf8)]) { _ in }
            armLiveness()
        case .checkAgain:
            armLiveness()
        case .close:
            if let context {
                redisAsyncFree(context)
                self.context = nil
            }
        }
    }

    private func connect(to address: String) {
        if let relayFailure {
            perform(cycle.connectFailed(reason: relayFailure, jitter: Self.jitter))
            return
        }
        relay?.expect(address)
        guard let context = relay.map({ redisAsyncConnectUnix($0.path) }) ?? redisAsyncConnect(address, Int32(endpoint.port)) else {
            perform(cycle.connectFailed(reason: "out of memory", jitter: Self.jitter))
            return
        }
        if context.pointee.err != 0 {
            let reason = context.pointee.errstr.map { String(cString: $0) } ?? "connect failed"
            redisAsyncFree(context)
            perform(cycle.connectFailed(reason: reason, jitter: Self.jitter))
            return
        }
        self.context = context
        // Through the relay, the TCP socket is the relay's: it sets the probes once connected.
        if relay == nil { liveness.probeWhenIdle(context.pointee.c.fd) }
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
        loop.schedule(after: liveness.timeout) { [weak self] _ in
            guard let self, self.context == context else { return }
            let action = self.cycle.attemptTimedOut()
            if action != .none {
                self.logger.warning("redis not answering", metadata: [
                    "redis": "\(self.endpoint)", "connection": "\(self.name)", "phase": "connect",
                ])
            }
            self.perform(action)
        }
    }

    private func connected(status: Int32) {
        guard status == REDIS_OK else {
            // hiredis frees the context after this callback; the disconnect callback is not called.
            let reason = context.map { $0.pointee.errstr.map { String(cString: $0) } ?? "connect failed" } ?? "connect failed"
            detach()
            perform(cycle.connectFailed(reason: reason, jitter: Self.jitter))
            return
        }
        perform(cycle.connected())
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
            perform(cycle.loggedIn())
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
        detach()
        perform(cycle.dropped(reason: reason, jitter: Self.jitter))
    }

    // The context is about to be freed by hiredis: forget it and its descriptor.
    private func detach() {
        inFlight = InFlightCommands()
        if registeredDescriptor >= 0 {
            loop.deregister(registeredDescriptor)
            registeredDescriptor = -1
        }
        interest = []
        context = nil
    }

    // MARK: - Commands

    /// Sends a command; `reply` runs on the loop with the reply, or nil if the connection dropped.
    /// Returns false (and never calls `reply`) when not connected.
    @discardableResult
    public func command(_ arguments: [[UInt8]], persistent: Bool = false, reply: ((RedisReply?) -> Void)? = nil) -> Bool {
        guard let context, cycle.acceptsCommands else { return false }
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
        let oldest = inFlight.oldest
        let action = cycle.livenessDue(now: loop.now, oldestUnanswered: oldest, liveness: liveness) { [liveness, context, relay] in
            guard let context else { return false }
            return liveness.pathIsDead(relay?.remoteDescriptor ?? context.pointee.c.fd)
        }
        switch action {
        case .abandon where state == .unresponsive:
            logger.warning("redis link dead", metadata: ["redis": "\(endpoint)", "connection": "\(name)", "unanswered": "\(inFlight.count)"])
        case .abandon, .reportSilent:
            let waited = oldest.map { loop.now.duration(since: $0) } ?? .zero
            logger.warning("redis not answering", metadata: [
                "redis": "\(endpoint)", "connection": "\(name)", "waited": "\(waited)",
                "unanswered": "\(inFlight.count)", "then": "\(liveness.whenSilent == .wait ? "wait" : "reconnect")",
            ])
        default:
            break
        }
        perform(action)
    }

    private func answered(_ replied: Bool) {
        inFlight.answered()
        perform(cycle.answered(replied: replied, now: loop.now))
    }

    /// Gives up on a link that does not answer: frees it (pending replies get nil, the
    /// disconnect callback reports it lost) and reconnects. Not from inside a hiredis callback.
    func abandon(reason: String) {
        guard let context else { return }
        // A closed socket's kernel keeps sending what it holds; after a partition heals, Redis
        // would run commands already counted as lost. A reset discards them instead.
        var reset = linger(l_onoff: 1, l_linger: 0)
        _ = setsockopt(context.pointee.c.fd, SOL_SOCKET, SO_LINGER, &reset, socklen_t(MemoryLayout<linger>.size))
        redisAsyncFree(context)
        // hiredis reported the disconnect from inside redisAsyncFree when the link was up;
        // otherwise the context is gone all the same.
        if self.context != nil {
            detach()
            perform(cycle.dropped(reason: reason, jitter: Self.jitter))
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
