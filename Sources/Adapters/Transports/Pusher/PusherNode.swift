// What every loop's Pusher sessions share: the apps, this node's sockets, and the cluster's channels.
internal import Application
internal import Domain
internal import Synchronization

/// One app as the transport serves it: its settings and its signer.
public struct PusherApp: Sendable {
    let settings: PusherAppSettings
    let signer: PusherSigner
    var id: String { settings.id }
    var key: String { settings.key }

    public init(settings: PusherAppSettings) {
        self.settings = settings
        signer = PusherSigner(secret: settings.secret)
    }
}

/// Where a socket lives: its loop and its `socket_id`.
struct PusherSocketAddress: Hashable, Sendable {
    let loop: Int
    let socketID: String
}

/// Node-wide tables behind one lock, taken when a socket connects, subscribes, unsubscribes or
/// closes, by the HTTP API's queries, and by messages from other nodes: never on the delivery
/// path. Presence and channel figures are the cluster's (`ReplicatedChannels`); sockets and
/// sign-ins are this node's, and a termination reaches the other nodes as a message.
final class PusherNode: @unchecked Sendable {
    let apps: [PusherApp]
    private let appsByKey: [String: Int]
    private let appsByID: [String: Int]
    // Written before the loops start (install), read-only afterwards.
    private(set) var routes: [Int: PusherRoute] = [:]
    let messenger: any NodeMessenger
    let clock: any Clock
    let nodeID: String
    /// How long a cache channel's last event is kept.
    let cacheTTL: Duration
    /// Where webhook events go, when any app (or the Wavelog topics) has an endpoint.
    let webhooks: Webhooks?

    struct AppState {
        var connections = 0
        /// This node's sockets per presence channel and user.
        var presence: [String: [String: Int]] = [:]
        /// Signed-in users' sockets.
        var users: [String: Set<PusherSocketAddress>] = [:]
        /// This node's sockets by the users on their watchlists.
        var watchers: [String: Set<PusherSocketAddress>] = [:]
        /// Each watching socket's list, to undo the above.
        var watchlists: [PusherSocketAddress: [String]] = [:]
    }

    struct State {
        var apps: [AppState]
        var cluster: ReplicatedChannels
        /// Counts membership announcements: a socket told the roster at version v skips
        /// announcements up to v, which its roster already shows.
        var version: UInt64 = 0
        /// When each channel's `subscription_count` goes out.
        var counts = CountPacer<ChannelKey>()
        /// The last event of each cache channel, the cluster's.
        var cache = ChannelCache()
        /// Which webhook events the cluster's changes make, and whether this node sends them.
        var hooks: WebhookHooks?
    }

    let state: Locked<State>

    init(
        apps settings: [PusherAppSettings], nodeID: String, messenger: any NodeMessenger, clock: any Clock, cacheTTL: Duration = .seconds(1800),
        webhooks: Webhooks? = nil, clustered: Bool = false
    ) {
        self.nodeID = nodeID
        self.cacheTTL = cacheTTL
        self.webhooks = webhooks.flatMap { $0.isEmpty ? nil : $0 }
        apps = settings.map(PusherApp.init(settings:))
        appsByKey = Dictionary(uniqueKeysWithValues: apps.enumerated().map { ($1.key, $0) })
        appsByID = Dictionary(uniqueKeysWithValues: apps.enumerated().map { ($1.id, $0) })
        self.messenger = messenger
        self.clock = clock
        var initial = State(apps: [AppState](repeating: AppState(), count: apps.count), cluster: ReplicatedChannels(localNode: nodeID))
        if let webhooks = self.webhooks {
            initial.hooks = WebhookHooks(
                tracker: WebhookTracker(delay: webhooks.settings.delay), election: WebhookElection(localNode: nodeID, clustered: clustered))
        }
        state = Locked(initial)
    }

    func attach(_ route: PusherRoute, loop index: Int) { routes[index] = route }

    func app(key: some StringProtocol) -> Int? { appsByKey[String(key)] }
    func app(id: some StringProtocol) -> Int? { appsByID[String(id)] }

    func key(app: Int, channel: String) -> ChannelKey { ChannelKey(app: apps[app].id, channel: channel) }

    // MARK: - Connections

