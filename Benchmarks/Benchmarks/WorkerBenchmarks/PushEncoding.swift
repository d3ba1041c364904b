// Push encoding: the one frame a publish becomes, shared by every subscriber
// (docs/development.md "Encode once").
import Adapters
import Application
import Benchmark

func registerPushEncodingBenchmarks() {
    // Over 125 bytes once wrapped: the frame takes the 16-bit length header, not the 1-byte one.
    let payload = JSONPayload(validatedBytes: Fixtures.payload)
    requireFixture(WebSocketFrameEncoder.push(payload: payload.bytes).copiedBytes[1] == 126, "push frame length header")

    Benchmark("WebSocket: encode push frame") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(WebSocketFrameEncoder.push(payload: payload.bytes))
        }
    }
}
