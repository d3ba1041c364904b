// libFuzzer target: verifying Pusher HTTP API requests. The input is "METHOD\npath\nquery\nbody";
// any of it must end in a verdict, never a crash, and only a correctly signed request passes.
import Adapters
import FuzzSupport

let app = PusherApp(settings: PusherAppSettings(id: "1", key: "fuzz-key", secret: "fuzz-secret-0123"))

runFuzzer { bytes in
    let text = String(decoding: bytes, as: UTF8.self)
    let parts = text.split(separator: "\n", maxSplits: 3, omittingEmptySubsequences: false)
    guard parts.count >= 3 else { return }
    let body = parts.count == 4 ? Array(parts[3].utf8) : []
    let verdict = PusherRequestVerifier.verify(
        method: String(parts[0]), path: parts[1], query: parts[2], body: body, app: app, now: 1_700_000_000)
    if case .failure(let error) = verdict {
        precondition([400, 401].contains(error.status), "unexpected status \(error.status)")
    }
    _ = PusherRequestVerifier.parameters(parts[2])
}
