// Webhook events from the cluster's transitions on a manual clock: at once for occupied and
// added, after the delay and only if still true for vacated and removed.
import Domain
import Testing

struct WebhookTrackerTests {
    let start = MonotonicTime(nanoseconds: 1_000_000_000)
    let key = ChannelKey(app: "1", channel: "presence-room")

    func at(_ seconds: Double) -> MonotonicTime { start.advanced(by: .milliseconds(Int64(seconds * 1000))) }
    func names(_ events: [ScopedWebhookEvent]) -> [String] { events.map(\.event.name) }

    @Test func occupiedAtOnceVacatedAfterTheDelay() {
        var tracker = WebhookTracker(delay: .seconds(3))
        #expect(tracker.countChanged(key, total: 1, counted: false, now: at(0)) == [ScopedWebhookEvent(scope: "1", event: .channelOccupied(channel: key.channel))])
        #expect(tracker.countChanged(key, total: 2, counted: false, now: at(0)) == [])
        #expect(tracker.countChanged(key, total: 0, counted: false, now: at(1)) == [])
        var due = tracker.tick(now: at(3.999))
        #expect(due == [])
        due = tracker.tick(now: at(4))
        #expect(due == [ScopedWebhookEvent(scope: "1", event: .channelVacated(channel: key.channel))])
        due = tracker.tick(now: at(10))
        #expect(due == [])
        // Occupied again: told again.
        #expect(names(tracker.countChanged(key, total: 1, counted: false, now: at(11))) == ["channel_occupied"])
    }

    @Test func aReturnWithinTheDelaySendsNothing() {
        var tracker = WebhookTracker(delay: .seconds(3))
        _ = tracker.countChanged(key, total: 1, counted: false, now: at(0))
        #expect(tracker.memberAdded(key, userID: "u", now: at(0)) == [ScopedWebhookEvent(scope: "1", event: .memberAdded(channel: key.channel, userID: "u"))])
        _ = tracker.countChanged(key, total: 0, counted: false, now: at(1))
        tracker.memberRemoved(key, userID: "u", now: at(1))
        #expect(tracker.pendingCount == 2)
        #expect(tracker.countChanged(key, total: 1, counted: false, now: at(2)) == [])
        #expect(tracker.memberAdded(key, userID: "u", now: at(0)) == [])
        let due = tracker.tick(now: at(30))
        #expect(due == [])
        #expect(tracker.pendingCount == 0)
    }

    @Test func removalsGoBeforeVacatesAndTopicsHaveTheirNames() {
        var tracker = WebhookTracker(delay: .seconds(3))
        let topic = ChannelKey(app: WebhookScope.topics, channel: "radio.1")
        #expect(tracker.countChanged(topic, total: 1, counted: false, now: at(0)) == [ScopedWebhookEvent(scope: "topics", event: .topicOccupied(topic: "radio.1"))])
        _ = tracker.countChanged(key, total: 1, counted: false, now: at(0))
        _ = tracker.memberAdded(key, userID: "u", now: at(0))
        _ = tracker.countChanged(key, total: 0, counted: false, now: at(1))
        tracker.memberRemoved(key, userID: "u", now: at(1))
        _ = tracker.countChanged(topic, total: 0, counted: false, now: at(1))
        let due = tracker.tick(now: at(5))
        #expect(names(due) == ["member_removed", "channel_vacated", "topic_vacated"])
    }

    @Test func subscriptionCountsArePacedAboveAHundred() {
        var tracker = WebhookTracker(delay: .seconds(3))
        let channel = ChannelKey(app: "1", channel: "news")
        #expect(names(tracker.countChanged(channel, total: 1, counted: true, now: at(0))) == ["channel_occupied", "subscription_count"])
        #expect(tracker.countChanged(channel, total: 2, counted: true, now: at(0)) == [ScopedWebhookEvent(scope: "1", event: .subscriptionCount(channel: "news", count: 2))])
        // Above a hundred, at most one count per 5 s, the latest.
        #expect(tracker.countChanged(channel, total: 101, counted: true, now: at(0)) == [])
        #expect(tracker.countChanged(channel, total: 150, counted: true, now: at(1)) == [])
        let due = tracker.tick(now: at(5))
        #expect(due == [ScopedWebhookEvent(scope: "1", event: .subscriptionCount(channel: "news", count: 150))])
    }
}

