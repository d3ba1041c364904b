// When a subscription counts as silent: only when Redis is shown to run and not deliver.
@testable import Adapters
import Domain
import Testing

struct HeartbeatWatchTests {
    let timeout = Duration.seconds(3)

    func at(_ milliseconds: Int64) -> MonotonicTime { MonotonicTime(nanoseconds: milliseconds * 1_000_000) }

    @Test func aHeartbeatHeardAfterItsReplyIsNoSilence() {
        var watch = HeartbeatWatch()
        let first = watch.next()
        watch.confirmed(first, at: at(0))
        watch.heard(first)
        let second = watch.next()
        watch.confirmed(second, at: at(5000))
        #expect(watch.silence(longerThan: timeout) == nil)
    }

    @Test func aConfirmedHeartbeatMissingWhileRedisConfirmsLaterOnesIsSilence() {
        var watch = HeartbeatWatch()
        for (index, time) in [0, 1000, 2000, 3100].enumerated() {
            let number = watch.next()
            #expect(number == UInt64(index + 1))
            watch.confirmed(number, at: at(Int64(time)))
        }
        #expect(watch.silence(longerThan: timeout) == .milliseconds(3100))
    }

    @Test func aRedisPausedRightAfterAReplyIsNoSilence() {
        var watch = HeartbeatWatch()
        watch.confirmed(watch.next(), at: at(0))
        _ = watch.next()  // sent, never answered: Redis is paused
        _ = watch.next()
        #expect(watch.silence(longerThan: timeout) == nil)
    }

    @Test func aReplyThatOvertakesItsMessageIsNoSilence() {
        var watch = HeartbeatWatch()
        let first = watch.next()
        watch.heard(first)  // the message came before the reply
        watch.confirmed(first, at: at(0))
        let second = watch.next()
        watch.confirmed(second, at: at(4000))
        watch.heard(second)
        #expect(watch.silence(longerThan: timeout) == nil)
    }

    @Test func heartbeatsOfAnEarlierSubscriptionAreIgnored() {
        var watch = HeartbeatWatch()
        let old = watch.next()
        watch.reset()
        watch.confirmed(old, at: at(0))
        let new = watch.next()
        watch.confirmed(new, at: at(4000))
        #expect(watch.silence(longerThan: timeout) == nil)
    }
}
