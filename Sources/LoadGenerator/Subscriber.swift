// One WebSocket subscriber: handshake, optional auth, then counting and timing every push.
import Glibc
import CLinux

final class Subscriber: ReactorClient {
    enum State { case connecting, upgrading, authenticating, subscribed, closed }

    /// One compressed push in this many is inflated and timed.
    static let inflateEvery = 16

    let descriptor: Int32
    let topic: Int
    private(set) var state = State.connecting
    private let setup: SubscriberSetup
    private let tally: Tally
    private var carry: [UInt8] = []
    private var outbox = Outbox()
    /// wss:// and https://: the upgrade (or stream request) goes once the handshake is done.
    private let tls: ClientTLS?
    /// Pushes seen. Publishes sent on different connections may be served in either order,
    /// so loss is what is missing at the end, not a gap in the sequence.
    private(set) var received = 0

    init(topic: Int, port: UInt16, setup: SubscriberSetup, tally: Tally) {
        self.topic = topic
        self.setup = setup
        self.tally = tally
        tls = setup.tls.map(ClientTLS.init)
        descriptor = ClientSocket.connect(port: port)
    }

    func writable(_ reactor: Reactor) {
        if state == .connecting {
            guard ClientSocket.connectError(descriptor) == 0 else { return fail(reactor) }
            state = .upgrading
            if let tls {
                guard tls.handshake() else { return fail(reactor) }
                sendRaw(tls.takeOutput(), reactor)
            } else {
                send(setup.handshakes[topic], reactor)
            }
            if outbox.isEmpty { reactor.watchWritable(self, false) }
            return
        }
        if !outbox.flush(descriptor) { reactor.watchWritable(self, false) }
    }

    func failed(_ reactor: Reactor) { fail(reactor) }

    func readable(_ reactor: Reactor) {
        let count = recv(descriptor, reactor.readBuffer.baseAddress, reactor.readBuffer.count, 0)
        if count == 0 { return fail(reactor) }
        if count < 0 {
            if clinux_errno() == EAGAIN { return }
            return fail(reactor)
        }
        let now = Clock.now()
        let fresh = UnsafeRawBufferPointer(rebasing: reactor.readBuffer[0..<count])
        guard let tls else { return process(fresh, now: now, reactor) }
        let wasEstablished = tls.established
        guard tls.received(fresh, plaintext: reactor.plainBuffer, deliver: { process($0, now: now, reactor) }) else { return fail(reactor) }
        if !wasEstablished && tls.established { send(setup.handshakes[topic], reactor) }
        let output = tls.takeOutput()
        if !output.isEmpty { sendRaw(output, reactor) }
    }

    /// Plain bytes from the server (decrypted, over TLS).
    private func process(_ fresh: UnsafeRawBufferPointer, now: UInt64, _ reactor: Reactor) {
        let count = fresh.count
        if carry.isEmpty {
            let used = consume(fresh, now: now, reactor)
            if used < count && state != .closed { carry = Array(fresh[used...]) }
        } else {
            carry += fresh
            let used = carry.withUnsafeBytes { consume($0, now: now, reactor) }
            if state != .closed { carry.removeFirst(used) }
        }
    }

    /// Handles whole units (the HTTP answer, frames) and returns the bytes used.
    private func consume(_ bytes: UnsafeRawBufferPointer, now: UInt64, _ reactor: Reactor) -> Int {
        var offset = 0
        if state == .upgrading {
            guard let end = Scan.headerEnd(bytes) else { return 0 }
            guard Scan.statusCode(bytes) == (setup.eventStream ? 200 : 101) else { fail(reactor); return bytes.count }
            offset = end
            if setup.eventStream {
                subscribed()
                return offset + events(UnsafeRawBufferPointer(rebasing: bytes[offset...]), now: now)
            }
            if let auth = setup.authFrames?[topic] {
                state = .authenticating
                send(auth, reactor)
            } else if setup.pusherSecret != nil {
                state = .authenticating  // until connection_established, then the subscription's answer
            } else {
                subscribed()
            }
        }
        if setup.eventStream && state == .subscribed {
            return offset + events(UnsafeRawBufferPointer(rebasing: bytes[offset...]), now: now)
        }
        while state == .authenticating || state == .subscribed {
            guard let frame = ServerFrame.parse(bytes, at: offset) else { break }
            offset = frame.end
            let payload = UnsafeRawBufferPointer(rebasing: bytes[frame.payloadStart..<frame.end])
            switch frame.opcode {
            case 0x1 where state == .subscribed && frame.compressed:
                tally.pushBytes += frame.end - frame.start
                tally.compressedDeliveries += 1
                // Inflating every push would cost the generator more than the server spends on
                // it, and a generator that falls behind makes the server's writes stall: count
                // every push, and inflate one in `inflateEvery` for its latency (and validity).
                guard tally.compressedDeliveries % Self.inflateEvery == 0 else {
                    received += 1
                    tally.deliveries += 1
                    break
                }
                guard let inflated = Inflater.shared.inflate(payload) else {
                    tally.unexpectedFrames += 1
                    break
                }
                inflated.withUnsafeBytes { delivery($0, now: now) }
            case 0x1 where state == .subscribed:
                tally.pushBytes += frame.end - frame.start
                delivery(payload, now: now)
            case 0x1 where setup.pusherSecret != nil:
                if let socketID = Scan.pusherSocketID(payload) {
                    send(Dialect.pusherSubscribe(
                        topic: setup.topicNames[topic], socketID: socketID, secret: setup.pusherSecret!, presence: setup.presence), reactor)
                } else if Scan.contains(payload, Scan.pusherSubscribed) {
                    subscribed()
                } else {
                    fail(reactor)
                    return bytes.count
                }
            case 0x1:
                guard Scan.contains(payload, Scan.authOK) else { fail(reactor); return bytes.count }
                subscribed()
            case 0x8:
                let code = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : 1005
                tally.closedByServer[code, default: 0] += 1
                close(reactor)
                return bytes.count
            case 0x9: send(ClientFrame.masked(opcode: 0xA, Array(payload)), reactor)
            default: tally.unexpectedFrames += 1
            }
        }
        return offset
    }

