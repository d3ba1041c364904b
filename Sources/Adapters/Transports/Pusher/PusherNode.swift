// What every loop's Pusher sessions share: the apps, and node-wide channel, presence and user tables.
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
/// closes, and by the HTTP API's queries: never on the delivery path. Presence and occupancy
/// are this node's: in a cluster, each node knows its own members (see docs/pusher.md).
final class PusherNode: @unchecked Sendable {
    let apps: [PusherApp]
    private let appsByKey: [String: Int]
    private let appsByID: [String: Int]
    // Written before the loops start (install), read-only afterwards.
    private(set) var routes: [Int: PusherRoute] = [:]

    struct Member {
        var connections: Int
        let info: [UInt8]?
    }

    private struct AppState {
        var connections = 0
        /// Subscriptions per channel on this node.
        var channels: [String: Int] = [:]
        /// Presence channels: members by user id, with how many sockets each has there.
        var presence: [String: [String: Member]] = [:]
        /// Signed-in users' sockets.
        var users: [String: Set<PusherSocketAddress>] = [:]
    }

    private let state: Locked<[AppState]>

    init(apps settings: [PusherAppSettings]) {
        apps = settings.map(PusherApp.init(settings:))
        appsByKey = Dictionary(uniqueKeysWithValues: apps.enumerated().map { ($1.key, $0) })
        appsByID = Dictionary(uniqueKeysWithValues: apps.enumerated().map { ($1.id, $0) })
        state = Locked([AppState](repeating: AppState(), count: apps.count))
    }

    func attach(_ route: PusherRoute, loop index: Int) { routes[index] = route }

    func app(key: some StringProtocol) -> Int? { appsByKey[String(key)] }
    func app(id: some StringProtocol) -> Int? { appsByID[String(id)] }

    // MARK: - Connections

    /// Counts a connection of `app`; false when the app is at its `max_connections`.
    func connect(app: Int) -> Bool {
        let limit = apps[app].settings.maxConnections
        return state.withLock { tables in
            guard limit == 0 || tables[app].connections < limit else { return false }
            tables[app].connections += 1
            return true
        }
    }

    func disconnect(app: Int) { state.withLock { $0[app].connections -= 1 } }

    // MARK: - Channels

    func subscribed(app: Int, channel: String) { state.withLock { $0[app].channels[channel, default: 0] += 1 } }

    func unsubscribed(app: Int, channel: String) {
        state.withLock { tables in
            let left = (tables[app].channels[channel] ?? 1) - 1
            tables[app].channels[channel] = left > 0 ? left : nil
        }
    }

    /// Occupied channels whose names start with `prefix`, with their subscription counts.
    func channels(app: Int, prefix: String) -> [(name: String, subscriptions: Int, users: Int?)] {
        state.withLock { tables in
            tables[app].channels.filter { $0.key.hasPrefix(prefix) }.sorted { $0.key < $1.key }.map { name, count in
                (name, count, tables[app].presence[name].map(\.count))
            }
        }
    }

    func channel(app: Int, name: String) -> (subscriptions: Int, users: Int?) {
        state.withLock { tables in (tables[app].channels[name] ?? 0, tables[app].presence[name].map(\.count)) }
    }

    // MARK: - Presence

    enum JoinOutcome {
        /// Joined; `first` when this is the user's first socket in the channel. `members` is
        /// the channel's list after the join, for `subscription_succeeded`.
        case joined(first: Bool, members: [PresenceMember])
        case full
    }

    func join(app: Int, channel: String, member: PresenceMember) -> JoinOutcome {
        let limit = apps[app].settings.maxPresenceMembers
        return state.withLock { tables in
            var members = tables[app].presence[channel] ?? [:]
            let first = members[member.userID] == nil
            if first && members.count >= limit { return .full }
            members[member.userID, default: Member(connections: 0, info: member.userInfo)].connections += 1
            tables[app].presence[channel] = members
            let list = members.sorted { $0.key < $1.key }.map { PresenceMember(userID: $0.key, userInfo: $0.value.info) }
            return .joined(first: first, members: list)
        }
    }

    /// A socket of `userID` left; true when it was the user's last one in the channel.
    func leave(app: Int, channel: String, userID: String) -> Bool {
        state.withLock { tables in
            guard var members = tables[app].presence[channel], var member = members[userID] else { return false }
            member.connections -= 1
            let last = member.connections == 0
            members[userID] = last ? nil : member
            tables[app].presence[channel] = members.isEmpty ? nil : members
            return last
        }
    }

    func members(app: Int, channel: String) -> [String]? {
        state.withLock { tables in tables[app].presence[channel].map { $0.keys.sorted() } }
    }

    // MARK: - Users

    func signedIn(app: Int, userID: String, at address: PusherSocketAddress) {
        state.withLock { _ = $0[app].users[userID, default: []].insert(address) }
    }

    func signedOut(app: Int, userID: String, at address: PusherSocketAddress) {
        state.withLock { tables in
            tables[app].users[userID]?.remove(address)
            if tables[app].users[userID]?.isEmpty == true { tables[app].users[userID] = nil }
        }
    }

    func sockets(app: Int, userID: String) -> [PusherSocketAddress] {
        state.withLock { Array($0[app].users[userID] ?? []) }
    }

    /// Per app: connections and occupied channels, for the status report and the logs.
    func figures() -> [(id: String, connections: Int, channels: Int)] {
        state.withLock { tables in apps.indices.map { (apps[$0].id, tables[$0].connections, tables[$0].channels.count) } }
    }
}
