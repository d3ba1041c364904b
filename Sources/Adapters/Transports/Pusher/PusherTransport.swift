// The Pusher Channels protocol as a browser transport: `/app/{key}` and the HTTP API `/apps/{id}`.
public import Application
public import Domain
public import Logging

/// pusher-js, Laravel Echo and the Pusher server SDKs on the node's engine (docs/pusher.md).
/// Channels are namespaced topics (`TopicName.namespaced`), one namespace for every app, so a
/// channel never meets a Wavelog topic of the same name and apps never share a channel. One
/// wire format: the event message, built once per publish and channel, sent as one shared
/// text frame to every subscriber.
public struct PusherTransport: BrowserTransport {
    public static let name = "pusher"
    static let namespace = "pusher"

    public struct Settings: Sendable {
        public var apps: [PusherAppSettings] = []
        /// What clients are told to wait, silent, before they ping.
        public var activityTimeout: Duration = .seconds(30)
        /// How long a cache channel's last event is kept.
        public var cacheTTL: Duration = .seconds(1800)
        public var webSocket = WebSocketSettings()

        public init() {}
    }

    /// How this node takes part in the cluster's Pusher state (docs/adr/0018).
    public struct Cluster: Sendable {
        /// The node's id, the same as in the roster.
        public var nodeID: String
        public var messenger: any NodeMessenger
        public var clock: any Clock
        /// Where webhook events go; nil without any endpoint.
        public var webhooks: Webhooks?
        /// Whether other nodes may exist (a Redis link): then one node sends each webhook event.
        public var clustered: Bool

        public init(nodeID: String, messenger: any NodeMessenger, clock: any Clock, webhooks: Webhooks? = nil, clustered: Bool = false) {
            self.nodeID = nodeID
            self.messenger = messenger
            self.clock = clock
            self.webhooks = webhooks
            self.clustered = clustered
        }
    }

    let settings: Settings
    let node: PusherNode
    let format: WireFormat
    let frames = PusherFrames()

    public init(settings: Settings, formats: WireFormats, cluster: Cluster) {
        var settings = settings
        // A client event's data up to the largest app limit, with room for its envelope.
        settings.webSocket.maxMessageBytes = (settings.apps.map(\.maxMessageBytes).max() ?? 10 * 1024) + 1024
        self.settings = settings
        node = PusherNode(
            apps: settings.apps, nodeID: cluster.nodeID, messenger: cluster.messenger, clock: cluster.clock, cacheTTL: settings.cacheTTL,
            webhooks: cluster.webhooks, clustered: cluster.clustered)
        format = formats.register(Self.name, PusherEventEncoder())
    }

    public var wireFormats: [WireFormat] { [format] }

    public func install(in context: TransportContext, router: Router) -> [any Drainable] {
        let route = PusherRoute(transport: self, context: context)
        node.attach(route, loop: context.loop.index)
        if context.loop.index == 0 {
            // Only a transport that is on takes part in the cluster's Pusher state.
            node.messenger.listen(node)
            node.scheduleTick(on: context.loop)
        }
        context.shard.socketDirectory = route
        router.add(.get, .prefix("/app/"), route)
        let api = PusherAPIRoute(route: route)
        router.add(.get, .prefix("/apps/"), api)
        router.add(.post, .prefix("/apps/"), api)
        router.add(.post, .prefix("/users/"), api)
        return []
    }

    /// The HTTP API on the internal port too, for backends that keep their traffic off the public one.
    public func installInternal(in context: TransportContext, router: Router) {
        guard let route = node.routes[context.loop.index] else { return }
        let api = PusherAPIRoute(route: route)
        router.add(.get, .prefix("/apps/"), api)
        router.add(.post, .prefix("/apps/"), api)
        router.add(.post, .prefix("/users/"), api)
    }

    /// Says the node is leaving after its sockets have closed.
    public var services: [any LifecycleService] { [PusherDeparture(node: node)] }

