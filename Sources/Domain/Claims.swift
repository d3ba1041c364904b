// What a verified token says, and the rules a subscription must pass.

/// The fields a claims decoder found in a token's JSON, before any rule is applied.
///
/// Decoding JSON is an adapter's job; the rules about what the fields mean live here.
public struct ClaimFields: Sendable, Equatable {
    /// A claim value of a type the rules care about.
    public enum Value: Sendable, Equatable {
        case integer(Int64)
        case string(String)
        /// Present, but neither an integer nor a string (a fraction, a boolean, null, ...).
        case other
    }

    public var userID: Value?
    public var topic: Value?
    public var sessionID: Value?
    public var expires: Value?

    public init(userID: Value? = nil, topic: Value? = nil, sessionID: Value? = nil, expires: Value? = nil) {
        self.userID = userID
        self.topic = topic
        self.sessionID = sessionID
        self.expires = expires
    }
}

/// Why a token was refused. Every case answers `unauthorized` on the wire; the reason is for logs.
public enum TokenRejection: String, Error, Sendable, Equatable {
    case malformed = "malformed"
    case badSignature = "bad_signature"
    case expired = "token_expired"
    case wrongTopic = "wrong_topic"
    case unbound = "unbound"
    /// A refresh carried a valid token of another user.
    case otherUser = "other_user"
}

/// The claims of a token whose signature matched and whose rules passed.
public struct Claims: Sendable, Equatable {
    /// How a token names the topic it opens.
    public enum Binding: Sendable, Equatable {
        /// `topic`: must equal the requested topic byte for byte.
        case topic(String)
        /// Legacy `session_id`: must equal the topic's last `.`-separated segment.
        case sessionID(String)
    }

    /// 0 means anonymous; used for `connected_clients`.
    public let userID: Int64
    public let binding: Binding
    /// Unix seconds; the token is valid while `now <= expires`.
    public let expires: UnixTime

    /// Applies docs/protocol.md "Tokens" to decoded fields for a subscription to `topic` at `now`.
    public init(validating fields: ClaimFields, for topic: TopicName, at now: UnixTime) throws(TokenRejection) {
        guard case .integer(let expires)? = fields.expires else { throw .malformed }

        let userID: Int64
        switch fields.userID {
        case nil: userID = 0
        case .integer(let value)?: userID = value
        default: throw .malformed
        }

        let binding: Binding
        switch (fields.topic, fields.sessionID) {
        case (.string(let bound)?, _): binding = .topic(bound)
        case (.some, _): throw .malformed
        case (nil, .integer(let session)?): binding = .sessionID(String(session))
        case (nil, .string(let session)?): binding = .sessionID(session)
        case (nil, .other?): throw .malformed
        case (nil, nil): throw .unbound
        }

        switch binding {
        case .topic(let bound):
            guard Bytes.equal(bound, topic.value) else { throw .wrongTopic }
        case .sessionID(let session):
            guard !session.isEmpty, session.utf8.elementsEqual(topic.lastSegment.utf8) else { throw .wrongTopic }
        }
        guard now.seconds <= expires else { throw .expired }

        self.userID = userID
        self.binding = binding
        self.expires = UnixTime(seconds: expires)
    }

    /// True once `now` has passed `expires`.
    public func hasExpired(at now: UnixTime) -> Bool {
        now.seconds > expires.seconds
    }
}
