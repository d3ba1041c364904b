// libFuzzer target: reading Sec-WebSocket-Extensions offers. Any header text must end in an
// accepted offer within the RFC 7692 ranges, or in none; never in a crash.
import Adapters
import FuzzSupport

runFuzzer { bytes in
    let text = String(decoding: bytes, as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    if let accepted = PermessageDeflate.negotiate(lines) {
        precondition((9...15).contains(accepted.serverWindowBits), "window outside 9-15")
        precondition(accepted.responseValue.hasPrefix("permessage-deflate; server_no_context_takeover"), "bad answer")
    }
}
