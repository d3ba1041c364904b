// The token bucket and the per-address limits, on a clock the test moves.
import Domain
import Testing

struct AddressLimiterTests {
    static func at(_ seconds: Double) -> MonotonicTime { MonotonicTime(nanoseconds: Int64(seconds * 1e9)) }

    @Test func aBucketGivesItsBurstAtOnceThenEarnsAtItsRate() {
        var bucket = TokenBucket(rate: 2, burst: 3, now: Self.at(0))
        #expect((0..<4).map { _ in bucket.take(now: Self.at(0)) } == [true, true, true, false])
        let early = bucket.take(now: Self.at(0.4))  // 0.8 tokens earned: not yet one
        let onTime = bucket.take(now: Self.at(0.5))
        #expect(!early && onTime)
        #expect(!bucket.isFull(now: Self.at(1)))
        #expect(bucket.isFull(now: Self.at(2)))
        // Saving up stops at the burst.
        #expect((0..<4).map { _ in bucket.take(now: Self.at(100)) } == [true, true, true, false])
    }

    @Test func aClockThatSeemsToGoBackEarnsNothing() {
        var bucket = TokenBucket(rate: 1, burst: 1, now: Self.at(10))
        let taken = [Self.at(10), Self.at(5), Self.at(10.5), Self.at(11)].map { bucket.take(now: $0) }
        #expect(taken == [true, false, false, true])
    }

    @Test func concurrentConnectionsAreCountedPerAddressAndReleased() {
        var settings = AddressLimiter.Settings()
        settings.maxConcurrent = 2
        var limiter = AddressLimiter(settings: settings)
        let now = Self.at(0)
        #expect(limiter.admit("192.0.2.1", now: now) == nil)
        #expect(limiter.admit("192.0.2.1", now: now) == nil)
        #expect(limiter.admit("192.0.2.1", now: now) == .tooManyConnections)
        #expect(limiter.admit("192.0.2.2", now: now) == nil)  // another address is not affected
        limiter.release("192.0.2.1", now: now)
        #expect(limiter.admit("192.0.2.1", now: now) == nil)
        for _ in 0..<2 { limiter.release("192.0.2.1", now: now) }
        limiter.release("192.0.2.2", now: now)
        #expect(limiter.trackedAddresses == 0)
        limiter.release("192.0.2.9", now: now)  // never admitted: nothing to do
        #expect(limiter.trackedAddresses == 0)
    }

    @Test func theHandshakeRateIsABucketPerAddress() {
        var settings = AddressLimiter.Settings()
        settings.ratePerSecond = 1
        var limiter = AddressLimiter(settings: settings)  // burst 0: twice the rate
        #expect(limiter.admit("a", now: Self.at(0)) == nil)
        #expect(limiter.admit("a", now: Self.at(0)) == nil)
        #expect(limiter.admit("a", now: Self.at(0)) == .tooManyHandshakes)
        #expect(limiter.admit("b", now: Self.at(0)) == nil)
        #expect(limiter.admit("a", now: Self.at(1)) == nil)
        // An address without connections is remembered while its bucket is not full: "a" spent
        // everything, "b" has refilled by now.
        for _ in 0..<3 { limiter.release("a", now: Self.at(1)) }
        limiter.release("b", now: Self.at(1))
        #expect(limiter.trackedAddresses == 1)
        #expect(limiter.admit("a", now: Self.at(1)) == .tooManyHandshakes)
    }

    @Test func addressesThatHoldNothingAreSweptSoTheTableStaysBounded() {
        var settings = AddressLimiter.Settings()
        settings.ratePerSecond = 1
        settings.burst = 1
        var limiter = AddressLimiter(settings: settings)
        // A new address each second spends its token and leaves; a second later its bucket is full.
        var most = 0
        for index in 0..<20_000 {
            let address = "10.\(index / 65536).\(index / 256 % 256).\(index % 256)"
            #expect(limiter.admit(address, now: Self.at(Double(index))) == nil)
            limiter.release(address, now: Self.at(Double(index)))
            most = max(most, limiter.trackedAddresses)
        }
        #expect(most <= 4097)
        #expect(limiter.trackedAddresses < 4097)
    }
}
