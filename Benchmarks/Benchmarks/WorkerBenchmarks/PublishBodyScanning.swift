// Publish body scanning: reading topic and payload out of `POST /internal/publish`.
import Adapters
import Benchmark

func registerPublishBodyBenchmarks() {
    let body = Fixtures.publishBody
    let read = { body.withUnsafeBufferPointer { PublishBody.read($0) } }
    requireFixture((try? read().get())?.payload.bytes == Fixtures.payload, "the publish body is refused")

    Benchmark("JSON: scan publish body") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(read())
        }
    }
}
