// The Redis link's lifecycle as a value: every transition, and every event where it means
// nothing, without a socket or a clock.
@testable import Adapters
import Domain
import Testing

struct RedisLinkCycleTests {
    static let t0 = MonotonicTime(nanoseconds: 1_000_000_000)

    /// A cycle brought to `ready` on a literal address.
    static func ready() -> RedisLinkCycle {
        var cycle = RedisLinkCycle(host: "127.0.0.1", hostIsLiteral: true)
        _ = cycle.start()
        _ = cycle.connected()
        _ = cycle.loggedIn()
        return cycle
    }

    @Test func aLiteralAddressConnectsAtOnceAndANameIsResolvedFirst() {
        var literal = RedisLinkCycle(host: "127.0.0.1", hostIsLiteral: true)
        #expect(literal.start() == .connect(address: "127.0.0.1"))
        #expect(literal.phase == .connecting)
        #expect(literal.start() == .none, "a second start must not open a second link")

        var named = RedisLinkCycle(host: "redis", hostIsLiteral: false)
        #expect(named.start() == .resolve)
        #expect(named.phase == .resolving)
        #expect(named.resolved("10.0.0.7", jitter: 1) == .connect(address: "10.0.0.7"))
        #expect(named.resolved("10.0.0.8", jitter: 1) == .none, "a late resolution is ignored")
    }

    @Test func aNameThatDoesNotResolveBacksOffAndTriesAgain() {
        var cycle = RedisLinkCycle(host: "redis", hostIsLiteral: false)
        _ = cycle.start()
        #expect(cycle.resolved(nil, jitter: 1) == .retry(after: .milliseconds(100), reason: "cannot resolve redis", lost: false, logged: true))
        #expect(cycle.phase == .backingOff)
        #expect(cycle.retryDue() == .resolve)
    }

    @Test func connectingLogsInThenReportsReadyAndAReconnectSaysSo() {
        var cycle = RedisLinkCycle(host: "127.0.0.1", hostIsLiteral: true)
        _ = cycle.start()
        #expect(cycle.loggedIn() == .none, "logged in before connecting")
        #expect(cycle.connected() == .logIn)
        #expect(cycle.phase == .loggingIn)
        #expect(cycle.connected() == .none)
        #expect(cycle.loggedIn() == .ready(reconnected: false))
        #expect(cycle.phase == .ready)
        #expect(cycle.dropped(reason: "closed", jitter: 1) == .retry(after: .milliseconds(100), reason: "closed", lost: true, logged: true))
        #expect(cycle.retryDue() == .connect(address: "127.0.0.1"))
        _ = cycle.connected()
        #expect(cycle.loggedIn() == .ready(reconnected: true))
    }

    @Test func backoffDoublesToItsCapWithJitterAndOnlyTheFirstFailureAfterALinkIsLogged() {
        var cycle = Self.ready()
        var delays: [Duration] = []
        var logged: [Bool] = []
        var action = cycle.dropped(reason: "closed", jitter: 1)
        for _ in 0..<6 {
            guard case .retry(let delay, _, _, let log) = action else {
                Issue.record("expected a retry, got \(action)")
                return
            }
            delays.append(delay)
            logged.append(log)
            #expect(cycle.retryDue() == .connect(address: "127.0.0.1"))
            action = cycle.connectFailed(reason: "refused", jitter: 1)
        }
        #expect(delays == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(logged == [true, false, false, false, false, false])
        // Jitter scales the delay; the next delay doubles from the unjittered one.
        var fresh = RedisLinkCycle(host: "127.0.0.1", hostIsLiteral: true)
        _ = fresh.start()
        #expect(fresh.connectFailed(reason: "refused", jitter: 0.5) == .retry(after: .milliseconds(50), reason: "refused", lost: false, logged: true))
        // A link that logs in again starts from the initial backoff.
        _ = fresh.retryDue()
        _ = fresh.connected()
        _ = fresh.loggedIn()
        #expect(fresh.dropped(reason: "closed", jitter: 1) == .retry(after: .milliseconds(100), reason: "closed", lost: true, logged: true))
    }

    @Test func theConnectAndTheLoginShareOneDeadline() {
        var cycle = RedisLinkCycle(host: "127.0.0.1", hostIsLiteral: true)
        _ = cycle.start()
        #expect(cycle.attemptTimedOut() == .abandon(reason: "connect timed out"))
        _ = cycle.connected()
        #expect(cycle.attemptTimedOut() == .abandon(reason: "connect timed out"))
        _ = cycle.loggedIn()
        #expect(cycle.attemptTimedOut() == .none, "a ready link's old deadline")
    }

