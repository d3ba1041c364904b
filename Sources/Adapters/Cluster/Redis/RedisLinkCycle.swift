// The Redis link's lifecycle as a value: resolve, connect, log in, serve, notice silence, back
// off, stop. Each event returns the one action the driver (RedisConnection) performs.
internal import Domain

/// Where one Redis link is, and what happens next. No I/O and no clock of its own: the driver
/// reports what hiredis, the resolver thread and the timers said, and acts on the answer.
struct RedisLinkCycle: Equatable {
    /// Backoff between connection attempts: doubles from `initialBackoff` up to `maxBackoff`.
    /// The cap is low because a node that lost Redis must resume cross-node delivery within
    /// about two seconds of Redis returning; one connection attempt per second costs nothing.
    static let initialBackoff: Duration = .milliseconds(100)
    static let maxBackoff: Duration = .seconds(1)

    enum Phase: Equatable {
        /// Not started yet.
        case idle
        /// A name is being resolved on a thread of its own (getaddrinfo blocks).
        case resolving
        /// The TCP connect is under way.
        case connecting
        /// Connected; AUTH, SELECT or a first PING is unanswered.
        case loggingIn
        case ready
        /// The link is open and Redis stopped answering on it, since the command sent then.
        case unresponsive(since: MonotonicTime)
        /// Waiting for the next attempt.
        case backingOff
        case stopped
    }

    enum Action: Equatable {
        case none
        /// Resolve the host on a side thread, then `resolved(_:)`.
        case resolve
        /// Connect to this address, and arm the attempt's deadline (`attemptTimedOut()`).
        case connect(address: String)
        /// Send the login commands; `loggedIn()` when the last is answered.
        case logIn
        /// The link is ready: say so, arm the liveness checks, tell the owner.
        case ready(reconnected: Bool)
        /// Try again after `delay`, with `retryDue()`. `lost`: the owner had a ready link and must
        /// hear it is gone; `logged`: the first failure of a series, worth a log line.
        case retry(after: Duration, reason: String, lost: Bool, logged: Bool)
        /// Give up on the open link (a reset, so Redis does not run what it still holds); the
        /// driver reports the drop with `dropped(reason:jitter:)`.
        case abandon(reason: String)
        /// Redis stopped answering and the link stays open (`whenSilent: wait`): report it down.
        case reportSilent
        /// Redis answers again after `silentFor`.
        case recovered(silentFor: Duration)
        /// Send a PING, so an idle link is tested too.
        case ping
        /// Check again after a third of the timeout.
        case checkAgain
        /// Free the link now; nothing follows.
        case close
    }

    private(set) var phase = Phase.idle
    private(set) var backoff = RedisLinkCycle.initialBackoff
    private(set) var everConnected = false
    /// The host needs no resolving (an IP address literal).
    let host: String
    let hostIsLiteral: Bool

    init(host: String, hostIsLiteral: Bool) {
        self.host = host
        self.hostIsLiteral = hostIsLiteral
    }

    /// Commands are taken while connecting too (the login's), and while ready.
    var acceptsCommands: Bool {
        switch phase {
        case .connecting, .loggingIn, .ready: return true
        default: return false
        }
    }

    var isLinkUp: Bool {
        switch phase {
        case .ready, .unresponsive: return true
        default: return false
        }
    }

    // MARK: - Connecting

    mutating func start() -> Action {
        guard phase == .idle else { return .none }
        return attempt()
    }

    /// The backoff passed.
    mutating func retryDue() -> Action {
        guard phase == .backingOff else { return .none }
        return attempt()
    }

    private mutating func attempt() -> Action {
        if hostIsLiteral {
            phase = .connecting
            return .connect(address: host)
        }
        phase = .resolving
        return .resolve
    }

    mutating func resolved(_ address: String?, jitter: Double) -> Action {
        guard phase == .resolving else { return .none }  // Stopped meanwhile.
        guard let address else { return backOff(reason: "cannot resolve \(host)", jitter: jitter) }
        phase = .connecting
        return .connect(address: address)
    }

    /// The connect failed at once, or its callback reported failure.
    mutating func connectFailed(reason: String, jitter: Double) -> Action {
        guard phase == .connecting else { return .none }
        return backOff(reason: reason, jitter: jitter)
    }

    mutating func connected() -> Action {
        guard phase == .connecting else { return .none }
        phase = .loggingIn
        return .logIn
    }

    mutating func loggedIn() -> Action {
        guard phase == .loggingIn else { return .none }
        phase = .ready
        backoff = Self.initialBackoff
        let reconnected = everConnected
        everConnected = true
        return .ready(reconnected: reconnected)
    }

    /// The connect and the login get one deadline: a Redis that accepts the TCP connection and
    /// then says nothing must not hold the attempt for minutes.
    mutating func attemptTimedOut() -> Action {
        switch phase {
        case .connecting, .loggingIn: return .abandon(reason: "connect timed out")
        default: return .none
        }
    }

    /// The link is gone: hiredis reported the disconnect, or the driver abandoned it.
    mutating func dropped(reason: String, jitter: Double) -> Action {
        switch phase {
        case .stopped, .idle, .backingOff, .resolving: return .none
        case .connecting, .loggingIn, .ready, .unresponsive: return backOff(reason: reason, jitter: jitter)
        }
    }

    /// Jitter (0.5 to 1) spreads the reconnects of many nodes after a Redis restart.
    private mutating func backOff(reason: String, jitter: Double) -> Action {
        let lost = isLinkUp
        let logged = !everConnected || backoff == Self.initialBackoff
        let delay = backoff * jitter
        backoff = min(backoff * 2, Self.maxBackoff)
        phase = .backingOff
        return .retry(after: delay, reason: reason, lost: lost, logged: logged)
    }

    mutating func stop() -> Action {
        guard phase != .stopped else { return .none }
        phase = .stopped
        return .close
    }

    // MARK: - Liveness

    /// A liveness check came due. `oldestUnanswered`: when the oldest command still awaiting
    /// its reply was sent; `pathIsDead` is asked only of a link that stopped answering.
    mutating func livenessDue(
        now: MonotonicTime, oldestUnanswered: MonotonicTime?, liveness: RedisConnection.Liveness, pathIsDead: () -> Bool
    ) -> Action {
        switch phase {
        case .unresponsive:
            return pathIsDead() ? .abandon(reason: "nothing acknowledged") : .checkAgain
        case .ready:
            if let oldest = oldestUnanswered, now.duration(since: oldest) >= liveness.timeout {
                switch liveness.whenSilent {
                case .reconnect:
                    return .abandon(reason: "not answering")
                case .wait:
                    phase = .unresponsive(since: oldest)
                    return .reportSilent
                }
            }
            return liveness.pings && oldestUnanswered == nil ? .ping : .checkAgain
        default:
            return .none
        }
    }

    /// A command was answered (`replied`) or dropped with the link.
    mutating func answered(replied: Bool, now: MonotonicTime) -> Action {
        guard replied, case .unresponsive(let since) = phase else { return .none }
        phase = .ready
        return .recovered(silentFor: now.duration(since: since))
    }
}
