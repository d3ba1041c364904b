// Health probes on the public port, for load balancers, Kubernetes and the container HEALTHCHECK.
public import Application
internal import Domain

/// `GET /healthz` (the process answers) and `GET /readyz` (it should get traffic) on one loop.
///
/// No secret: they say only whether the node is up and ready, never a count or a topic, and a
/// load balancer or kubelet must be able to call them (docs/adr/0010).
public final class ProbeRoutes: RouteHandler {
    private let broker: Broker
    private let shard: SubscriberShard

    private let alive = CannedResponse { HTTPResponse.text(.ok, "ok", keepAlive: $0) }
    private let ready = CannedResponse { HTTPResponse.text(.ok, "ready", keepAlive: $0) }
    private let draining = CannedResponse { HTTPResponse.text(.serviceUnavailable, "draining", keepAlive: $0) }
    private let clusterDown = CannedResponse { HTTPResponse.text(.serviceUnavailable, "redis unavailable", keepAlive: $0) }

    public init(broker: Broker, shard: SubscriberShard) {
        self.broker = broker
        self.shard = shard
    }

    /// Adds `/healthz` and `/readyz` to `router`.
    public func install(on router: Router) {
        router.add(.get, .exact("/healthz"), self)
        router.add(.get, .exact("/readyz"), self)
    }

    public func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let keepAlive = request.head.keepAlive
        let answer: CannedResponse
        if request.head.pathIs("/healthz") {
            answer = alive
        } else if shard.draining {
            answer = draining
        } else if broker.reportStatus.clusterLinkUp == false {
            answer = clusterDown
        } else {
            answer = ready
        }
        return .respond(answer.frame(keepAlive: keepAlive), keepAlive: keepAlive)
    }
}
