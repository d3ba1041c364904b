// Trusted-proxy ranges, the refusal log's interval, and the connection budget's overflow.
@testable import Adapters
import Domain
import Logging
import Testing
import TestSupport

struct LimitsTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.255.1.2", true), ("10.0.0.0/8", "11.0.0.1", false),
        ("172.16.0.0/12", "172.31.255.255", true), ("172.16.0.0/12", "172.32.0.1", false),
        ("127.0.0.1", "127.0.0.1", true), ("127.0.0.1", "127.0.0.2", false),
        ("::1", "::1", true), ("::1", "127.0.0.1", false), ("fc00::/7", "fd12:3456::1", true),
        ("fc00::/7", "fe80::1", false), ("0.0.0.0/0", "203.0.113.9", true), ("::/0", "203.0.113.9", false),
        ("192.168.0.0/16", "::ffff:192.168.4.4", true), ("192.168.0.0/16", "not an address", false),
    ] as [(String, String, Bool)])
    func aRangeContainsTheAddressesOfItsPrefix(_ range: String, _ host: String, _ expected: Bool) throws {
        #expect(try #require(AddressRange(range)).contains(host) == expected)
    }

    @Test(arguments: ["", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "localhost", "10.0.0.0/٨"])
    func aBadRangeIsRefused(_ text: String) {
        #expect(AddressRange(text) == nil)
    }

    @Test func aRangeIsWrittenMasked() {
        #expect(AddressRange("10.1.2.3/8")?.description == "10.0.0.0/8")
        #expect(AddressRange("::1")?.description == "::1")
    }

    @Test func refusalsAreLoggedOncePerIntervalPerReasonWithTheirCount() {
        let store = InMemoryLogHandler.Store()
        let log = RefusalLog(logger: InMemoryLogHandler.logger(store))
        func at(_ seconds: Int64) -> MonotonicTime { MonotonicTime(nanoseconds: seconds * 1_000_000_000) }
        for second in 0..<25 as Range<Int64> {
            for _ in 0..<100 { log.refused("per_ip_rate", at: at(second), metadata: ["ip": "192.0.2.1"]) }
        }
        log.refused("max_connections", at: at(24), metadata: [:])
        let lines = store.lines
        #expect(lines.count == 4)
        #expect(lines.allSatisfy { $0.contains("connections refused") })
        // The first at once; then each line counts what happened since the one before.
        #expect(lines[0].contains("count=1 ") && lines[0].contains("reason=per_ip_rate"))
        #expect(lines[1].contains("count=1000 "))
        #expect(lines[2].contains("count=1000 "))
        #expect(lines[3].contains("reason=max_connections") && lines[3].contains("count=1"))
    }

    @Test func theBudgetAnswersAFewBeyondItsLimitThenRefuses() {
        let budget = ConnectionBudget(limit: 2, overflow: 1)
        #expect([budget.acquire(), budget.acquire(), budget.acquire(), budget.acquire()] == [.granted, .granted, .overBudget, .refused])
        #expect(budget.current == 3)
        budget.release()
        #expect(budget.acquire() == .overBudget)
    }
}
