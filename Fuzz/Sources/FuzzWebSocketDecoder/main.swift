// libFuzzer target: the WebSocket decoder must end every input in a defined state, whatever the chunking.
import Adapters
import FuzzSupport

func run(_ bytes: [UInt8], split: Int) -> String {
    var parser = WebSocketFrameParser(maxMessageBytes: 4096)
    var pending: [UInt8] = []
    var log = ""
    for chunk in [bytes[..<split], bytes[split...]] {
        pending += chunk
        while true {
            do {
                switch try pending.withUnsafeBytes({ try parser.parse($0) }) {
                case .needMoreBytes:
                    break
                case .fragment(let consumed):
                    precondition(consumed > 0 && consumed <= pending.count, "consumed out of range")
                    pending.removeFirst(consumed)
                    continue
                case .event(let event, let consumed):
                    precondition(consumed > 0 && consumed <= pending.count, "consumed out of range")
                    if case .text(let text) = event { precondition(text.count <= 4096, "message over the limit") }
                    log += "\(event);"
                    pending.removeFirst(consumed)
                    continue
                }
            } catch {
                return log + "error \((error as? WebSocketProtocolError)?.closeCode ?? 0)"
            }
            break
        }
    }
    return log
}

runFuzzer { expectSameOutcomeWhenSplit($0, run) }
