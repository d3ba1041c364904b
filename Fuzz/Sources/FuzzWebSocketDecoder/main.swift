// libFuzzer target: the WebSocket decoder must end every input in a defined state, whatever the
// chunking, both plain and with permessage-deflate negotiated (RSV1 messages inflated with the
// loop's shared inflater, never past the message limit).
import Adapters
import FuzzSupport

// One per process, as a loop has one: the fuzzer calls the target from one thread.
nonisolated(unsafe) let inflater = RawInflater()

func run(_ bytes: [UInt8], split: Int, inflater: RawInflater?) -> String {
    var parser = WebSocketFrameParser(maxMessageBytes: 4096, inflater: inflater)
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
                    switch event {
                    case .text(let message), .binary(let message): precondition(message.count <= 4096, "message over the limit")
                    default: break
                    }
                    if let inflater { precondition(inflater.producedByLastCall <= 4096 + (16 << 10), "inflated past the bound") }
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

runFuzzer { bytes in
    expectSameOutcomeWhenSplit(bytes) { run($0, split: $1, inflater: nil) }
    expectSameOutcomeWhenSplit(bytes) { run($0, split: $1, inflater: inflater) }
}
