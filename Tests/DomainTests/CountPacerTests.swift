// subscription_count pacing on a manual clock: small channels at once, large ones once per interval.
import Domain
import Testing

struct CountPacerTests {
    let start = MonotonicTime(nanoseconds: 1_000_000_000)

    func at(_ seconds: Double) -> MonotonicTime { start.advanced(by: .milliseconds(Int64(seconds * 1000))) }

    /// Which of `changes` (total, seconds) were to be sent at once.
    func sentAtOnce(_ pacer: inout CountPacer<String>, _ changes: [(Int, Double)]) -> [Bool] {
        changes.map { pacer.changed("c", total: $0.0, now: at($0.1)) }
    }

    @Test func aSmallChannelHearsEveryChangeAtOnce() {
        var pacer = CountPacer<String>()
        #expect(sentAtOnce(&pacer, (1...100).map { ($0, 0) } + [(99, 0)]).allSatisfy { $0 })
        let due = pacer.due(now: at(60))
        #expect(due == [])
    }

    @Test func aLargeChannelHearsAtMostOncePerIntervalAndTheLatestCount() {
        var pacer = CountPacer<String>()
        // Nothing sent lately: at once; then held back until the interval has passed.
        #expect(sentAtOnce(&pacer, [(101, 0), (102, 1), (150, 4.9)]) == [true, false, false])
        var due = pacer.due(now: at(4.999))
        #expect(due == [])
        due = pacer.due(now: at(5))
        #expect(due == ["c"])  // the caller sends the count as it is then
        due = pacer.due(now: at(6))
        #expect(due == [])
        #expect(sentAtOnce(&pacer, [(151, 9.9)]) == [false])
        due = pacer.due(now: at(10))
        #expect(due == ["c"])
        // Quiet for an interval: at once again.
        #expect(sentAtOnce(&pacer, [(152, 15.5)]) == [true])
    }

    @Test func anEmptiedChannelIsForgottenAndItsHeldCountDropped() {
        var pacer = CountPacer<String>()
        #expect(sentAtOnce(&pacer, [(200, 0), (150, 1), (0, 2)]) == [true, false, false])
        #expect(pacer.trackedCount == 0)
        let due = pacer.due(now: at(10))
        #expect(due == [])
        #expect(sentAtOnce(&pacer, [(300, 3)]) == [true])
    }
}
