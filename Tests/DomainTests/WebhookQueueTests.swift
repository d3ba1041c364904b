// One endpoint's queue on a manual clock: batches by time and size, retries with backoff for
// a bounded time, drops counted, the endpoint's state changes reported once each.
import Domain
import Testing

struct WebhookQueueTests {
    let start = MonotonicTime(nanoseconds: 1_000_000_000)

    func at(_ seconds: Double) -> MonotonicTime { start.advanced(by: .milliseconds(Int64(seconds * 1000))) }
    func event(_ number: Int) -> WebhookEvent { .channelOccupied(channel: "c\(number)") }

    @Test func aBatchClosesAfterTheWindowOrAtItsSize() {
        var queue = WebhookQueue()
        #expect(queue.next(now: at(0)) == .wait(until: nil))
        queue.add(event(0), now: at(0))
        queue.add(event(1), now: at(0.01))
        #expect(queue.next(now: at(0.02)) == .wait(until: at(0.05)))
        guard case .send(let batch) = queue.next(now: at(0.05)) else { Issue.record("no batch"); return }
        #expect(batch.events == [event(0), event(1)])
        #expect(queue.finished(.accepted, now: at(0.06)) == nil)
        for number in 0..<120 { queue.add(event(number), now: at(1)) }
        guard case .send(let full) = queue.next(now: at(1)) else { Issue.record("no batch"); return }
        #expect(full.events.count == 50)
        #expect(queue.depth == 120)
        #expect(queue.counts.sent == 1)
    }

    @Test func retriesBackOffThenGiveUpAfterTheRetryTime() {
        var queue = WebhookQueue()
        queue.add(event(0), now: at(0))
        guard case .send = queue.next(now: at(0.05)) else { Issue.record("no batch"); return }
        #expect(queue.finished(.retry(reason: "status_5xx"), now: at(0.1)) == .failing(reason: "status_5xx"))
        #expect(queue.next(now: at(0.5)) == .wait(until: at(1.1)))
        var sentAt: [Double] = []
        var now = 1.1
        while case .send(let batch) = queue.next(now: at(now)) {
            sentAt.append(now)
            #expect(batch.number == 1)
            let notice = queue.finished(.retry(reason: "timeout"), now: at(now))
            #expect(notice == nil)  // failing already: said once
            guard case .wait(let until?) = queue.next(now: at(now)) else { break }
            now = Double(until.nanoseconds - start.nanoseconds) / 1e9
        }
        // 1, 2, 4, 8, 16, 32, 60, 60 ... until 300 s after the first attempt.
        #expect(sentAt.prefix(7).map { Int($0.rounded()) } == [1, 3, 7, 15, 31, 63, 123])
        #expect(queue.counts.failed == ["expired": 1])
        #expect(queue.counts.eventsLost == 1)
        #expect(queue.depth == 0)
        queue.add(event(1), now: at(400))
        guard case .send = queue.next(now: at(401)) else { Issue.record("no batch"); return }
        #expect(queue.finished(.accepted, now: at(401)) == .recovered)
    }

    @Test func aRefusalDropsTheBatchAtOnce() {
        var queue = WebhookQueue()
        queue.add(event(0), now: at(0))
        guard case .send = queue.next(now: at(0.1)) else { Issue.record("no batch"); return }
        queue.add(event(1), now: at(0.2))
        #expect(queue.finished(.rejected(reason: "status_4xx"), now: at(0.1)) == .failing(reason: "status_4xx"))
        #expect(queue.counts.failed == ["status_4xx": 1])
        guard case .send(let next) = queue.next(now: at(0.3)) else { Issue.record("no batch"); return }
        #expect(next.events == [event(1)])
    }

    @Test func aFullQueueDropsItsOldestWaitingBatch() {
        var settings = WebhookQueue.Settings()
        settings.maxBatches = 3
        settings.batchSize = 1
        var queue = WebhookQueue(settings: settings)
        queue.add(event(0), now: at(0))
        guard case .send = queue.next(now: at(0)) else { Issue.record("no batch"); return }
        _ = queue.finished(.retry(reason: "connect"), now: at(0))
        for number in 1...5 { queue.add(event(number), now: at(0.5)) }
        #expect(queue.counts.dropped == 2)
        #expect(queue.depth == 4)
        guard case .send(let retried) = queue.next(now: at(2)) else { Issue.record("no batch"); return }
        #expect(retried.events == [event(0)])
        _ = queue.finished(.accepted, now: at(2))
        guard case .send(let oldest) = queue.next(now: at(2)) else { Issue.record("no batch"); return }
        #expect(oldest.events == [event(3)])
    }
}

extension WebhookQueueTests {
    @Test func whileOneBatchIsRetriedWhatIsHeldStaysWithinTheBound() {
        var settings = WebhookQueue.Settings()
        settings.maxBatches = 10
        settings.batchSize = 1
        var queue = WebhookQueue(settings: settings)
        queue.add(event(0), now: at(0))
        guard case .send = queue.next(now: at(0)) else { Issue.record("no batch"); return }
        _ = queue.finished(.retry(reason: "connection"), now: at(0))
        for number in 1...10_000 { queue.add(event(number), now: at(1)) }
        #expect(queue.heldBatches <= 2 * settings.maxBatches + 64 + 1)
        #expect(queue.counts.dropped == 10_000 - 10)
    }

    @Test func theSenderIsWokenOnlyWhenABatchOpensOrCloses() {
        var settings = WebhookQueue.Settings()
        settings.batchSize = 3
        var queue = WebhookQueue(settings: settings)
        var wakes: [Bool] = []
        for number in 0..<7 { wakes.append(queue.add(event(number), now: at(0))) }
        #expect(wakes == [true, false, true, true, false, true, true])
    }
}
