// Use case: a browser's first message authenticates it and subscribes it to its topic.
public import Domain
public import Logging

/// The first message a subscriber sent, as the transport understood it.
public enum AuthMessage: Sendable, Equatable {
    /// `{"type":"auth", ...}` with the token if it was a string.
    case auth(token: String?)
    /// Not JSON, not an object, or another `type`.
    case other
}

/// Why authentication failed; the transport sends the matching error frame and closes 1008.
public enum AuthFailure: Error, Sendable, Equatable {
    /// `auth_required`: the first message was not an auth message, or carried no token where one is needed.
    case authRequired
    /// `unauthorized`: the token was refused (the reason is for logs only).
    case unauthorized(TokenRejection)
    /// The topic was unregistered or expired between the handshake and the auth message.
    case topicNotRegistered

    /// The reason in logs and metrics: `auth_required`, `topic_not_registered` or the token's rejection.
    public var reason: String {
        switch self {
        case .authRequired: "auth_required"
        case .unauthorized(let rejection): rejection.rawValue
        case .topicNotRegistered: "topic_not_registered"
        }
    }
}

/// What a successful authentication grants.
public struct Subscription: Sendable, Equatable {
    public let topic: TopicName
    public let userID: Int64
    /// When the token expires; `UnixTime.never` when the topic needs no token.
    public let expires: UnixTime

    public init(topic: TopicName, userID: Int64, expires: UnixTime) {
        self.topic = topic
        self.userID = userID
        self.expires = expires
    }
}

/// Verifies a subscriber's auth message and subscribes it in its loop's index.
public struct AuthenticateSubscriber: Sendable {
    @usableFromInline let topics: any TopicStore
    @usableFromInline let authenticator: any MessageAuthenticator
    @usableFromInline let claimsDecoder: any ClaimsDecoder
    @usableFromInline let statistics: any SubscriptionStatisticsStore
    @usableFromInline let clock: any Clock

    public init(
        topics: any TopicStore, authenticator: any MessageAuthenticator, claimsDecoder: any ClaimsDecoder,
        statistics: any SubscriptionStatisticsStore, clock: any Clock
    ) {
        self.topics = topics
        self.authenticator = authenticator
        self.claimsDecoder = claimsDecoder
        self.statistics = statistics
        self.clock = clock
    }

    /// Authenticates `subscriber` for `topic` and, on success, subscribes it in `index`.
    @inlinable
    public func callAsFunction<Subscriber: Hashable>(
        _ subscriber: Subscriber, topic: TopicName, message: AuthMessage,
        into index: inout SubscriptionIndex<Subscriber>
    ) -> Result<Subscription, AuthFailure> {
        guard case .auth(let token) = message else { return .failure(.authRequired) }
        guard let meta = topics.lookup(topic, now: clock.monotonic) else { return .failure(.topicNotRegistered) }

        let subscription: Subscription
        if meta.requireToken {
            guard let token, !token.isEmpty else { return .failure(.authRequired) }
            switch verify(token, for: topic) {
            case .success(let claims):
                subscription = Subscription(topic: topic, userID: claims.userID, expires: claims.expires)
            case .failure(let rejection):
                return .failure(.unauthorized(rejection))
            }
        } else {
            // On a public topic the token may be missing, empty or anything
            // (docs/protocol.md "Browser endpoint (WebSocket)", rule 1).
            subscription = Subscription(topic: topic, userID: 0, expires: .never)
        }

        guard index.subscribe(subscriber, to: topic, userID: subscription.userID, expires: subscription.expires) else {
            return .success(subscription)
        }
        statistics.recordSubscribed(topic: topic, userID: subscription.userID)
        return .success(subscription)
    }

    /// An in-band refresh from a subscribed socket: a valid token for the same topic and the
    /// same user moves its expiry; anything else is refused and the old expiry stays. On a
    /// topic that needs no token there is no expiry to move, and any auth message is accepted.
    @inlinable
    public func refresh<Subscriber: Hashable>(
        _ subscriber: Subscriber, message: AuthMessage, in index: inout SubscriptionIndex<Subscriber>
    ) -> Result<Subscription, AuthFailure> {
        guard let current = index.subscription(of: subscriber) else { return .failure(.topicNotRegistered) }
        guard case .auth(let token) = message else { return .failure(.authRequired) }
        guard let meta = topics.lookup(current.topic, now: clock.monotonic) else { return .failure(.topicNotRegistered) }
        guard meta.requireToken else {
            // Registered again without a token meanwhile: nothing expires any more.
            index.renew(subscriber, expires: .never)
            return .success(Subscription(topic: current.topic, userID: current.userID, expires: .never))
        }
        guard let token, !token.isEmpty else { return .failure(.authRequired) }
        switch verify(token, for: current.topic) {
        case .success(let claims):
            // The statistics count the socket under its user: another user's token is a new
            // subscription, not a refresh.
            guard claims.userID == current.userID else { return .failure(.unauthorized(.otherUser)) }
            index.renew(subscriber, expires: claims.expires)
            return .success(Subscription(topic: current.topic, userID: claims.userID, expires: claims.expires))
        case .failure(let rejection):
            return .failure(.unauthorized(rejection))
        }
    }

    /// docs/protocol.md "Tokens": the signature first, in constant time; nothing in `H` is
    /// trusted before.
    public func verify(_ token: String, for topic: TopicName) -> Result<Claims, TokenRejection> {
        guard let signed = SignedToken(token) else { return .failure(.malformed) }
        let expected = signed.signedPart.withUnsafeBytes { authenticator.authenticationCode(for: $0) }
        guard expected == signed.signature else { return .failure(.badSignature) }
        guard let json = signed.claimsJSON(), let fields = claimsDecoder.decodeClaims(json) else {
            return .failure(.malformed)
        }
        do {
            return .success(try Claims(validating: fields, for: topic, at: clock.unixTime))
        } catch {
            return .failure(error)
        }
    }
}
