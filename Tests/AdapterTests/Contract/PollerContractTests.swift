// One contract, run against every poller (docs/development.md "One contract suite per port"), over real
// socketpairs.
@testable import Adapters
import Dispatch
import Glibc
import Testing

struct PollerContractTests {
    static let kinds = PollerKind.allCases

    func socketPair() -> (Int32, Int32) {
        var ends: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0, &ends) == 0)
        return (ends[0], ends[1])
    }

    @Test(arguments: kinds)
    func reportsReadableWithItsGeneration(_ kind: PollerKind) throws {
        let poller = try kind.make()
        defer { poller.close() }
        let (a, b) = socketPair()
        defer { close(a); close(b) }
        try poller.register(a, interest: .readable, generation: 7)
        var events: [PollerEvent] = []
        #expect(try poller.wait(timeoutMilliseconds: 0, into: &events) == 0)
        _ = write(b, "x", 1)
        let count = try poller.wait(timeoutMilliseconds: 5000, into: &events)
        #expect(count == 1)
        #expect(events[0].descriptor == a && events[0].generation == 7 && events[0].readable && !events[0].writable)
    }

    @Test(arguments: kinds)
    func modifyChangesInterestAndGeneration(_ kind: PollerKind) throws {
        let poller = try kind.make()
        defer { poller.close() }
        let (a, b) = socketPair()
        defer { close(a); close(b) }
        try poller.register(a, interest: .readable, generation: 1)
        try poller.modify(a, interest: .writable, generation: 2)
        var events: [PollerEvent] = []
        let count = try poller.wait(timeoutMilliseconds: 5000, into: &events)
        #expect(count == 1)
        #expect(events[0].writable && events[0].generation == 2)
    }

    @Test(arguments: kinds)
    func deregisteredDescriptorsReportNothing(_ kind: PollerKind) throws {
        let poller = try kind.make()
        defer { poller.close() }
        let (a, b) = socketPair()
        defer { close(a); close(b) }
        try poller.register(a, interest: [.readable, .writable], generation: 1)
        try poller.deregister(a)
        _ = write(b, "x", 1)
        var events: [PollerEvent] = []
        #expect(try poller.wait(timeoutMilliseconds: 0, into: &events) == 0)
    }

    /// A closed descriptor is gone without a deregister, and its number can be registered again
    /// (epoll would refuse the second registration with EEXIST if the first had lingered).
    @Test(arguments: kinds)
    func forgottenAndClosedDescriptorsReportNothingAndTheirNumberIsReusable(_ kind: PollerKind) throws {
        let poller = try kind.make()
        defer { poller.close() }
        let (a, b) = socketPair()
        defer { close(b) }
        try poller.register(a, interest: [.readable, .writable], generation: 1)
        poller.forgetClosing(a)
        // dup2 closes the old socket and puts a new one at the same number in one step, so a
        // parallel test cannot take the number in between.
        let (c, d) = socketPair()
        #expect(dup2(c, a) == a)
        close(c)
        defer { close(a); close(d) }
        _ = send(b, "x", 1, Int32(MSG_NOSIGNAL))
        var events: [PollerEvent] = []
        #expect(try poller.wait(timeoutMilliseconds: 0, into: &events) == 0)
        try poller.register(a, interest: .readable, generation: 2)
        _ = send(d, "y", 1, Int32(MSG_NOSIGNAL))
        #expect(try poller.wait(timeoutMilliseconds: 5000, into: &events) == 1)
        #expect(events[0].descriptor == a && events[0].generation == 2)
    }

    @Test(arguments: kinds)
    func peerCloseIsReportedAsReadableOrHangup(_ kind: PollerKind) throws {
        let poller = try kind.make()
        defer { poller.close() }
        let (a, b) = socketPair()
        defer { close(a) }
        try poller.register(a, interest: .readable, generation: 3)
        close(b)
        var events: [PollerEvent] = []
        #expect(try poller.wait(timeoutMilliseconds: 5000, into: &events) == 1)
        #expect(events[0].readable || events[0].hangup)
    }

    @Test(arguments: kinds)
    func wakeupFromAnotherThreadInterruptsWait(_ kind: PollerKind) throws {
        let poller = try kind.make()
        defer { poller.close() }
        let box = UncheckedSendable(poller)
        let returned = DispatchSemaphore(value: 0)
        let eventCount = UncheckedSendable(Box(-1))
        // A wait without a timeout, on a thread of its own: only the wake-up can end it. The test
        // awaits its return for at most 20 s, so a wake-up that never arrives fails the test
        // instead of hanging the run.
        DispatchQueue.global().async {
            var events: [PollerEvent] = []
            eventCount.value.value = (try? box.value.wait(timeoutMilliseconds: -1, into: &events)) ?? -2
            returned.signal()
        }
        poller.wakeup()
        #expect(returned.wait(timeout: .now() + 20) == .success)
        #expect(eventCount.value.value == 0)
    }

    @Test(arguments: kinds)
    func manyDescriptorsInOneBatch(_ kind: PollerKind) throws {
        let poller = try kind.make()
        defer { poller.close() }
        var pairs: [(Int32, Int32)] = []
        for index in 0..<300 {
            let pair = socketPair()
            pairs.append(pair)
            try poller.register(pair.0, interest: .readable, generation: UInt32(index))
            _ = write(pair.1, "x", 1)
        }
        defer { for (a, b) in pairs { close(a); close(b) } }
        var seen = Set<UInt32>()
        var events: [PollerEvent] = []
        while seen.count < 300 {
            let count = try poller.wait(timeoutMilliseconds: 5000, into: &events)
            #expect(count > 0)
            if count == 0 { break }
            for event in events[0..<count] {
                seen.insert(event.generation)
                var byte: UInt8 = 0
                _ = read(event.descriptor, &byte, 1)
            }
        }
        #expect(seen.count == 300)
    }
}
