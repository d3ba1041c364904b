// Authentication outcomes of docs/protocol.md "Browser endpoint (WebSocket)", rule 1, against fakes.
import Application
import Domain
import Testing
import TestSupport

struct AuthenticateSubscriberTests {
    let topic = TopicName("session.42")!

    func registered(requireToken: Bool = true) -> BrokerFixture {
        let fixture = BrokerFixture()
        fixture.broker.registerTopic(topic, meta: TopicMeta(requireToken: requireToken))
        return fixture
    }

    @Test func validTokenSubscribesAndCounts() throws {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        let token = fixture.token("user_id=7;topic=session.42;expires=1800000100")
        let result = fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: token), into: &index)
        #expect(try result.get() == Subscription(topic: topic, userID: 7, expires: UnixTime(seconds: 1_800_000_100)))
        #expect(index.subscribers(of: topic) == [1])
        #expect(fixture.statistics.snapshot().socketCount == 1)
    }

    @Test func nonAuthFirstMessageIsAuthRequired() {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        #expect(fixture.broker.authenticateSubscriber(1, topic: topic, message: .other, into: &index) == .failure(.authRequired))
        #expect(index.count == 0)
    }

    @Test(arguments: [nil, ""] as [String?])
    func missingTokenOnAProtectedTopicIsAuthRequired(_ token: String?) {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        #expect(fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: token), into: &index) == .failure(.authRequired))
    }

    @Test(arguments: [
        ("user_id=7;topic=session.42;expires=1799999999", TokenRejection.expired),
        ("user_id=7;topic=session.7;expires=1800000100", .wrongTopic),
        ("user_id=7;expires=1800000100", .unbound),
        ("user_id=7;topic=session.42", .malformed),
    ])
    func refusedClaimsAreUnauthorized(_ claims: String, _ reason: TokenRejection) {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        let result = fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: fixture.token(claims)), into: &index)
        #expect(result == .failure(.unauthorized(reason)))
        #expect(index.count == 0)
        #expect(fixture.statistics.snapshot().socketCount == 0)
    }

    @Test func tamperedTokenFailsOnTheSignatureBeforeItsClaimsAreRead() {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        var token = Array(fixture.token("user_id=7;topic=session.42;expires=1800000100").utf8)
        token[0] = token[0] == UInt8(ascii: "6") ? UInt8(ascii: "7") : UInt8(ascii: "6")
        let result = fixture.broker.authenticateSubscriber(
            1, topic: topic, message: .auth(token: String(decoding: token, as: UTF8.self)), into: &index)
        #expect(result == .failure(.unauthorized(.badSignature)))
    }

    @Test func garbageTokenIsMalformed() {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        let result = fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: "not-a-token"), into: &index)
        #expect(result == .failure(.unauthorized(.malformed)))
    }

    @Test(arguments: [nil, "", "anything at all"] as [String?])
    func publicTopicAcceptsAnyTokenButStillNeedsTheAuthMessage(_ token: String?) throws {
        let fixture = registered(requireToken: false)
        var index = SubscriptionIndex<Int>()
        let subscription = try fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: token), into: &index).get()
        #expect(subscription.userID == 0)
        #expect(fixture.broker.authenticateSubscriber(2, topic: topic, message: .other, into: &index) == .failure(.authRequired))
    }

    @Test func topicUnregisteredBeforeAuthIsRefused() {
        let fixture = registered()
        fixture.broker.unregisterTopic(topic)
        var index = SubscriptionIndex<Int>()
        let token = fixture.token("user_id=7;topic=session.42;expires=1800000100")
        #expect(fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: token), into: &index) == .failure(.topicNotRegistered))
    }

    @Test func disconnectUndoesTheSubscriptionOnce() {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        let token = fixture.token("user_id=7;topic=session.42;expires=1800000100")
        _ = fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: token), into: &index)
        #expect(fixture.broker.disconnect(1, from: &index)?.userID == 7)
        #expect(fixture.broker.disconnect(1, from: &index) == nil)
        #expect(fixture.statistics.snapshot() == SubscriptionStatistics())
    }

    @Test func expireTokensRemovesOnlyPassedTokens() {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        for (id, expires) in [(1, 1_800_000_010), (2, 1_800_000_020), (3, 1_800_000_030)] {
            let token = fixture.token("user_id=\(id);topic=session.42;expires=\(expires)")
            _ = fixture.broker.authenticateSubscriber(id, topic: topic, message: .auth(token: token), into: &index)
        }
        fixture.clock.advance(by: .seconds(10))
        #expect(fixture.broker.expireTokens(in: &index).isEmpty)
        fixture.clock.advance(by: .seconds(11))
        #expect(Set(fixture.broker.expireTokens(in: &index)) == [1, 2])
        #expect(index.subscribers(of: topic) == [3])
        #expect(fixture.statistics.snapshot().socketCount == 1)
    }

    @Test func aRefreshMovesTheExpiryAndTheOldOneNoLongerEndsTheSocket() throws {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        let first = fixture.token("user_id=7;topic=session.42;expires=1800000010")
        _ = fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: first), into: &index)
        let later = fixture.token("user_id=7;topic=session.42;expires=1800000100")
        let refreshed = fixture.broker.authenticateSubscriber.refresh(1, message: .auth(token: later), in: &index)
        #expect(try refreshed.get().expires == UnixTime(seconds: 1_800_000_100))
        fixture.clock.advance(by: .seconds(50))
        #expect(fixture.broker.expireTokens(in: &index).isEmpty)
        fixture.clock.advance(by: .seconds(60))
        #expect(fixture.broker.expireTokens(in: &index) == [1])
        #expect(fixture.statistics.snapshot().socketCount == 0)
    }

    @Test(arguments: [
        ("user_id=7;topic=session.43;expires=1800000100", AuthFailure.unauthorized(.wrongTopic)),
        ("user_id=7;topic=session.42;expires=1799999999", .unauthorized(.expired)),
        ("user_id=8;topic=session.42;expires=1800000100", .unauthorized(.otherUser)),
    ])
    func aRefusedRefreshKeepsTheOldExpiry(_ claims: String, _ failure: AuthFailure) {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        let first = fixture.token("user_id=7;topic=session.42;expires=1800000010")
        _ = fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: first), into: &index)
        #expect(fixture.broker.authenticateSubscriber.refresh(1, message: .auth(token: fixture.token(claims)), in: &index) == .failure(failure))
        #expect(fixture.broker.authenticateSubscriber.refresh(1, message: .auth(token: "garbage"), in: &index) == .failure(.unauthorized(.malformed)))
        #expect(index.subscription(of: 1)?.expires == UnixTime(seconds: 1_800_000_010))
        fixture.clock.advance(by: .seconds(11))
        #expect(fixture.broker.expireTokens(in: &index) == [1])
    }

    @Test func aRefreshOnATopicNowRegisteredWithoutATokenEndsTheExpiry() {
        let fixture = registered()
        var index = SubscriptionIndex<Int>()
        let first = fixture.token("user_id=7;topic=session.42;expires=1800000010")
        _ = fixture.broker.authenticateSubscriber(1, topic: topic, message: .auth(token: first), into: &index)
        fixture.broker.registerTopic(topic, meta: TopicMeta(requireToken: false))
        #expect((try? fixture.broker.authenticateSubscriber.refresh(1, message: .auth(token: nil), in: &index).get())?.expires == .never)
        fixture.clock.advance(by: .seconds(60))
        #expect(fixture.broker.expireTokens(in: &index).isEmpty)
    }
}
