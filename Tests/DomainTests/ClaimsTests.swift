// Token claim rules (docs/protocol.md "Tokens"), independent of JSON and HMAC.
import Domain
import Testing

struct ClaimsTests {
    let topic = TopicName("session.42")!
    let now = UnixTime(seconds: 1_000)

    func validate(_ fields: ClaimFields, topic: TopicName? = nil) -> Result<Claims, TokenRejection> {
        Result { () throws(TokenRejection) in try Claims(validating: fields, for: topic ?? self.topic, at: now) }
    }

    @Test func acceptsTopicBindingUntilAndIncludingExpiry() throws {
        let claims = try validate(ClaimFields(userID: .integer(7), topic: .string("session.42"), expires: .integer(1_000))).get()
        #expect(claims.userID == 7)
        #expect(claims.binding == .topic("session.42"))
        #expect(!claims.hasExpired(at: now))
        #expect(claims.hasExpired(at: UnixTime(seconds: 1_001)))
    }

    @Test func rejectsExpired() {
        #expect(validate(ClaimFields(topic: .string("session.42"), expires: .integer(999))) == .failure(.expired))
    }

    @Test func requiresIntegerExpires() {
        #expect(validate(ClaimFields(topic: .string("session.42"))) == .failure(.malformed))
        #expect(validate(ClaimFields(topic: .string("session.42"), expires: .string("2000"))) == .failure(.malformed))
        #expect(validate(ClaimFields(topic: .string("session.42"), expires: .other)) == .failure(.malformed))
    }

    @Test func userIDDefaultsToAnonymousAndMustBeAnInteger() throws {
        #expect(try validate(ClaimFields(topic: .string("session.42"), expires: .integer(2_000))).get().userID == 0)
        #expect(validate(ClaimFields(userID: .string("7"), topic: .string("session.42"), expires: .integer(2_000))) == .failure(.malformed))
    }

    @Test func topicMustMatchExactly() {
        #expect(validate(ClaimFields(topic: .string("session.4"), expires: .integer(2_000))) == .failure(.wrongTopic))
        #expect(validate(ClaimFields(topic: .string("session.42 "), expires: .integer(2_000))) == .failure(.wrongTopic))
        #expect(validate(ClaimFields(topic: .integer(42), expires: .integer(2_000))) == .failure(.malformed))
    }

    @Test func topicWinsOverSessionID() {
        let fields = ClaimFields(topic: .string("session.7"), sessionID: .integer(42), expires: .integer(2_000))
        #expect(validate(fields) == .failure(.wrongTopic))
    }

    @Test(arguments: ["session.42", "contest_session.42", "42"])
    func legacySessionIDBindsToTheLastSegment(_ name: String) throws {
        let numeric = ClaimFields(sessionID: .integer(42), expires: .integer(2_000))
        let text = ClaimFields(sessionID: .string("42"), expires: .integer(2_000))
        #expect(try validate(numeric, topic: TopicName(name)!).get().binding == .sessionID("42"))
        #expect(try validate(text, topic: TopicName(name)!).get().binding == .sessionID("42"))
    }

    @Test(arguments: ["session.142", "session.4", "session.42.x", "session.042"])
    func legacySessionIDRejectsOtherSegments(_ name: String) {
        let fields = ClaimFields(sessionID: .integer(42), expires: .integer(2_000))
        #expect(validate(fields, topic: TopicName(name)!) == .failure(.wrongTopic))
    }

    @Test func emptySessionIDNeverMatches() {
        let fields = ClaimFields(sessionID: .string(""), expires: .integer(2_000))
        #expect(validate(fields, topic: TopicName("session.")!) == .failure(.wrongTopic))
    }

    @Test func rejectsTokensBoundToNothing() {
        #expect(validate(ClaimFields(userID: .integer(1), expires: .integer(2_000))) == .failure(.unbound))
        #expect(validate(ClaimFields(sessionID: .other, expires: .integer(2_000))) == .failure(.malformed))
    }
}
