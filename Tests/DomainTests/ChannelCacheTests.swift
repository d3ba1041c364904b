// The cluster's cache of last events: the latest publish wins wherever offers meet, entries
// expire on the wall clock they carry, and the cache is bounded.
import Domain
import Testing

struct ChannelCacheTests {
    let key = ChannelKey(app: "1", channel: "cache-x")

    func event(_ text: String, at published: Int64, origin: String = "a", ttl: Int64 = 1000) -> CachedEvent {
        CachedEvent(message: Array(text.utf8), publishedAt: published, expiresAt: published + ttl, origin: origin)
    }

    @Test func theLatestPublishWinsInWhateverOrderOffersArrive() {
        let older = event("1", at: 100), newer = event("2", at: 200), tie = event("3", at: 200, origin: "b")
        for order in [[older, newer, tie], [tie, newer, older], [newer, tie, older]] {
            var cache = ChannelCache()
            for offered in order { cache.offer(offered, for: key, nowMilliseconds: 150) }
            #expect(cache.event(for: key, nowMilliseconds: 250) == tie, "\(order.map(\.origin))")
        }
    }

    @Test func anEntryExpiresOnTheWallClockItCarriesAndAnExpiredOneIsNeverTaken() {
        var cache = ChannelCache()
        var took = cache.offer(event("1", at: 100, ttl: 50), for: key, nowMilliseconds: 120)
        #expect(took)
        #expect(cache.event(for: key, nowMilliseconds: 149) != nil)
        #expect(cache.event(for: key, nowMilliseconds: 150) == nil)
        // An older event may replace an expired newer one: the held one no longer counts.
        took = cache.offer(event("0", at: 90, ttl: 100), for: key, nowMilliseconds: 160)
        #expect(took)
        took = cache.offer(event("late", at: 10, ttl: 100), for: ChannelKey(app: "1", channel: "cache-y"), nowMilliseconds: 160)
        #expect(!took)
        cache.prune(nowMilliseconds: 200)
        #expect(cache.count == 0)
    }

    @Test func pastItsBoundTheEntryThatWouldExpireFirstGoes() {
        var cache = ChannelCache()
        for index in 0..<ChannelCache.maxEntries {
            cache.offer(event("\(index)", at: 1000, ttl: Int64(10_000 + index)), for: ChannelKey(app: "1", channel: "cache-\(index)"), nowMilliseconds: 1000)
        }
        cache.offer(event("new", at: 1000, ttl: 50_000), for: key, nowMilliseconds: 1000)
        #expect(cache.count == ChannelCache.maxEntries)
        #expect(cache.event(for: ChannelKey(app: "1", channel: "cache-0"), nowMilliseconds: 1000) == nil)
        #expect(cache.event(for: key, nowMilliseconds: 1000) != nil)
    }
}
