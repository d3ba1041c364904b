// The public listener's router: each request goes to the transport whose route matches.
public import Domain

/// What a route serves: one transport's answer to a request on its path.
public protocol RouteHandler: AnyObject {
    func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction
}

/// A path a route matches: exactly, or every path under a prefix (`/app/` for `/app/{key}`).
public enum RoutePath: Sendable, Equatable {
    case exact(String)
    case prefix(String)

    /// Whether `path` (without its query) matches, compared as bytes.
    func matches(_ path: UnsafeRawBufferPointer) -> Bool {
        switch self {
        case .exact(let literal):
            var literal = literal
            return literal.withUTF8 { path.elementsEqual(UnsafeRawBufferPointer($0)) }
        case .prefix(let literal):
            var literal = literal
            return literal.withUTF8 { prefix in
                path.count >= prefix.count && UnsafeRawBufferPointer(rebasing: path[0..<prefix.count]).elementsEqual(UnsafeRawBufferPointer(prefix))
            }
        }
    }
}

/// Routes requests by method and path to the handlers the transports registered; one per loop.
///
/// An unknown path is `404 not found`; a known path with another method is `405` with an
/// `Allow` header naming the methods it has. O(routes) per request, a handful.
public final class Router: HTTPResponder {
    private struct Route {
        let method: HTTPMethod
        let path: RoutePath
        let handler: any RouteHandler
    }

    private var routes: [Route] = []
    /// `405` answers by path, built when the routes are added.
    private var methodNotAllowed: [RoutePath: CannedResponse] = [:]

    public init() {}

    /// Adds a route. Call before the loop runs. The first matching route wins.
    public func add(_ method: HTTPMethod, _ path: RoutePath, _ handler: any RouteHandler) {
        routes.append(Route(method: method, path: path, handler: handler))
        let allowed = routes.filter { $0.path == path }.map { Self.token($0.method) }.joined(separator: ", ")
        methodNotAllowed[path] = CannedResponse {
            HTTPResponse.text(.methodNotAllowed, PlainAnswer.methodNotAllowed.text, keepAlive: $0, extraHeaders: [("Allow", allowed)])
        }
    }

    public var isEmpty: Bool { routes.isEmpty }

    public func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
        let head = request.head
        var pathOnly: RoutePath?
        let handler: (any RouteHandler)? = head.withPathBytes { path in
            for route in routes where route.path.matches(path) {
                if route.method == head.method { return route.handler }
                if pathOnly == nil { pathOnly = route.path }
            }
            return nil
        }
        if let handler { return handler.respond(to: request, from: connection) }
        let keepAlive = head.keepAlive
        if let pathOnly, let answer = methodNotAllowed[pathOnly] {
            return .respond(answer.frame(keepAlive: keepAlive), keepAlive: keepAlive)
        }
        return PlainAnswers.respond(.notFound, keepAlive: keepAlive)
    }

    public func reject(_ error: HTTPParseError) -> EncodedFrame {
        PlainAnswers.rejection(error)
    }

    private static func token(_ method: HTTPMethod) -> String {
        switch method {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .delete: "DELETE"
        case .options: "OPTIONS"
        case .patch: "PATCH"
        case .other(let name): name
        }
    }
}

extension RoutePath: Hashable {}
