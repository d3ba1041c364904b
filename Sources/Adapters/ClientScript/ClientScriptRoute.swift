// `GET /client.js` on the public port: the reference browser client, from the worker it talks to.

/// Serves the reference client. Any origin may load it (a module imported across origins needs
/// CORS, and it is the same public file for everyone); browsers may keep it for five minutes.
public final class ClientScriptRoute: RouteHandler {
    private let script = CannedResponse { keepAlive in
        HTTPResponse.encode(
            .ok, contentType: "text/javascript; charset=utf-8", body: Array(ClientScript.source.utf8), keepAlive: keepAlive,
            extraHeaders: [("Cache-Control", "public, max-age=300"), ("Access-Control-Allow-Origin", "*")])
    }

    public init() {}

    public func install(on router: Router) {
        router.add(.get, .exact("/client.js"), self)
    }

    public func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let keepAlive = request.head.keepAlive
        return .respond(script.frame(keepAlive: keepAlive), keepAlive: keepAlive)
    }
}
