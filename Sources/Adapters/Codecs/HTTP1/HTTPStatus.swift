// The status codes the worker answers with.

/// An HTTP status code and its reason phrase.
public struct HTTPStatus: Sendable, Equatable, Hashable {
    public let code: Int
    public let reason: String

    public static let switchingProtocols = HTTPStatus(code: 101, reason: "Switching Protocols")
    public static let ok = HTTPStatus(code: 200, reason: "OK")
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    public static let noContent = HTTPStatus(code: 204, reason: "No Content")
    public static let unauthorized = HTTPStatus(code: 401, reason: "Unauthorized")
    public static let forbidden = HTTPStatus(code: 403, reason: "Forbidden")
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    public static let requestTimeout = HTTPStatus(code: 408, reason: "Request Timeout")
    public static let payloadTooLarge = HTTPStatus(code: 413, reason: "Payload Too Large")
    public static let upgradeRequired = HTTPStatus(code: 426, reason: "Upgrade Required")
    public static let tooManyRequests = HTTPStatus(code: 429, reason: "Too Many Requests")
    public static let headersTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let serviceUnavailable = HTTPStatus(code: 503, reason: "Service Unavailable")
    public static let versionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")

    /// Every status above: the one table of reason phrases.
    static let known: [Int: HTTPStatus] = Dictionary(
        uniqueKeysWithValues: [
            switchingProtocols, ok, badRequest, noContent, unauthorized, forbidden, notFound, methodNotAllowed, requestTimeout,
            payloadTooLarge, upgradeRequired, tooManyRequests, headersTooLarge, serviceUnavailable, versionNotSupported,
        ].map { ($0.code, $0) })

    /// The status with `code` and its phrase from the table (a code it lacks is a programming error).
    public init(code: Int) {
        guard let status = Self.known[code] else { preconditionFailure("no reason phrase for HTTP status \(code)") }
        self = status
    }

    private init(code: Int, reason: String) {
        self.code = code
        self.reason = reason
    }
}