    @Test func anIdleReadyLinkIsPingedOrJustCheckedAgain() {
        var cycle = Self.ready()
        var liveness = RedisConnection.Liveness()
        var asked = 0
        #expect(cycle.livenessDue(now: Self.t0, oldestUnanswered: nil, liveness: liveness) { asked += 1; return true } == .ping)
        liveness.pings = false
        #expect(cycle.livenessDue(now: Self.t0, oldestUnanswered: nil, liveness: liveness) { asked += 1; return true } == .checkAgain)
        // An answer pending for less than the timeout.
        let recent = Self.t0.advanced(by: .seconds(-2))
        #expect(cycle.livenessDue(now: Self.t0, oldestUnanswered: recent, liveness: liveness) { asked += 1; return true } == .checkAgain)
        #expect(asked == 0, "the kernel is asked about the path only of a link that stopped answering")
    }

    @Test func aSilentLinkIsAbandonedOrKeptOpenAndReportedDown() {
        let sent = Self.t0
        let late = sent.advanced(by: .seconds(3))
        var reconnecting = Self.ready()
        #expect(reconnecting.livenessDue(now: late, oldestUnanswered: sent, liveness: .init()) { true } == .abandon(reason: "not answering"))

        var waiting = Self.ready()
        var liveness = RedisConnection.Liveness()
        liveness.whenSilent = .wait
        #expect(waiting.livenessDue(now: late, oldestUnanswered: sent, liveness: liveness) { true } == .reportSilent)
        #expect(waiting.phase == .unresponsive(since: sent))
        #expect(!waiting.acceptsCommands)
        #expect(waiting.livenessDue(now: late, oldestUnanswered: sent, liveness: liveness) { false } == .checkAgain)
        #expect(waiting.answered(replied: false, now: late) == .none, "a reply dropped with the link is not an answer")
        #expect(waiting.answered(replied: true, now: late.advanced(by: .seconds(1))) == .recovered(silentFor: .seconds(4)))
        #expect(waiting.phase == .ready)
        #expect(waiting.answered(replied: true, now: late) == .none)

        var dead = Self.ready()
        _ = dead.livenessDue(now: late, oldestUnanswered: sent, liveness: liveness) { true }
        #expect(dead.livenessDue(now: late, oldestUnanswered: sent, liveness: liveness) { true } == .abandon(reason: "nothing acknowledged"))
        #expect(dead.dropped(reason: "nothing acknowledged", jitter: 1) == .retry(after: .milliseconds(100), reason: "nothing acknowledged", lost: true, logged: true))
        #expect(dead.dropped(reason: "closed", jitter: 1) == .none, "the same drop reported twice")
    }

    @Test func stoppingClosesOnceAndEveryLaterEventDoesNothing() {
        var cycle = Self.ready()
        #expect(cycle.stop() == .close)
        #expect(cycle.stop() == .none)
        #expect(cycle.dropped(reason: "closed", jitter: 1) == .none)
        #expect(cycle.retryDue() == .none)
        #expect(cycle.start() == .none)
        #expect(cycle.resolved("10.0.0.7", jitter: 1) == .none)
        #expect(cycle.connected() == .none)
        #expect(cycle.connectFailed(reason: "refused", jitter: 1) == .none)
        #expect(cycle.loggedIn() == .none)
        #expect(cycle.attemptTimedOut() == .none)
        #expect(cycle.livenessDue(now: Self.t0, oldestUnanswered: nil, liveness: .init()) { true } == .none)
        #expect(cycle.phase == .stopped)

        var resolving = RedisLinkCycle(host: "redis", hostIsLiteral: false)
        _ = resolving.start()
        #expect(resolving.stop() == .close)
        #expect(resolving.resolved("10.0.0.7", jitter: 1) == .none, "a resolution that finishes after the stop")
    }

    @Test func commandsAreTakenWhileConnectingAndReadyOnly() {
        var cycle = RedisLinkCycle(host: "127.0.0.1", hostIsLiteral: true)
        #expect(!cycle.acceptsCommands)
        _ = cycle.start()
        #expect(cycle.acceptsCommands)
        _ = cycle.connected()
        #expect(cycle.acceptsCommands)
        _ = cycle.loggedIn()
        #expect(cycle.acceptsCommands && cycle.isLinkUp)
        _ = cycle.dropped(reason: "closed", jitter: 1)
        #expect(!cycle.acceptsCommands && !cycle.isLinkUp)
    }
}