extension WebhookTrackerTests {
    @Test func aMemberBeforeTheCountsMakesTheChannelOccupiedFirstAndOnce() {
        var tracker = WebhookTracker(delay: .seconds(3))
        #expect(names(tracker.memberAdded(key, userID: "u", now: at(0))) == ["channel_occupied", "member_added"])
        #expect(tracker.countChanged(key, total: 1, counted: false, now: at(1)) == [])
        #expect(names(tracker.memberAdded(key, userID: "v", now: at(0))) == ["member_added"])
    }
}

extension WebhookTrackerTests {
    @Test func aFlushTellsEveryRunningDelayAtOnce() {
        var tracker = WebhookTracker(delay: .seconds(3))
        _ = tracker.memberAdded(key, userID: "u", now: at(0))
        tracker.memberRemoved(key, userID: "u", now: at(1))
        _ = tracker.countChanged(key, total: 0, counted: true, now: at(1))
        #expect(names(tracker.flush()) == ["member_removed", "channel_vacated"])
        #expect(tracker.pendingCount == 0)
        let later = tracker.tick(now: at(10))
        #expect(later == [])
    }
}

extension WebhookTrackerTests {
    @Test func aReturningMemberCancelsTheVacateTheCountsStartedToo() {
        var tracker = WebhookTracker(delay: .milliseconds(500))
        _ = tracker.memberAdded(key, userID: "u", now: at(0))
        tracker.memberRemoved(key, userID: "u", now: at(0))
        _ = tracker.countChanged(key, total: 0, counted: false, now: at(0))
        // Back before the delay ends; the count says so only on the next tick.
        #expect(tracker.memberAdded(key, userID: "u", now: at(0)) == [])
        let due = tracker.tick(now: at(0.6))
        #expect(due == [])
    }
}

extension WebhookTrackerTests {
    @Test func aReloadOntoAnotherNodeThenALeaveIsOneRemovedAndOneVacated() {
        var tracker = WebhookTracker(delay: .seconds(3))
        #expect(names(tracker.memberAdded(key, userID: "bob", now: at(0))) == ["channel_occupied", "member_added"])
        #expect(tracker.countChanged(key, total: 1, counted: false, now: at(0)) == [])
        // Gone from one node, back on another within the delay.
        #expect(tracker.countChanged(key, total: 0, counted: false, now: at(1)) == [])
        tracker.memberRemoved(key, userID: "bob", now: at(1))
        #expect(tracker.memberAdded(key, userID: "bob", now: at(0)) == [])
        #expect(tracker.countChanged(key, total: 1, counted: false, now: at(1.5)) == [])
        var due = tracker.tick(now: at(10))
        #expect(due == [])
        // Then gone for good.
        tracker.memberRemoved(key, userID: "bob", now: at(11))
        #expect(tracker.countChanged(key, total: 0, counted: false, now: at(11.5)) == [])
        due = tracker.tick(now: at(15))
        #expect(names(due) == ["member_removed", "channel_vacated"])
    }
}

extension WebhookTrackerTests {
    @Test func aMemberWhoseCountsNeverShowedStillVacatesTheChannel() {
        // Bob on node A, then for under a second on node B: B's counts rose and fell within one
        // tick, so only the members show him there.
        var tracker = WebhookTracker(delay: .seconds(3))
        _ = tracker.memberAdded(key, userID: "bob", now: at(0))
        _ = tracker.countChanged(key, total: 1, counted: false, now: at(0))
        _ = tracker.countChanged(key, total: 0, counted: false, now: at(1))
        tracker.memberRemoved(key, userID: "bob", now: at(1))
        #expect(tracker.memberAdded(key, userID: "bob", now: at(1.1)) == [])
        tracker.memberRemoved(key, userID: "bob", now: at(1.5))
        let due = tracker.tick(now: at(5))
        #expect(names(due) == ["member_removed", "channel_vacated"])
    }
}
