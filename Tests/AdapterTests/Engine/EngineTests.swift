// The engine over real loopback sockets: encode once per format in use, shard membership,
// slow consumers, token expiry, drain, the router's answers.
@testable import Adapters
import Application
import Domain
import Glibc
import Synchronization
import Testing
import TestSupport

@Suite(.serialized)
struct EngineTests {
    @Test func anEventIsEncodedOncePerFormatInUseAndNotAtAllForFormatsNobodyReads() throws {
        var counting: [CountingTransport] = []
        let node = try NodeHarness { formats in
            counting = [CountingTransport(path: "/a", tag: "A", formats: formats), CountingTransport(path: "/b", tag: "B", formats: formats)]
            return counting
        }
        let (a, b) = (counting[0], counting[1])
        node.register("room", requireToken: false)
        try node.publish("room", "1")
        #expect(a.encodes.count.load(ordering: .relaxed) == 0, "nobody listens: nothing is encoded")

        // Three readers of A, spread over both loops by the kernel; none of B.
        let readers = try (0..<3).map { _ in try TestSocket(port: node.port) }
        for reader in readers { #expect(try reader.get("/a?topic=room").hasPrefix("HTTP/1.1 200")) }
        #expect(node.wait { node.subscribed == 3 })
        for index in 0..<5 { try node.publish("room", "\(index)") }
        for reader in readers {
            #expect(String(decoding: try reader.receive(exactly: 20), as: UTF8.self) == "A:0\nA:1\nA:2\nA:3\nA:4\n")
        }
        #expect(a.encodes.count.load(ordering: .relaxed) == 5, "once per publish, not once per subscriber")
        #expect(b.encodes.count.load(ordering: .relaxed) == 0)

        // One reader of B: from now on both formats are encoded, once each per publish.
        let bReader = try TestSocket(port: node.port)
        #expect(try bReader.get("/b?topic=room").hasPrefix("HTTP/1.1 200"))
        #expect(node.wait { node.subscribed == 4 })
        try node.publish("room", "9")
        #expect(String(decoding: try bReader.receive(exactly: 4), as: UTF8.self) == "B:9\n")
        for reader in readers { #expect(String(decoding: try reader.receive(exactly: 4), as: UTF8.self) == "A:9\n") }
        #expect(a.encodes.count.load(ordering: .relaxed) == 6)
        #expect(b.encodes.count.load(ordering: .relaxed) == 1)

        // B's reader leaves: its format is no longer encoded.
        bReader.shutdownWrite()
        #expect(node.wait { node.subscribed == 3 })
        try node.publish("room", "10")
        for reader in readers { #expect(String(decoding: try reader.receive(exactly: 5), as: UTF8.self) == "A:10\n") }
        #expect(b.encodes.count.load(ordering: .relaxed) == 1)
    }

    @Test func aShardMaskShowsOnlyTheFormatsItsSubscribersRead() throws {
        let node = try NodeHarness(NodeHarness.Options(loops: 1))
        node.register("room", requireToken: false)
        #expect(node.onLoops { $0.formatsInUse } == [0])
        let stream = try TestSocket.stream(node, "/sse?topic=room")
        let sseBit = node.onLoops { $0.formatsInUse }[0]
        #expect(sseBit.nonzeroBitCount == 1)
        stream.shutdownWrite()
        #expect(node.wait { node.onLoops { $0.formatsInUse } == [0] })
        #expect(node.counters.openConnections(WireFormat(index: sseBit.trailingZeroBitCount)) == 0)
    }

    @Test func aStreamThatStopsReadingIsClosedAndCountedWhileAnotherGetsEverything() throws {
        var options = NodeHarness.Options(loops: 1)
        // Bursts of 50 pushes fit (a burst is queued in one loop turn); a stuck reader does not.
        options.queueLimits = (frames: 1000, bytes: 64 << 10)
        let node = try NodeHarness(options)
        node.register("firehose", requireToken: false)
        let stuck = try TestSocket(port: node.port, timeoutSeconds: 30)
        stuck.setReceiveBuffer(4096)
        #expect(try stuck.get("/sse?topic=firehose").hasPrefix("HTTP/1.1 200"))
        let reader = try TestSocket.stream(node, "/sse?topic=firehose")
        let payload = "\"" + String(repeating: "x", count: 1000) + "\""
        let event = "event: push\ndata: \(payload)\n\n"
        // More than the kernel's largest send buffer and the queue hold, read as they come.
        let count = Self.kernelSendBufferMax() / 1000 + 200
        for index in 0..<count {
            try node.publish("firehose", payload)
            if index % 50 == 49 { _ = try reader.receive(exactly: event.utf8.count * 50) }
        }
        #expect(node.wait { node.counters.slowConsumersClosed == 1 })
        #expect(node.subscribed == 1)
        #expect(node.logs.lines.contains { $0.contains("client too slow") && $0.contains("transport") })
        // The stuck client's first bytes are whole events in publish order. (Reading all of what
        // the kernel still holds for it through a 4 KiB window would take a minute.)
        #expect(try stuck.receive(through: "\n\n") == "retry: 3000\n\n")
        #expect(String(decoding: try stuck.receive(exactly: event.utf8.count * 2), as: UTF8.self) == event + event)
    }

    @Test func anExpiredTokenEndsTheStreamWithAuthExpired() throws {
        let clock = ManualClock()
        let node = try NodeHarness(manualClock: clock)
        node.register("session.1")
        let expires = Int(clock.unixTime.seconds) + 10
        let stream = try TestSocket.stream(node, "/sse?topic=session.1&token=\(node.token("session.1", userID: 3, expires: expires))")
        #expect(node.broker.reportStatus(includeTopicLists: false).connectedSockets == 1)
        #expect(clock.advance(by: .seconds(10), running: node.group.loops))
        #expect(stream.isQuiet, "ended before its last second")
        #expect(clock.advance(by: .seconds(1), running: node.group.loops))
        let rest = String(decoding: try stream.receiveUntilClosed(), as: UTF8.self)
        #expect(rest == "event: auth_expired\ndata: {\"type\":\"error\",\"code\":\"auth_expired\",\"message\":\"token expired\"}\n\n")
        #expect(node.broker.reportStatus(includeTopicLists: false).connectedSockets == 0)
    }

    @Test func drainEndsEveryStream() throws {
        let node = try NodeHarness()
        node.register("room", requireToken: false)
        let streams = try (0..<4).map { _ in try TestSocket.stream(node, "/sse?topic=room") }
        #expect(node.wait { node.subscribed == 4 })
        node.drain()
        for stream in streams { #expect(try stream.receiveUntilClosed().isEmpty) }
        #expect(node.wait { node.subscribed == 0 })
    }

    @Test func theRouterAnswers404ForUnknownPathsAnd405WithAllowForWrongMethods() throws {
        let node = try NodeHarness(NodeHarness.Options(loops: 1))
        let client = try TestSocket(port: node.port)
        #expect(try client.get("/nowhere").hasPrefix("HTTP/1.1 404 Not Found"))
        #expect(String(decoding: try client.receive(exactly: 10), as: UTF8.self) == "not found\n")
        try client.send("POST /sse?topic=x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n")
        let head = try client.receive(through: "\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 405 Method Not Allowed"))
        #expect(head.contains("\r\nAllow: GET, OPTIONS\r\n"))
        #expect(String(decoding: try client.receive(exactly: 19), as: UTF8.self) == "method not allowed\n")
        try client.send("DELETE /ws HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try client.receive(through: "\r\n\r\n").contains("\r\nAllow: GET\r\n"))
    }

    /// The largest send buffer loopback autotuning may give a socket (`tcp_wmem`'s maximum).
    static func kernelSendBufferMax() -> Int {
        let descriptor = open("/proc/sys/net/ipv4/tcp_wmem", O_RDONLY)
        guard descriptor >= 0 else { return 4 << 20 }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: 128)
        let count = read(descriptor, &bytes, bytes.count)
        let fields = String(decoding: bytes[0..<max(count, 0)], as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        return fields.count == 3 ? Int(fields[2]) ?? (4 << 20) : 4 << 20
    }
}
