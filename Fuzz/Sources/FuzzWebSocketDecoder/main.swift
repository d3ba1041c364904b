// libFuzzer target: the WebSocket decoder must end every input in a defined state, whatever the chunking.
import Adapters
import Glibc

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let whole = run(bytes, split: bytes.count)
    let split = run(bytes, split: size == 0 ? 0 : Int(bytes[0]) % (size + 1))
    precondition(whole == split, "chunking changed the outcome")
    return 0
}

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

var argc = CommandLine.argc
var argv = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { fuzzOne($0, $1) })
