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
        public var webSocket = WebSocketSettings()

        public init() {}
    }

    let settings: Settings
    let node: PusherNode
    let format: WireFormat
    let frames = PusherFrames()

    public init(settings: Settings, formats: WireFormats) {
        var settings = settings
        // A client event's data up to the largest app limit, with room for its envelope.
        settings.webSocket.maxMessageBytes = (settings.apps.map(\.maxMessageBytes).max() ?? 10 * 1024) + 1024
        self.settings = settings
        node = PusherNode(apps: settings.apps)
        format = formats.register(Self.name, PusherEventEncoder())
    }

    public var wireFormats: [WireFormat] { [format] }

    public func install(in context: TransportContext, router: Router) -> [any Drainable] {
        let route = PusherRoute(transport: self, context: context)
        node.attach(route, loop: context.loop.index)
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

    /// `"pusher_apps":{"<id>":{"connections":n,"channels":n}}`: this node's figures per app.
    public var statusMembers: [String] {
        let apps = node.figures().map { #""\#($0.id)":{"connections":\#($0.connections),"channels":\#($0.channels)}"# }
        return [#""pusher_apps":{"# + apps.joined(separator: ",") + "}"]
    }

    public var gauges: [TransportGauge] {
        node.figures().flatMap { app in
            [
                TransportGauge(name: "wavelog_pusher_connections", help: "Pusher connections of each app on this node.", labels: [("app", app.id)], value: Double(app.connections)),
                TransportGauge(name: "wavelog_pusher_channels", help: "Occupied Pusher channels of each app on this node.", labels: [("app", app.id)], value: Double(app.channels)),
            ]
        }
    }
}
