// The Prometheus text writer, and a scrape that sums every loop's plain counters on their loops.
@testable import Adapters
import Application
import Dispatch
import Domain
import Synchronization
import Testing

struct MetricsTests {
    @Test func theTextFormatDescribesEachNameOnceAndEscapesLabels() {
        var text = PrometheusText()
        text.gauge("up", "Up.", labels: [("a", "x\"y\\z\nw")], 1)
        text.gauge("up", "Up.", labels: [("a", "b")], 0.5)
        text.counter("n_total", "N.", 12)
        #expect(text.output == """
            # HELP up Up.
            # TYPE up gauge
            up{a="x\\"y\\\\z\\nw"} 1
            up{a="b"} 0.5
            # HELP n_total N.
            # TYPE n_total counter
            n_total 12

            """)
    }

    @Test func aScrapeSumsTheCountersOfEveryLoopOnTheirOwnLoops() throws {
        let node = try NodeHarness()
        let registry = MetricsRegistry(broker: node.broker, counters: node.counters, version: "t")
        for shard in node.shards { registry.attach(shard.loop) }
        for (index, shard) in node.shards.enumerated() {
            let done = DispatchSemaphore(value: 0)
            shard.loop.execute { loop in
                loop.metrics.publishes += index + 1
                loop.metrics.deliveries += 10 * (index + 1)
                loop.metrics.countClose(1013)
                loop.metrics.countRefusal("per_ip_rate")
                done.signal()
            }
            #expect(done.wait(timeout: .now() + 10) == .success)
        }
        let text = Mutex<String?>(nil)
        let done = DispatchSemaphore(value: 0)
        registry.scrape { rendered in
            text.withLock { $0 = rendered }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        let output = try #require(text.withLock { $0 })
        #expect(output.contains("\nwavelog_publishes_total 3\n"))
        #expect(output.contains("\nwavelog_deliveries_total 30\n"))
        #expect(output.contains("\nwavelog_closes_total{code=\"1013\"} \(node.shards.count)\n"))
        #expect(output.contains("\nwavelog_refused_total{reason=\"per_ip_rate\"} \(node.shards.count)\n"))
    }
}
