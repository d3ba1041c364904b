// A node's history on a manual clock: what a resume gets, and every bound.
import Domain
import Testing

struct TopicHistoryTests {
    let start = MonotonicTime(nanoseconds: 1_000_000_000)
    let topic = TopicName("contest_session.1")!
    let epoch: UInt64 = 0xfeed

    func at(_ seconds: Int) -> MonotonicTime { start.advanced(by: .seconds(seconds)) }
    func rule(size: Int = 100, ttl: Duration = .seconds(300)) -> HistoryRule {
        HistoryRule(pattern: TopicPattern("contest_session.*")!, size: size, ttl: ttl)
    }
    func position(_ offset: UInt64, epoch: UInt64? = nil) -> StreamPosition {
        StreamPosition(epoch: epoch ?? self.epoch, offset: offset)
    }

    /// Records offsets `range` of `topic`, item = offset, 10 bytes each, at `time`.
    func record(_ history: inout TopicHistory<UInt64>, _ range: ClosedRange<UInt64>, topic: TopicName? = nil, rule: HistoryRule? = nil, time: Int = 0) {
        for offset in range {
            history.record(offset, bytes: 10, at: position(offset), of: topic ?? self.topic, rule: rule ?? self.rule(), now: at(time))
        }
    }

    func recovered(_ history: inout TopicHistory<UInt64>, _ topic: TopicName, since: StreamPosition, now: MonotonicTime) -> [UInt64]? {
        if case .recovered(let items) = history.replay(topic, since: since, now: now) { return items }
        return nil
    }

    func resync(_ history: inout TopicHistory<UInt64>, _ topic: TopicName, since: StreamPosition, now: MonotonicTime) -> StreamPosition?? {
        if case .resync(let current) = history.replay(topic, since: since, now: now) { return current }
        return nil
    }

    @Test func aResumeGetsEverythingAfterItsPositionInOrder() {
        var history = TopicHistory<UInt64>()
        record(&history, 1...5)
        #expect(recovered(&history, topic, since: position(2), now: at(1)) == [3, 4, 5])
        #expect(recovered(&history, topic, since: position(0), now: at(1)) == [1, 2, 3, 4, 5])
        #expect(recovered(&history, topic, since: position(5), now: at(1)) == [])
        #expect(history.current(topic) == position(5))
    }

    @Test func aPositionFromAnotherEpochOrTheFutureOrAnUnknownTopicGetsResync() {
        var history = TopicHistory<UInt64>()
        record(&history, 1...3)
        #expect(resync(&history, topic, since: position(1, epoch: 7), now: at(0)) == .some(position(3)))
        #expect(resync(&history, topic, since: position(4), now: at(0)) == .some(position(3)))
        #expect(resync(&history, TopicName("contest_session.2")!, since: position(1), now: at(0)) == .some(nil))
    }

    @Test func aCountThatWentBackRestartsTheRecordInsteadOfDroppingMessages() {
        var history = TopicHistory<UInt64>()
        record(&history, 1...5)
        // Redis restored an older counter under the same epoch: offsets 3-5 come again, new.
        history.record(30, bytes: 10, at: position(3), of: topic, rule: rule(), now: at(0))
        #expect(history.current(topic) == position(3))
        #expect(history.retainedCount == 1)
        #expect(resync(&history, topic, since: position(2), now: at(0)) == .some(position(3)))
        #expect(resync(&history, topic, since: position(5), now: at(0)) == .some(position(3)))
        history.record(40, bytes: 10, at: position(4), of: topic, rule: rule(), now: at(0))
        #expect(recovered(&history, topic, since: position(3), now: at(0)) == [40])
    }

    @Test func droppedMessagesAreReleasedAtOnceAndEveryRecordCanEnd() {
        final class Payload {}
        weak var first: Payload?
        var history = TopicHistory<Payload>()
        do {
            let payload = Payload()
            first = payload
            history.record(payload, bytes: 10, at: position(1), of: topic, rule: rule(size: 1), now: at(0))
        }
        #expect(first != nil)
        history.record(Payload(), bytes: 10, at: position(2), of: topic, rule: rule(size: 1), now: at(0))
        #expect(first == nil)
        history.loseAll()
        #expect(history.current(topic) == nil && history.retainedCount == 0 && history.totalBytes == 0)
    }

