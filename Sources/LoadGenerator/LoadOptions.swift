// Command-line flags; every scenario of bench/run.py is a combination of these.
struct LoadOptions {
    enum Mode: String { case connect, fanout, publish }

    var mode = Mode.fanout
    var dialect = Dialect.worker
    /// How subscribers listen: WebSocket, or Server-Sent Events (`EventSource`).
    var transport = SubscriberTransport.websocket
    var wsPort: UInt16 = 9000
    /// Further public ports (other nodes of a cluster): subscribers go round-robin over all.
    var moreWsPorts: [UInt16] = []
    /// Pusher dialect: presence channels (a `channel_data` per socket) instead of private ones.
    var presence = false
    var httpPort: UInt16 = 9001
    var secret = ""
    var serverProcesses: [Int32] = []
    var topics = 1
    var subscribersPerTopic = 0
    /// Publishes per second; 0 publishes as fast as the window allows.
    var rate = 0.0
    var seconds = 5.0
    /// Publishes a topic may have in flight (sent, not yet received by all its subscribers).
    var window = 8
    var publishers = 2
    var keepAlive = true
    var payloadBytes = 128
    /// Fill the payload with radio-status JSON (call signs, frequencies, modes), which
    /// compresses as real pushes do, instead of a run of one letter.
    var radioPayload = false
    /// Offer permessage-deflate in every WebSocket handshake and inflate compressed pushes.
    var deflate = false
    /// Worker dialect only: stop each set-up at the 101, without the auth frame and `auth_ok`.
    /// nchan's subscribers make that one round trip; the worker's browsers make two.
    var authenticate = true
    var setupConcurrency = 256
    var drainSeconds = 10.0
    /// Stop publishing after this many (0: only --seconds ends the run), for counted workloads.
    var maxPublishes = 0
    /// Lazy readers: sleep this long after each batch (see Reactor).
    var readPauseMicroseconds: UInt32 = 0
    /// Subscribers connect with TLS (wss://, https://); publishers stay on plain HTTP.
    var tls = false

    static let usage = """
        usage: wavelog-load --mode connect|fanout|publish --dialect worker|nchan|pusher [--transport websocket|sse] --ws-port P --http-port P
               [--secret S] [--pid PID]... [--topics N] [--subscribers N (per topic)] [--rate R/s, 0 = max]
               [--seconds S] [--window N] [--publishers N] [--new-connection] [--payload-bytes N]
               [--setup-concurrency N] [--drain-seconds S] [--max-publishes N] [--radio-payload] [--deflate]
               [--no-auth (set-up is the handshake alone)] [--tls (subscribers on wss:// or https://)]
               [--read-pause-us N (lazy readers while publishing)]
               [--ws-port P again: more nodes, subscribers round-robin] [--presence (pusher: presence channels)]
        Prints one JSON object of figures; server CPU and RSS come from /proc of every --pid.
        """

    static func parse(_ arguments: [String]) throws(UsageError) -> LoadOptions {
        var options = LoadOptions()
        var rest = arguments[...]
        func value(_ flag: String) throws(UsageError) -> String {
            guard let next = rest.popFirst() else { throw UsageError("\(flag) needs a value") }
            return next
        }
        func number<T: LosslessStringConvertible>(_ flag: String, _: T.Type) throws(UsageError) -> T {
            let text = try value(flag)
            guard let parsed = T(text) else { throw UsageError("\(flag): not a number: \(text)") }
            return parsed
        }
        var sawWsPort = false
        while let flag = rest.popFirst() {
            switch flag {
            case "--mode":
                let text = try value(flag)
                guard let mode = Mode(rawValue: text) else { throw UsageError("--mode: unknown \(text)") }
                options.mode = mode
            case "--dialect":
                let text = try value(flag)
                guard let dialect = Dialect(rawValue: text) else { throw UsageError("--dialect: unknown \(text)") }
                options.dialect = dialect
            case "--transport":
                let text = try value(flag)
                guard let transport = SubscriberTransport(rawValue: text) else { throw UsageError("--transport: unknown \(text)") }
                options.transport = transport
            case "--ws-port":
                // Given again: another node's port.
                if sawWsPort { options.moreWsPorts.append(try number(flag, UInt16.self)) } else { options.wsPort = try number(flag, UInt16.self) }
                sawWsPort = true
            case "--presence": options.presence = true
            case "--http-port": options.httpPort = try number(flag, UInt16.self)
            case "--secret": options.secret = try value(flag)
            case "--pid": options.serverProcesses.append(try number(flag, Int32.self))
            case "--topics": options.topics = try number(flag, Int.self)
            case "--subscribers": options.subscribersPerTopic = try number(flag, Int.self)
            case "--rate": options.rate = try number(flag, Double.self)
            case "--seconds": options.seconds = try number(flag, Double.self)
            case "--window": options.window = try number(flag, Int.self)
            case "--publishers": options.publishers = try number(flag, Int.self)
            case "--new-connection": options.keepAlive = false
            case "--payload-bytes": options.payloadBytes = try number(flag, Int.self)
            case "--radio-payload": options.radioPayload = true
            case "--deflate": options.deflate = true
            case "--no-auth": options.authenticate = false
            case "--tls": options.tls = true
            case "--setup-concurrency": options.setupConcurrency = try number(flag, Int.self)
            case "--drain-seconds": options.drainSeconds = try number(flag, Double.self)
            case "--max-publishes": options.maxPublishes = try number(flag, Int.self)
            case "--read-pause-us": options.readPauseMicroseconds = try number(flag, UInt32.self)
            case "--help", "-h": throw UsageError("")
            default: throw UsageError("unknown flag \(flag)")
            }
        }
        guard options.topics >= 1, options.publishers >= 1, options.window >= 1, options.setupConcurrency >= 1 else {
            throw UsageError("--topics, --publishers, --window and --setup-concurrency must be at least 1")
        }
        if !options.authenticate && options.mode != .connect {
            throw UsageError("--no-auth is for --mode connect: a socket that never authenticates gets no pushes")
        }
        if options.mode != .publish && options.subscribersPerTopic < 1 {
            throw UsageError("--mode \(options.mode.rawValue) needs --subscribers")
        }
        return options
    }
}

struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// How subscribers of a run listen.
enum SubscriberTransport: String {
    case websocket, sse
}
