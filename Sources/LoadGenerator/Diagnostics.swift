// Messages for the person running the benchmark; stdout stays one JSON object.
import Glibc

enum Diagnostics {
    static func say(_ message: String) {
        let line = "wavelog-load: \(message)\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    }
}