    @Test func sizeAgeAndBytesBoundEachTopic() {
        var history = TopicHistory<UInt64>(limits: HistoryLimits(topicBytes: 1000, totalBytes: 10_000))
        record(&history, 1...10, rule: rule(size: 4))
        #expect(history.retainedCount == 4)
        #expect(recovered(&history, topic, since: position(6), now: at(0)) == [7, 8, 9, 10])
        #expect(resync(&history, topic, since: position(5), now: at(0)) == .some(position(10)))
        // Age: what is older than the rule's ttl goes at the next read or record.
        var aged = TopicHistory<UInt64>()
        record(&aged, 1...2, rule: rule(ttl: .seconds(60)), time: 0)
        record(&aged, 3...3, rule: rule(ttl: .seconds(60)), time: 30)
        #expect(recovered(&aged, topic, since: position(1), now: at(59)) == [2, 3])
        #expect(resync(&aged, topic, since: position(1), now: at(60)) == .some(position(3)))
        #expect(recovered(&aged, topic, since: position(2), now: at(60)) == [3])
        #expect(recovered(&aged, topic, since: position(3), now: at(1000)) == [])  // nothing missed
        #expect(aged.retainedCount == 0 && aged.totalBytes == 0)
        // Bytes per topic.
        var small = TopicHistory<UInt64>(limits: HistoryLimits(topicBytes: 35, totalBytes: 10_000))
        record(&small, 1...10)
        #expect(small.retainedCount == 3 && small.totalBytes == 30)
        #expect(small.evictedForBytes == 7)
    }

    @Test func theTotalBoundEvictsTheOldestMessageOfAnyTopic() {
        var history = TopicHistory<UInt64>(limits: HistoryLimits(topicBytes: 1000, totalBytes: 50))
        let other = TopicName("contest_session.2")!
        record(&history, 1...3)  // 30 bytes
        record(&history, 1...2, topic: other)  // 50 bytes
        record(&history, 3...3, topic: other)  // 60: the first topic's offset 1 goes
        #expect(history.totalBytes == 50)
        #expect(resync(&history, topic, since: position(0), now: at(0)) != nil)
        #expect(recovered(&history, topic, since: position(1), now: at(0)) == [2, 3])
        #expect(recovered(&history, other, since: position(0), now: at(0)) == [1, 2, 3])
        // Many rounds of eviction by the total keep the totals right.
        for round in 0..<2000 { record(&history, UInt64(4 + round)...UInt64(4 + round)) }
        #expect(history.retainedCount == 5)
        #expect(history.totalBytes == 50)
        // Evictions by size leave nothing behind in the arrival order either.
        var sized = TopicHistory<UInt64>()
        record(&sized, 1...2000, rule: rule(size: 2))
        #expect(sized.retainedCount == 2 && sized.totalBytes == 20)
        #expect(sized.orderedEntryCount <= 2 * sized.retainedCount + 64)
    }

    @Test func aGapOrAMessageWithoutAPositionEndsWhatCanBeVouchedFor() {
        var history = TopicHistory<UInt64>()
        record(&history, 1...3)
        // Offsets 4 and 5 never arrived here: a resume from before them cannot be served, and
        // neither can one from just before 6 (a message without a position may have come then).
        record(&history, 6...7)
        #expect(resync(&history, topic, since: position(3), now: at(0)) == .some(position(7)))
        #expect(resync(&history, topic, since: position(5), now: at(0)) == .some(position(7)))
        #expect(recovered(&history, topic, since: position(6), now: at(0)) == [7])
        history.lose(topic)
        #expect(history.current(topic) == nil)
        #expect(history.retainedCount == 0 && history.totalBytes == 0)
        record(&history, 8...9)
        #expect(resync(&history, topic, since: position(7), now: at(0)) == .some(position(9)))
        #expect(recovered(&history, topic, since: position(8), now: at(0)) == [9])
    }

    @Test func aNodeAloneKnowsATopicWithoutMessagesStandsAtZero() {
        let rules = HistoryRules([rule()])
        var history = TopicHistory<UInt64>(completeEpoch: (epoch, rules))
        #expect(history.current(topic) == position(0))
        #expect(history.current(TopicName("other")!) == nil)
        #expect(recovered(&history, topic, since: position(0), now: at(0)) == [])
        #expect(resync(&history, topic, since: position(1), now: at(0)) == .some(position(0)))
        record(&history, 1...2)
        #expect(recovered(&history, topic, since: position(0), now: at(0)) == [1, 2])
        // In a cluster the same history knows nothing of a topic it has not seen.
        var clustered = TopicHistory<UInt64>()
        #expect(clustered.current(topic) == nil)
        #expect(resync(&clustered, topic, since: position(0), now: at(0)) == .some(nil))
    }

    @Test func aNewEpochReplacesTheRecord() {
        var history = TopicHistory<UInt64>()
        record(&history, 1...3)
        history.record(99, bytes: 10, at: position(1, epoch: 8), of: topic, rule: rule(), now: at(0))
        #expect(history.current(topic) == position(1, epoch: 8))
        #expect(history.retainedCount == 1 && history.totalBytes == 10)
        #expect(recovered(&history, topic, since: position(0, epoch: 8), now: at(0)) == [99])
    }
}
