// The write queue's replacement of an unsent frame, which latest-value topics rely on.
@testable import Adapters
import Testing

@Suite struct WriteQueueTests {
    private func text(_ queue: WriteQueue) -> String {
        var vectors = [IOVector](repeating: IOVector(base: UnsafeRawPointer(bitPattern: 1)!, length: 0), count: 16)
        let filled = queue.gather(into: &vectors, capacity: 16, budget: .max)
        return vectors[..<filled].map { String(decoding: UnsafeRawBufferPointer(start: $0.base, count: $0.length), as: UTF8.self) }.joined(separator: "|")
    }

    @discardableResult
    private func add(_ text: String, to queue: inout WriteQueue) -> EncodedFrame {
        let frame = EncodedFrame(text)
        let queued = queue.append(frame, limits: .unlimited)
        precondition(queued)
        return frame
    }

    @Test func anUnsentFrameIsReplacedInItsPlace() {
        var queue = WriteQueue()
        add("a", to: &queue)
        let b = add("b", to: &queue)
        add("c", to: &queue)
        let replaced = queue.replace(b, with: EncodedFrame("BB"), keepingFirst: 0)
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
        replaced = queue.replace(head, with: EncodedFrame("x"), keepingFirst: 1)
        #expect(!replaced)
        queue.consume(2)  // half the head is written
        replaced = queue.replace(head, with: EncodedFrame("x"))
        #expect(!replaced)
        replaced = queue.replace(next, with: EncodedFrame("NEXT"))
        #expect(replaced && text(queue) == "ad|NEXT")
        queue.consume(2 + 4)
        #expect(queue.isEmpty)
        // A frame gone is never found again.
        replaced = queue.replace(next, with: EncodedFrame("late"))
        #expect(!replaced && queue.isEmpty)
    }

    @Test func anUnstartedHeadIsReplaced() {
        var queue = WriteQueue()
        let only = add("only", to: &queue)
        let replaced = queue.replace(only, with: EncodedFrame("newest"))
        #expect(replaced && text(queue) == "newest" && queue.byteCount == 6)
    }

    @Test func theFrameIsFoundBehindADeepBacklog() {
        var queue = WriteQueue()
        for n in 0..<2999 { add("\(n % 10)", to: &queue) }
        let last = add("L", to: &queue)
        queue.consume(2500)  // compacts the spill array on the way
        var replaced = queue.replace(last, with: EncodedFrame("Z"))
        queue.consume(499)
        #expect(replaced && text(queue) == "Z")
        replaced = queue.replace(EncodedFrame("Z"), with: EncodedFrame("Y"))
        #expect(!replaced)  // equal bytes, another frame
    }
}