    /// Counts a connection of `app`; false when the app is at its `max_connections` on this node.
    func connect(app: Int) -> Bool {
        let limit = apps[app].settings.maxConnections
        return state.withLock { state in
            guard limit == 0 || state.apps[app].connections < limit else { return false }
            state.apps[app].connections += 1
            return true
        }
    }

    func disconnect(app: Int) { state.withLock { $0.apps[app].connections -= 1 } }

    // MARK: - Channels

    func subscribed(app: Int, channel: String) {
        let key = key(app: app, channel: channel)
        state.withLock { state in perform(state.cluster.subscriptionsChanged(key, by: 1), in: &state) }
    }

    func unsubscribed(app: Int, channel: String) {
        let key = key(app: app, channel: channel)
        state.withLock { state in perform(state.cluster.subscriptionsChanged(key, by: -1), in: &state) }
    }

    /// The cluster's occupied channels whose names start with `prefix`, with their counts.
    func channels(app: Int, prefix: String) -> [(name: String, subscriptions: Int, users: Int)] {
        let id = apps[app].id
        return state.withLock { state in
            Self.listedChannels(app: id, in: state).filter { $0.hasPrefix(prefix) }.map { name in
                let key = ChannelKey(app: id, channel: name)
                return (name, state.cluster.subscriptions(of: key), state.cluster.memberCount(of: key))
            }
        }
    }

    func channel(app: Int, name: String) -> (subscriptions: Int, users: Int) {
        let key = key(app: app, channel: name)
        return state.withLock { ($0.cluster.subscriptions(of: key), $0.cluster.memberCount(of: key)) }
    }

    // MARK: - Presence

    enum JoinOutcome {
        /// Joined; `members` is the cluster's roster after the join, for
        /// `subscription_succeeded`, as of announcement `version`.
        case joined(members: [PresenceMember], version: UInt64)
        case full
    }

    func join(app: Int, channel: String, member: PresenceMember) -> JoinOutcome {
        let limit = apps[app].settings.maxPresenceMembers
        let key = key(app: app, channel: channel)
        return state.withLock { state in
            let sockets = state.apps[app].presence[channel]?[member.userID] ?? 0
            if sockets == 0 {
                // The limit counts the cluster; a user already in elsewhere takes no new place.
                if !state.cluster.isMember(member.userID, of: key) && state.cluster.memberCount(of: key) >= limit { return .full }
                let actions = state.cluster.join(key, userID: member.userID, info: member.userInfo ?? [])
                perform(actions, in: &state)
            }
            state.apps[app].presence[channel, default: [:]][member.userID] = sockets + 1
            let members = state.cluster.members(of: key).map { PresenceMember(userID: $0.userID, userInfo: $0.info.isEmpty ? nil : $0.info) }
            return .joined(members: members, version: state.version)
        }
    }

    /// A socket of `userID` left the presence channel.
    func leave(app: Int, channel: String, userID: String) {
        let key = key(app: app, channel: channel)
        state.withLock { state in
            guard let sockets = state.apps[app].presence[channel]?[userID] else { return }
            guard sockets == 1 else {
                state.apps[app].presence[channel]![userID] = sockets - 1
                return
            }
            state.apps[app].presence[channel]![userID] = nil
            if state.apps[app].presence[channel]!.isEmpty { state.apps[app].presence[channel] = nil }
            perform(state.cluster.leave(key, userID: userID), in: &state)
        }
    }

    /// The cluster's members of the channel, by user id.
    func members(app: Int, channel: String) -> [String] {
        let key = key(app: app, channel: channel)
        return state.withLock { $0.cluster.members(of: key).map(\.userID) }
    }

    // MARK: - Users

    /// The pseudo-channel whose members are the signed-in users: the replicas make sign-ins
    /// cluster-wide the way they do presence. Not a channel name a client can use.
    static let signedInChannel = "#signed-in"

