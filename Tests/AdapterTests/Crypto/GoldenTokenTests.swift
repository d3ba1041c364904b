// Tokens minted by PHP's hash_hmac (Fixtures/tokens/mint.php), verified with real OpenSSL and the JSON reader.
import Adapters
import Application
import Domain
import Foundation
import Logging
import Testing
import TestSupport

struct GoldenTokenTests {
    struct Vector: Decodable, CustomTestStringConvertible, Sendable {
        let name: String
        let topic: String
        let token: String
        let expect: String
        let user_id: Int64?

        var testDescription: String { name }
    }

    struct File: Decodable {
        let secret: String
        let now: Int64
        let vectors: [Vector]
    }

    static let file: File = {
        let data = try! Data(contentsOf: TestPaths.fixture("tokens/tokens.json"))
        return try! JSONDecoder().decode(File.self, from: data)
    }()

    @Test(arguments: file.vectors)
    func verifiesLikeTheContractSays(_ vector: Vector) throws {
        let clock = ManualClock(unixSeconds: Self.file.now)
        let topic = try #require(TopicName(vector.topic))
        let topics = FakeTopicStore()
        topics.register(topic, meta: .secureDefault, ttl: nil, now: clock.monotonic)
        let authenticate = AuthenticateSubscriber(
            topics: topics, authenticator: OpenSSLHMAC(secret: SharedSecret(Self.file.secret)!),
            claimsDecoder: JSONClaimsDecoder(), statistics: FakeStatistics(), clock: clock)

        var index = SubscriptionIndex<Int>()
        let result = authenticate(1, topic: topic, message: .auth(token: vector.token), into: &index)
        switch result {
        case .success(let subscription):
            #expect(vector.expect == "ok")
            #expect(subscription.userID == vector.user_id)
        case .failure(.unauthorized(let reason)):
            #expect(reason.rawValue == vector.expect)
        case .failure(let other):
            Issue.record("unexpected \(other)")
        }
    }
}
