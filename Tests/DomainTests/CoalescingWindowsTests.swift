// Coalescing windows on a manual clock: leading edge, trailing edge, bursts at the edges.
import Domain
import Testing

@Suite struct CoalescingWindowsTests {
    let topic = TopicName("contest_session.1")!
    let other = TopicName("contest_session.2")!
    let window: Duration = .milliseconds(250)

    func at(_ milliseconds: Int64) -> MonotonicTime { MonotonicTime(nanoseconds: milliseconds * 1_000_000) }

    @Test func aBurstOfTenIsTwoDeliveries() {
        var windows = CoalescingWindows<Int>()
        var delivered: [Int] = []
        var timer: MonotonicTime?
        for n in 1...10 {
            switch windows.publish(n, to: topic, window: window, now: at(Int64(n) * 20)) {
            case .deliver(let item, let ends): delivered.append(item); timer = ends
            case .held: break
            }
        }
        #expect(delivered == [1] && timer == at(270))
        #expect(windows.folded == 8)  // 2...9 were replaced; 10 waits for the trailing edge
        guard case .deliver(let last, let next) = windows.windowEnded(topic, window: window, now: at(270)) else {
            Issue.record("the trailing edge delivered nothing")
            return
        }
        #expect(last == 10 && next == at(520))
        #expect(windows.windowEnded(topic, window: window, now: at(520)) == .closed)
        #expect(windows.openCount == 0)
    }

    @Test func aLonePublishIsDeliveredOnceAndItsWindowCloses() {
        var windows = CoalescingWindows<Int>()
        guard case .deliver(1, let ends) = windows.publish(1, to: topic, window: window, now: at(0)) else {
            Issue.record("the leading edge was held")
            return
        }
        #expect(windows.windowEnded(topic, window: window, now: ends) == .closed)
        // The next burst starts a new window with a leading edge of its own.
        guard case .deliver(2, _) = windows.publish(2, to: topic, window: window, now: at(400)) else {
            Issue.record("the next burst's first publish was held")
            return
        }
    }

    @Test func aPublishAtTheLastInstantOfAWindowIsHeldForItsEnd() {
        var windows = CoalescingWindows<Int>()
        _ = windows.publish(1, to: topic, window: window, now: at(0))
        #expect(windows.publish(2, to: topic, window: window, now: at(249)) == .held)
        #expect(windows.windowEnded(topic, window: window, now: at(249)) == .early)
        guard case .deliver(2, let next) = windows.windowEnded(topic, window: window, now: at(250)) else {
            Issue.record("the trailing edge was lost")
            return
        }
        // Right after the trailing edge, a publish is inside the new window: held, not a third push at once.
        #expect(windows.publish(3, to: topic, window: window, now: at(251)) == .held)
        guard case .deliver(3, _) = windows.windowEnded(topic, window: window, now: next) else {
            Issue.record("the second window's publish was lost")
            return
        }
    }

    @Test func windowsArePerTopic() {
        var windows = CoalescingWindows<Int>()
        _ = windows.publish(1, to: topic, window: window, now: at(0))
        guard case .deliver(2, _) = windows.publish(2, to: other, window: window, now: at(10)) else {
            Issue.record("another topic's first publish was held")
            return
        }
        #expect(windows.openCount == 2)
    }
}