    /// A socket signed in as `userID`, watching `watchlist`. Returns the users on the list who
    /// are online anywhere, and the announcement version that answer reflects.
    func signedIn(app: Int, userID: String, at address: PusherSocketAddress, watching watchlist: [String]) -> (online: [String], version: UInt64) {
        let key = key(app: app, channel: Self.signedInChannel)
        // Sign-ins cross nodes only for watchlists: without them nobody asks who is online.
        let shared = apps[app].settings.enableWatchlist
        return state.withLock { state in
            let first = state.apps[app].users[userID] == nil
            state.apps[app].users[userID, default: []].insert(address)
            if first && shared { perform(state.cluster.join(key, userID: userID, info: []), in: &state) }
            // Signing in again on the same socket replaces its watchlist.
            for watched in state.apps[app].watchlists.removeValue(forKey: address) ?? [] {
                state.apps[app].watchers[watched]?.remove(address)
                if state.apps[app].watchers[watched]?.isEmpty == true { state.apps[app].watchers[watched] = nil }
            }
            guard !watchlist.isEmpty else { return ([], state.version) }
            for watched in watchlist { state.apps[app].watchers[watched, default: []].insert(address) }
            state.apps[app].watchlists[address] = watchlist
            let online = Array(Set(watchlist)).sorted().filter { state.cluster.isMember($0, of: key) }
            return (online, state.version)
        }
    }

    func signedOut(app: Int, userID: String, at address: PusherSocketAddress) {
        let key = key(app: app, channel: Self.signedInChannel)
        state.withLock { state in
            for watched in state.apps[app].watchlists.removeValue(forKey: address) ?? [] {
                state.apps[app].watchers[watched]?.remove(address)
                if state.apps[app].watchers[watched]?.isEmpty == true { state.apps[app].watchers[watched] = nil }
            }
            guard state.apps[app].users[userID]?.remove(address) != nil else { return }
            guard state.apps[app].users[userID]!.isEmpty else { return }
            state.apps[app].users[userID] = nil
            perform(state.cluster.leave(key, userID: userID), in: &state)
        }
    }

    /// The app's occupied channels, without the sign-in pseudo-channel.
    private static func listedChannels(app id: String, in state: State) -> [String] {
        state.cluster.occupiedChannels(app: id).filter { $0 != signedInChannel }
    }

    /// Closes the user's sockets on every node with 4009.
    func terminate(app: Int, userID: String) {
        let id = apps[app].id
        state.withLock { state in perform(state.cluster.terminate(app: id, userID: userID), in: &state) }
    }

    // MARK: - Cache channels

    /// Unix milliseconds on the wall clock: cached events expire by it on every node.
    var nowMilliseconds: Int64 {
        let now = clock.wallTime
        return now.seconds &* 1000 &+ Int64(now.nanoseconds / 1_000_000)
    }

    /// Keeps `message`, published through the HTTP API to a cache channel, on every node.
    func cache(app: Int, channel: String, message: [UInt8]) {
        let key = key(app: app, channel: channel)
        let now = nowMilliseconds
        let event = CachedEvent(message: message, publishedAt: now, expiresAt: now &+ cacheTTL.wholeNanoseconds / 1_000_000, origin: nodeID)
        state.withLock { state in
            state.cache.offer(event, for: key, nowMilliseconds: now)
            messenger.send(.cached(node: nodeID, key: key, event: event))
        }
    }

    func cachedEvent(app: Int, channel: String) -> CachedEvent? {
        let key = key(app: app, channel: channel)
        let now = nowMilliseconds
        return state.withLock { $0.cache.event(for: key, nowMilliseconds: now) }
    }

    // MARK: - Figures

    struct AppFigures {
        let id: String
        let connections: Int
        /// Occupied channels and presence members, cluster-wide.
        let channels: Int
        let members: Int
        /// Channels with a subscription, and presence members with a socket, on this node.
        let localChannels: Int
        let localMembers: Int
    }

    /// Per app, for the status report and the metrics.
    func figures() -> (apps: [AppFigures], nodes: [String]) {
        state.withLock { state in
            let figures = apps.indices.map { index in
                let id = apps[index].id
                let channels = Self.listedChannels(app: id, in: state)
                let members = channels.reduce(0) { $0 + state.cluster.memberCount(of: ChannelKey(app: id, channel: $1)) }
                let localChannels = state.cluster.local.subscriptions.keys.reduce(0) { $0 + ($1.app == id ? 1 : 0) }
                let localMembers = state.apps[index].presence.values.reduce(0) { $0 + $1.count }
                return AppFigures(
                    id: id, connections: state.apps[index].connections, channels: channels.count, members: members,
                    localChannels: localChannels, localMembers: localMembers)
            }
            return (figures, state.cluster.remoteNodes)
        }
    }
}
