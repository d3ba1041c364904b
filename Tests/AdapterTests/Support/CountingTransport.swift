// A transport that exists only in tests: it proves a new transport needs no engine change, and
// counts how often its wire format is encoded.
@testable import Adapters
import Application
import Domain
import Synchronization

/// Serves `GET <path>?topic=T` on public topics: a bare 200 head, then `<tag>:<payload>\n` per push.
struct CountingTransport: BrowserTransport {
    static let name = "counting"

    /// Calls of the encoder, across threads.
    final class Encodes: Sendable {
        let count = Atomic<Int>(0)
    }

    struct Encoder: EventEncoder {
        let tag: String
        let encodes: Encodes

        func encode(_ event: PublishedEvent) -> EncodedFrame {
            encodes.count.wrappingAdd(1, ordering: .relaxed)
            return EncodedFrame(Array("\(tag):".utf8) + event.payload.bytes + [0x0A])
        }
    }

    let path: String
    let format: WireFormat
    let encodes = Encodes()

    init(path: String, tag: String, formats: WireFormats) {
        self.path = path
        format = formats.register(tag, Encoder(tag: tag, encodes: encodes))
    }

    var wireFormats: [WireFormat] { [format] }

    func install(in context: TransportContext, router: Router) -> [any Drainable] {
        router.add(.get, .exact(path), Route(transport: self, context: context))
        return []
    }

    final class Route: RouteHandler, TopicRoute {
        let transport: CountingTransport
        let context: TransportContext

        init(transport: CountingTransport, context: TransportContext) {
            self.transport = transport
            self.context = context
        }

        func respond(to request: HTTPRequest, from connection: Connection) -> HTTPResponderAction {
            context.admission.admitTopic(request, from: connection, to: self)
        }

        func answer(_ request: HTTPRequest, topic: TopicName, from connection: Connection) -> HTTPResponderAction {
            let stream = Stream(connection: connection, format: transport.format, topic: topic, clientIP: connection.peerHost)
            stream.shard = context.shard
            guard case .success = context.shard.authenticate(stream, message: .auth(token: nil)) else {
                return PlainAnswers.respond(.unauthorized, keepAlive: false)
            }
            context.shard.admit(stream)
            return .upgrade(EncodedFrame("HTTP/1.1 200 OK\r\n\r\n"), stream)
        }
    }

    final class Stream: Subscriber, ConnectionHandler, UpgradedConnectionHandler {
        unowned(unsafe) var shard: SubscriberShard!

        func upgraded(_ connection: Connection, pending: UnsafeRawBufferPointer) {}
        func received(_ bytes: UnsafeRawBufferPointer, on connection: Connection) {}
        func connectionClosed(_ connection: Connection) { shard.remove(self) }
    }
}
