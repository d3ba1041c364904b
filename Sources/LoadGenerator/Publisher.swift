// An HTTP client with one request in flight: on a kept-alive connection, or on a new connection
// per request as PHP's curl does by default.
import Glibc
import CLinux

final class Publisher: ReactorClient {
    private(set) var descriptor: Int32 = -1
    private let port: UInt16
    private let keepAlive: Bool
    private var connected = false
    private var inFlight: [UInt8]?
    /// When the request in flight was submitted, for the answer's round-trip time.
    private(set) var submittedAt: UInt64 = 0
    private var inbox: [UInt8] = []
    private var outbox = Outbox()
    /// Called with the status of each answer, 0 when the connection failed instead.
    var onAnswer: (Publisher, Int, Reactor) -> Void = { _, _, _ in }

    init(port: UInt16, keepAlive: Bool) {
        self.port = port
        self.keepAlive = keepAlive
    }

    var isBusy: Bool { inFlight != nil }

    func submit(_ request: [UInt8], _ reactor: Reactor) {
        precondition(inFlight == nil, "one request at a time")
        inFlight = request
        submittedAt = Clock.now()
        if descriptor < 0 {
            descriptor = ClientSocket.connect(port: port)
            connected = false
            reactor.add(self, writable: true)
        } else {
            send(request, reactor)
        }
    }

    func writable(_ reactor: Reactor) {
        if !connected {
            guard ClientSocket.connectError(descriptor) == 0 else { return failed(reactor) }
            connected = true
            reactor.watchWritable(self, false)
            if let inFlight { send(inFlight, reactor) }
            return
        }
        if !outbox.flush(descriptor) { reactor.watchWritable(self, false) }
    }

    func readable(_ reactor: Reactor) {
        let count = recv(descriptor, reactor.readBuffer.baseAddress, reactor.readBuffer.count, 0)
        if count < 0 && clinux_errno() == EAGAIN { return }
        guard count > 0 else { return failed(reactor) }
        inbox += UnsafeRawBufferPointer(rebasing: reactor.readBuffer[0..<count])
        let answer: (status: Int, length: Int)? = inbox.withUnsafeBytes { bytes in
            guard let headEnd = Scan.headerEnd(bytes) else { return nil }
            let head = UnsafeRawBufferPointer(rebasing: bytes[0..<headEnd])
            let total = headEnd + Scan.contentLengthValue(head)
            return bytes.count >= total ? (Scan.statusCode(bytes), total) : nil
        }
        guard let answer else { return }
        inbox.removeFirst(answer.length)
        inFlight = nil
        if !keepAlive { disconnect(reactor) }
        onAnswer(self, answer.status, reactor)
    }

    func failed(_ reactor: Reactor) {
        disconnect(reactor)
        if inFlight != nil {
            inFlight = nil
            onAnswer(self, 0, reactor)
        }
    }

    func disconnect(_ reactor: Reactor) {
        guard descriptor >= 0 else { return }
        reactor.remove(self)
        descriptor = -1
        inbox.removeAll(keepingCapacity: true)
        outbox = Outbox()
    }

    private func send(_ bytes: [UInt8], _ reactor: Reactor) {
        if bytes.withUnsafeBytes({ outbox.send($0, on: descriptor) }) { reactor.watchWritable(self, true) }
    }
}