    /// `"pusher_apps":{"<id>":{"connections":n,"channels":n,"members":n,"local_channels":n,
    /// "local_members":n}}` (channels and members cluster-wide, connections this node's),
    /// `"pusher_peers":[ids]`, the nodes this one holds a replica of, and with webhooks
    /// `"pusher_webhooks":{"node":id,"sender":id|null,"held":n,"pending":n,"expired":n}`.
    public var statusMembers: [String] {
        let (apps, peers) = node.figures()
        let members = apps.map {
            #""\#($0.id)":{"connections":\#($0.connections),"channels":\#($0.channels),"members":\#($0.members),"#
                + #""local_channels":\#($0.localChannels),"local_members":\#($0.localMembers)}"#
        }
        var result = [#""pusher_apps":{"# + members.joined(separator: ",") + "}", #""pusher_peers":["# + peers.map(JSONWriter.quoted).joined(separator: ",") + "]"]
        if let hooks = node.webhookFigures() {
            let sender = hooks.sender.map(JSONWriter.quoted) ?? "null"
            result.append(#""pusher_webhooks":{"node":\#(JSONWriter.quoted(node.nodeID)),"sender":\#(sender),"held":\#(hooks.held),"pending":\#(hooks.pending),"expired":\#(hooks.expired)}"#)
        }
        return result
    }

    public var gauges: [TransportGauge] {
        let (apps, peers) = node.figures()
        let channels = "Occupied Pusher channels of each app, in the cluster and on this node."
        let members = "Pusher presence members of each app (summed over channels), in the cluster and on this node."
        return apps.flatMap { app in
            [
                TransportGauge(name: "wavelog_pusher_connections", help: "Pusher connections of each app on this node.", labels: [("app", app.id)], value: Double(app.connections)),
                TransportGauge(name: "wavelog_pusher_channels", help: channels, labels: [("app", app.id), ("scope", "cluster")], value: Double(app.channels)),
                TransportGauge(name: "wavelog_pusher_channels", help: channels, labels: [("app", app.id), ("scope", "node")], value: Double(app.localChannels)),
                TransportGauge(name: "wavelog_pusher_presence_members", help: members, labels: [("app", app.id), ("scope", "cluster")], value: Double(app.members)),
                TransportGauge(name: "wavelog_pusher_presence_members", help: members, labels: [("app", app.id), ("scope", "node")], value: Double(app.localMembers)),
            ]
        } + [
            TransportGauge(name: "wavelog_pusher_peers", help: "Other nodes whose Pusher channels this node holds a replica of.", labels: [], value: Double(peers.count))
        ] + (node.webhookFigures().map { hooks in
            [TransportGauge(
                name: "wavelog_webhook_held_expired_total",
                help: "Webhook events this node held for 30 s with no node able to send them (its link down, no sender settled), then dropped.",
                labels: [], value: Double(hooks.expired), isCounter: true)]
        } ?? [])
    }
}

extension PusherTransport {
    /// The cluster-wide occupancy of Wavelog topics, for their webhooks.
    public var topicOccupancy: any TopicOccupancy { node }

    /// The same without the Pusher transport: the node's replicas with no app, started on
    /// `loop`; the service departs when the node stops.
    public static func topicOccupancy(cluster: Cluster, on loop: EventLoop) -> (any TopicOccupancy, any LifecycleService) {
        let node = PusherNode(
            apps: [], nodeID: cluster.nodeID, messenger: cluster.messenger, clock: cluster.clock, webhooks: cluster.webhooks,
            clustered: cluster.clustered)
        node.messenger.listen(node)
        node.scheduleTick(on: loop)
        return (node, PusherDeparture(node: node))
    }
}

/// Stopped before the cluster bus: the departure goes out while the link still runs.
final class PusherDeparture: LifecycleService, Sendable {
    let node: PusherNode

    init(node: PusherNode) {
        self.node = node
    }

    func start() throws {}

    func shutdown() { node.depart() }
}
