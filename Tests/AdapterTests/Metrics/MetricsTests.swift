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
        let perLoop = node.shards.map { _ in LoopMetrics() }
        for (shard, metrics) in zip(node.shards, perLoop) { registry.attach(metrics, of: shard.loop) }
        for (index, (shard, metrics)) in zip(node.shards, perLoop).enumerated() {
            let confined = LoopBound(metrics)
            let done = DispatchSemaphore(value: 0)
            shard.loop.execute { _ in
                confined.value.publishes += index + 1
                confined.value.deliveries += 10 * (index + 1)
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
    }
}
