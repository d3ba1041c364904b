// libFuzzer target: the HTTP/1.1 request parser must end every input in a defined state, and
// any header must be readable by name from what it accepted.
import Adapters
import FuzzSupport

/// Feeds the input whole and then split at a point derived from its first byte, as a connection
/// would receive it; both must agree, and nothing may be consumed past the input.
func run(_ bytes: [UInt8], split: Int) -> String {
    var parser = HTTPRequestParser()
    var pending: [UInt8] = []
    var log = ""
    for chunk in [bytes[..<split], bytes[split...]] {
        pending += chunk
        while true {
            do {
                let event = try pending.withUnsafeBytes { try parser.parse($0) }
                switch event {
                case .needMoreBytes: break
                case .continueExpected:
                    continue  // Asked only while the body is missing, so it depends on chunking.
                case .request(let request, let consumed):
                    precondition(consumed > 0 && consumed <= pending.count, "consumed out of range")
                    precondition(request.body.count <= HTTPLimits.maxBodyBytes, "body over the limit")
                    // Any header by name: the raw field lines must answer lookups without a crash.
                    let fields = request.head.headers.fields
                    let lookups = [fields.value(of: "authorization"), fields.value(of: "accept"), fields.value(of: "last-event-id")]
                    log += "\(request.head.target) \(request.body.count) \(lookups.map { $0?.utf8.count ?? -1 });"
                    pending.removeFirst(consumed)
                    continue
                }
            } catch {
                return log + "error \((error as? HTTPParseError)?.status.code ?? -1)"
            }
            break
        }
    }
    return log
}

runFuzzer { expectSameOutcomeWhenSplit($0, run) }
