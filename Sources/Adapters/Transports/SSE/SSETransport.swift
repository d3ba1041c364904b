// Server-Sent Events: `GET /sse?topic=`, the token in a header or the query, one event per push.
public import Application
public import Domain
public import Logging

/// The Wavelog protocol over Server-Sent Events (docs/sse.md), as a browser transport.
///
/// A stream is a plain HTTP/1.1 response whose body never ends: every refusal is an ordinary
/// answer before it starts, and after the head only events and heartbeats follow.
public struct SSETransport: BrowserTransport {
    public static let name = "sse"

    public struct Settings: Sendable {
        /// A comment line this often keeps proxies and the browser from timing the stream out.
        public var heartbeatInterval: Duration = .seconds(25)
        /// The reconnection delay `EventSource` is told to use (`retry:`).
        public var retry: Duration = .seconds(3)

        public init() {}
    }

    let settings: Settings
    let format: WireFormat
    let frames: SSEFrames

    public init(settings: Settings, formats: WireFormats) {
        self.settings = settings
        format = formats.register(Self.name, SSEPushEncoder(), retainedForHistory: true)
        frames = SSEFrames(retry: settings.retry)
    }

    public var wireFormats: [WireFormat] { [format] }

    public func install(in context: TransportContext, router: Router) -> [any Drainable] {
        let route = SSERoute(transport: self, context: context)
        router.add(.get, .exact("/sse"), route)
        router.add(.options, .exact("/sse"), route)
        route.startHeartbeat()
        return []
    }
}

/// The constant parts of a stream, encoded once.
struct SSEFrames: Sendable {
    /// The response head for a request without `Origin`, then the first event-stream bytes.
    let head: EncodedFrame
    let heartbeat = EncodedFrame(": heartbeat\n\n")
    let authExpired = EncodedFrame(
        "event: auth_expired\ndata: {\"type\":\"error\",\"code\":\"auth_expired\",\"message\":\"token expired\"}\n\n")
    let preface: String

    init(retry: Duration) {
        let milliseconds = retry.components.seconds * 1000 + retry.components.attoseconds / 1_000_000_000_000_000
        preface = "retry: \(milliseconds)\n\n"
        head = EncodedFrame(Self.headText(origin: nil) + preface)
    }

    /// `Connection: close` and no length: the body ends when the stream does (RFC 9112 §6.3).
    static func headText(origin: String?) -> String {
        var text = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
            + "X-Accel-Buffering: no\r\nConnection: close\r\n"
        if let origin { text += "Access-Control-Allow-Origin: \(origin)\r\nVary: Origin\r\n" }
        return text + "\r\n"
    }

    /// `event: position` with its `id:`: sets the browser's last event ID, so a stream that saw
    /// no push yet still resumes from where it started, and tells a page that tracks positions
    /// itself (`EventSource` exposes the id only with an event). Pages that listen to `push`
    /// alone never see it.
    func position(_ current: StreamPosition) -> EncodedFrame {
        EncodedFrame("id: \(current)\nevent: position\ndata: {\"type\":\"position\",\"offset\":\"\(current)\"}\n\n")
    }

    /// `event: resync`: the missed pushes cannot be replayed, so the page refetches. Its `id:`
    /// is the latest position, or empty (which clears the browser's) when none is known.
    func resync(_ current: StreamPosition?) -> EncodedFrame {
        EncodedFrame("id: \(current.map(\.description) ?? "")\nevent: resync\ndata: {\"type\":\"resync\"}\n\n")
    }

    /// The head for a cross-origin request from an allowed `origin` (CORS, so `EventSource`
    /// may read it); built per stream, since it names the origin.
    func head(origin: String?) -> EncodedFrame {
        guard let origin else { return head }
        return EncodedFrame(Self.headText(origin: origin) + preface)
    }
}

/// `event: push` with the payload in `data:` lines: the only encoding a publish gets here. A
/// topic with history puts `id: <epoch>-<offset>` first, which `EventSource` sends back as
/// `Last-Event-ID` when it reconnects.
///
/// The payload is valid JSON, so its only line breaks are whitespace between tokens; each line
/// becomes one `data:` line, and `EventSource` joins them with LF, giving back the published
/// bytes exactly. A CR cannot survive SSE's line rules: CR and CRLF arrive as LF.
struct SSEPushEncoder: EventEncoder {
    private static let prefix = Array("event: push\ndata: ".utf8)
    private static let lineBreak = Array("\ndata: ".utf8)

    func encode(_ event: PublishedEvent) -> EncodedFrame {
        event.payload.bytes.withUnsafeBufferPointer { payload in
            var breaks = 0
            Self.forEachLine(payload) { _, last in if !last { breaks += 1 } }
            var length = 0
            Self.forEachLine(payload) { line, _ in length += line.count }
            let id = event.position.map { Array("id: \($0)\n".utf8) } ?? []
            let count = id.count + Self.prefix.count + length + breaks * Self.lineBreak.count + 2
            return EncodedFrame(count: count) { out in
                var position = 0
                func put(_ bytes: UnsafeBufferPointer<UInt8>) {
                    guard !bytes.isEmpty else { return }
                    UnsafeMutableRawBufferPointer(rebasing: out[position..<(position + bytes.count)]).copyMemory(from: UnsafeRawBufferPointer(bytes))
                    position += bytes.count
                }
                id.withUnsafeBufferPointer { put($0) }
                Self.prefix.withUnsafeBufferPointer { put($0) }
                Self.forEachLine(payload) { line, last in
                    put(line)
                    if !last { Self.lineBreak.withUnsafeBufferPointer { put($0) } }
                }
                out[position] = 0x0A
                out[position + 1] = 0x0A
            }
        }
    }

    /// Calls `body` with each line of `bytes` (split at LF, CR or CRLF, as SSE splits them) and
    /// whether it is the last.
    static func forEachLine(_ bytes: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>, Bool) -> Void) {
        var start = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x0A || byte == 0x0D {
                body(UnsafeBufferPointer(rebasing: bytes[start..<index]), false)
                if byte == 0x0D, index + 1 < bytes.count, bytes[index + 1] == 0x0A { index += 1 }
                start = index + 1
            }
            index += 1
        }
        body(UnsafeBufferPointer(rebasing: bytes[start..<bytes.count]), true)
    }
}
