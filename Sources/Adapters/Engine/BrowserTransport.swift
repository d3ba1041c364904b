// What a browser transport implements: its routes on the public listener of each loop.
public import Application
public import Logging

/// Everything a transport's routes keep on one loop: the engine's pieces and the application
/// surface. (Not the router: routes held by the router must not hold it back.)
public struct TransportContext {
    public let loop: EventLoop
    public let broker: Broker
    public let admission: Admission
    public let shard: SubscriberShard
    public let logger: Logger

    public init(loop: EventLoop, broker: Broker, admission: Admission, shard: SubscriberShard, logger: Logger) {
        self.loop = loop
        self.broker = broker
        self.admission = admission
        self.shard = shard
        self.logger = logger
    }
}

/// A browser transport (a wire protocol on the public port), built once per node with its settings.
///
/// It registers its wire formats when it is created, and for each loop adds its routes to that
/// loop's router in `install`. The engine (shard, fan-out, admission) does the rest; the
/// transport owns its handshake, framing and control messages. `App` lists the transports that
/// are on, one line each.
public protocol BrowserTransport: Sendable {
    /// The name in the `transports` configuration key.
    static var name: String { get }
    /// The wire formats it registered, for figures reported by transport.
    var wireFormats: [WireFormat] { get }
    /// Adds this transport's routes to `router` (and any per-loop state it needs) on
    /// `context.loop`. Returns what must hear about shutdown besides the shard, if anything.
    func install(in context: TransportContext, router: Router) -> [any Drainable]
    /// Adds routes to the internal port's `router` on `context.loop`, after `install`.
    func installInternal(in context: TransportContext, router: Router)
    /// Extension members of `/internal/status` (`"name":value`), read on any thread.
    var statusMembers: [String] { get }
    /// Figures of its own for `/metrics`, read on any thread.
    var gauges: [TransportGauge] { get }
    /// What must start with the node's services and stop before them (in reverse order).
    var services: [any LifecycleService] { get }
}

extension BrowserTransport {
    public func installInternal(in context: TransportContext, router: Router) {}
    public var statusMembers: [String] { [] }
    public var gauges: [TransportGauge] { [] }
    public var services: [any LifecycleService] { [] }
}

/// One sample a transport (or another part of the node) reports: a gauge, or a counter.
public struct TransportGauge: Sendable {
    public let name: String
    public let help: String
    public let labels: [(String, String)]
    public let value: Double
    public let isCounter: Bool

    public init(name: String, help: String, labels: [(String, String)], value: Double, isCounter: Bool = false) {
        self.name = name
        self.help = help
        self.labels = labels
        self.value = value
        self.isCounter = isCounter
    }
}
