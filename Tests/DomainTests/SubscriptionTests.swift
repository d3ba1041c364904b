// The per-loop subscription index and the node-wide statistics.
import Domain
import Testing

struct SubscriptionIndexTests {
    let a = TopicName("session.1")!
    let b = TopicName("session.2")!
    let far = UnixTime(seconds: 10_000)

    @Test func subscribersAreListedPerTopic() {
        var index = SubscriptionIndex<Int>()
        let r1 = index.subscribe(1, to: a, userID: 7, expires: far)
        #expect(r1)
        let r2 = index.subscribe(2, to: a, userID: 8, expires: far)
        #expect(r2)
        let r3 = index.subscribe(3, to: b, userID: 7, expires: far)
        #expect(r3)
        let r4 = index.subscribe(3, to: a, userID: 7, expires: far)
        #expect(!r4)
        #expect(index.subscribers(of: a) == [1, 2])
        #expect(index.subscribers(of: b) == [3])
        #expect(index.count == 3)
    }

    @Test func unsubscribeSwapsTheLastIntoTheGap() {
        var index = SubscriptionIndex<Int>()
        for id in 1...4 { index.subscribe(id, to: a, userID: 0, expires: far) }
        let r5 = index.unsubscribe(2)
        #expect(r5?.topic == a)
        #expect(Set(index.subscribers(of: a)) == [1, 3, 4])
        let r6 = index.unsubscribe(4)
        #expect(r6 != nil)
        let r7 = index.unsubscribe(1)
        #expect(r7 != nil)
        let r8 = index.unsubscribe(3)
        #expect(r8 != nil)
        #expect(index.subscribers(of: a).isEmpty)
        let r9 = index.unsubscribe(3)
        #expect(r9 == nil)
        // Positions stay right after many swaps.
        index.subscribe(9, to: a, userID: 0, expires: far)
        #expect(index.subscribers(of: a) == [9])
    }

    @Test func removeExpiredTakesOnlyPassedTokensAndSkipsStaleEntries() {
        var index = SubscriptionIndex<Int>()
        index.subscribe(1, to: a, userID: 1, expires: UnixTime(seconds: 100))
        index.subscribe(2, to: a, userID: 2, expires: UnixTime(seconds: 50))
        index.subscribe(3, to: b, userID: 3, expires: UnixTime(seconds: 200))
        index.unsubscribe(2)
        index.subscribe(2, to: b, userID: 2, expires: UnixTime(seconds: 300))
        #expect(index.nextExpiry == UnixTime(seconds: 50))
        let r10 = index.removeExpired(at: UnixTime(seconds: 100))
        #expect(r10.isEmpty)
        let r11 = index.removeExpired(at: UnixTime(seconds: 101))
        #expect(r11.map(\.0) == [1])
        let r12 = index.removeExpired(at: UnixTime(seconds: 250))
        #expect(r12.map(\.0) == [3])
        #expect(index.subscribers(of: b) == [2])
        #expect(index.nextExpiry == UnixTime(seconds: 300))
    }

    @Test func expiryOrderHoldsForManySubscribers() {
        var index = SubscriptionIndex<Int>()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15  // fixed seed: a failure replays
        var expiries: [Int: Int64] = [:]
        for id in 0..<500 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let expires = Int64((state >> 33) % 1000)
            expiries[id] = expires
            index.subscribe(id, to: a, userID: Int64(id), expires: UnixTime(seconds: expires))
        }
        for cut in stride(from: 0, through: 1000, by: 97) {
            let removed = index.removeExpired(at: UnixTime(seconds: Int64(cut)))
            #expect(removed.allSatisfy { expiries[$0.0]! < Int64(cut) })
            #expect(index.nextExpiry.map { $0.seconds >= Int64(cut) } ?? true)
        }
        let rest = index.removeExpired(at: UnixTime(seconds: 1000))
        #expect(rest.allSatisfy { expiries[$0.0]! >= 970 })
        #expect(index.count == 0)
    }
}

struct SubscriptionStatisticsTests {
    let a = TopicName("session.1")!
    let b = TopicName("session.2")!

    @Test func countsDistinctUsersAndEachAnonymousSocket() {
        var stats = SubscriptionStatistics()
        stats.recordSubscribed(topic: a, userID: 7)
        stats.recordSubscribed(topic: b, userID: 7)
        stats.recordSubscribed(topic: a, userID: 8)
        stats.recordSubscribed(topic: a, userID: 0)
        stats.recordSubscribed(topic: a, userID: 0)
        #expect(stats.socketCount == 5)
        #expect(stats.connectedClients == 4)
        #expect(stats.activeTopicCount == 2)
        #expect(stats.activeTopics == [a, b])
        #expect(stats.subscriberCount(of: a) == 4)
    }

    @Test func unsubscribingRestoresTheCounts() {
        var stats = SubscriptionStatistics()
        stats.recordSubscribed(topic: a, userID: 7)
        stats.recordSubscribed(topic: b, userID: 7)
        stats.recordSubscribed(topic: a, userID: 0)
        stats.recordUnsubscribed(topic: b, userID: 7)
        #expect(stats.activeTopics == [a])
        #expect(stats.connectedClients == 2)
        stats.recordUnsubscribed(topic: a, userID: 7)
        stats.recordUnsubscribed(topic: a, userID: 0)
        #expect(stats == SubscriptionStatistics())
    }
}

struct StatusSnapshotTests {
    @Test func uptimeUsesGoNotation() {
        let snapshot = StatusSnapshot(
            version: "1.0.0", uptimeSeconds: 12_125, registeredTopicCount: 0, activeTopicCount: 0,
            connectedClients: 0, connectedSockets: 0, registeredTopics: nil, activeTopics: nil, clusterNodes: -1)
        #expect(snapshot.uptime == "3h22m5s")
    }
}

struct SubscriptionIndexChurnTests {
    /// Connections that come and go must not stay in the expiry heap until their tokens expire,
    /// and subscriptions that never expire take no place in it at all.
    @Test func theExpiryHeapStaysBoundedUnderChurn() throws {
        var index = SubscriptionIndex<Int>()
        let topic = try #require(TopicName("churn"))
        index.subscribe(-1, to: topic, userID: 1, expires: UnixTime(seconds: 5000))  // one that stays
        var most = 0
        for subscriber in 0..<20_000 {
            index.subscribe(subscriber, to: topic, userID: 1, expires: UnixTime(seconds: 4000 + Int64(subscriber % 7)))
            index.unsubscribe(subscriber)
            most = max(most, index.heldExpiries)
        }
        #expect(most <= 2 * 1025 + 1)
        #expect(index.count == 1)
        for subscriber in 0..<1000 {
            index.subscribe(subscriber, to: topic, userID: 0, expires: .never)
            index.unsubscribe(subscriber)
        }
        #expect(index.heldExpiries <= 2 * 1025 + 1)
        // The one that stays still expires on time.
        #expect(index.removeExpired(at: UnixTime(seconds: 5001)).map(\.0) == [-1])
    }
}
