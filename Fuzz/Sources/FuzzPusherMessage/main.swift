// libFuzzer target: reading Pusher client messages. Any bytes must end in a message or an
// error, never a crash; a client event's data is valid JSON, because it is forwarded verbatim.
import Adapters
import FuzzSupport

runFuzzer { bytes in
    let input = Array(bytes)
    input.withUnsafeBufferPointer { buffer in
        if case .success(.clientEvent(let name, _, let data)) = PusherMessageDecoder.decode(buffer) {
            precondition(name.hasPrefix("client-"), "a client event not named client-*")
            _ = data.withUnsafeBufferPointer { try! JSONReader.validate($0) }
        }
    }
}