    /// Counts every complete event of an event stream that carries data; returns the bytes used.
    /// Heartbeats, `retry:` and comments carry none. Whatever framing the server adds between
    /// events (nchan's chunked encoding) lands inside the next event's text, where it is ignored.
    private func events(_ bytes: UnsafeRawBufferPointer, now: UInt64) -> Int {
        var start = 0
        while let end = Scan.find(Scan.eventTerminator, in: bytes, from: start) {
            let event = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            if Scan.contains(event, Scan.dataField) {
                tally.pushBytes += end + 2 - start
                delivery(event, now: now)
            }
            start = end + 2
        }
        return start
    }

    private func subscribed() {
        state = .subscribed
        tally.ready += 1
    }

    private func delivery(_ payload: UnsafeRawBufferPointer, now: UInt64) {
        // A Pusher event carries the payload as a JSON string, its quotes escaped.
        guard Scan.number(after: Scan.sequenceKey, in: payload) ?? Scan.number(after: Scan.escapedSequenceKey, in: payload) != nil,
              let sent = Scan.number(after: Scan.timeKey, in: payload) ?? Scan.number(after: Scan.escapedTimeKey, in: payload) else {
            tally.unexpectedFrames += 1
            return
        }
        received += 1
        tally.deliveries += 1
        tally.latency.record(microseconds: now > UInt64(sent) ? (now - UInt64(sent)) / 1000 : 0)
    }

    private func send(_ bytes: [UInt8], _ reactor: Reactor) {
        guard let tls else { return sendRaw(bytes, reactor) }
        bytes.withUnsafeBytes { tls.encrypt($0) }
        sendRaw(tls.takeOutput(), reactor)
    }

    private func sendRaw(_ bytes: [UInt8], _ reactor: Reactor) {
        let left = bytes.withUnsafeBytes { outbox.send($0, on: descriptor) }
        if left { reactor.watchWritable(self, true) }
    }

    private func fail(_ reactor: Reactor) {
        guard state != .closed else { return }
        if state != .subscribed { tally.failedSetups += 1 }
        close(reactor)
    }

    func close(_ reactor: Reactor) {
        guard state != .closed else { return }
        state = .closed
        reactor.remove(self)
    }
}

/// What every subscriber of a run shares, built once per topic.
struct SubscriberSetup {
    /// Subscribers go round-robin over these (the nodes of a cluster).
    let ports: [UInt16]
    let handshakes: [[UInt8]]
    let authFrames: [[UInt8]]?
    /// Subscribers read Server-Sent Events instead of WebSocket frames.
    var eventStream = false
    /// Pusher: the app secret that signs each socket's subscription (which needs its socket_id).
    var pusherSecret: String? = nil
    /// Pusher: join presence channels, each socket as a user of its own.
    var presence = false
    var topicNames: [String] = []
    /// wss:// or https:// to the subscribers' ports.
    var tls: ClientTLSContext? = nil
}

/// One frame from the server: unmasked (RFC 6455 5.1), so the payload can be read in place.
struct ServerFrame {
    let opcode: UInt8
    /// RSV1: a permessage-deflate message.
    let compressed: Bool
    let start: Int
    let payloadStart: Int
    let end: Int

    static func parse(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> ServerFrame? {
        guard bytes.count - offset >= 2 else { return nil }
        let opcode = bytes[offset] & 0x0F
        var length = Int(bytes[offset + 1] & 0x7F)
        var header = 2
        if length == 126 {
            guard bytes.count - offset >= 4 else { return nil }
            length = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            header = 4
        } else if length == 127 {
            guard bytes.count - offset >= 10 else { return nil }
            length = (0..<8).reduce(0) { $0 << 8 | Int(bytes[offset + 2 + $1]) }
            header = 10
        }
        guard bytes.count - offset - header >= length else { return nil }
        return ServerFrame(
            opcode: opcode, compressed: bytes[offset] & 0x40 != 0, start: offset, payloadStart: offset + header, end: offset + header + length)
    }
}
