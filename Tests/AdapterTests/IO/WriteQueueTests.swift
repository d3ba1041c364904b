// The write queue's numbering and replacement, which latest-value topics rely on.
@testable import Adapters
import Testing

@Suite struct WriteQueueTests {
    private func text(_ queue: WriteQueue) -> String {
        var vectors = [IOVector](repeating: IOVector(base: UnsafeRawPointer(bitPattern: 1)!, length: 0), count: 16)
        let filled = queue.gather(into: &vectors, capacity: 16, budget: .max)
        return vectors[..<filled].map { String(decoding: UnsafeRawBufferPointer(start: $0.base, count: $0.length), as: UTF8.self) }.joined(separator: "|")
    }

    private func add(_ text: String, to queue: inout WriteQueue) -> UInt64 {
        let queued = queue.append(EncodedFrame(text), limits: .unlimited)
        precondition(queued)
        return queue.lastNumber
    }

    @Test func anUnsentFrameIsReplacedInItsPlace() {
        var queue = WriteQueue()
        _ = add("a", to: &queue)
        let slot = add("b", to: &queue)
        _ = add("c", to: &queue)
        let replaced = queue.replace(slot, with: EncodedFrame("BB"), keepingFirst: 0)
        #expect(replaced)
        #expect(text(queue) == "a|BB|c")
        #expect(queue.byteCount == 4 && queue.frameCount == 3)
    }

    @Test func aFrameThatStartedGoingOutIsNotReplaced() {
        var queue = WriteQueue()
        let head = add("head", to: &queue)
        let next = add("next", to: &queue)
        // A send in flight reads the first two frames.
        var replaced = queue.replace(next, with: EncodedFrame("x"), keepingFirst: 2)
        #expect(!replaced)
        queue.consume(2)  // half the head is written
        replaced = queue.replace(head, with: EncodedFrame("x"))
        #expect(!replaced)
        replaced = queue.replace(next, with: EncodedFrame("NEXT"))
        #expect(replaced && text(queue) == "ad|NEXT")
        queue.consume(2 + 4)
        #expect(queue.isEmpty)
        // Numbers of frames gone are never replaced, and new frames get new ones.
        replaced = queue.replace(next, with: EncodedFrame("late"))
        #expect(!replaced)
        #expect(add("new", to: &queue) == next + 1)
        replaced = queue.replace(.max, with: EncodedFrame("none"))
        #expect(!replaced)
    }

    @Test func numbersFollowTheFrontAfterADeepBacklog() {
        var queue = WriteQueue()
        for n in 0..<3000 { _ = add("\(n % 10)", to: &queue) }
        queue.consume(2500)  // compacts the spill array on the way
        var replaced = queue.replace(2500, with: EncodedFrame("A"))
        #expect(replaced && text(queue).hasPrefix("A|1|2|"))
        replaced = queue.replace(2999, with: EncodedFrame("Z"))
        queue.consume(499)
        #expect(replaced && text(queue) == "Z")
    }
}
