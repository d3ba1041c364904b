// Unsent frames of one socket: references into shared frames, bounded in count and bytes.

/// The bounded queue of a socket's unsent frames (docs/architecture.md "Runtime model").
///
/// The first frame lives inline, so a socket that keeps up never allocates for its queue; a
/// backlog spills into an array that is released once it drains. Partial writes advance an
/// offset into the shared frame, never copy it.
struct WriteQueue {
    struct Limits: Sendable {
        var maxFrames: Int
        var maxBytes: Int

        static let unlimited = Limits(maxFrames: .max, maxBytes: .max)
    }

    private var head: EncodedFrame?
    private var headOffset = 0
    private var backlog: [EncodedFrame] = []
    private var backlogStart = 0

    private(set) var frameCount = 0
    private(set) var byteCount = 0

    var isEmpty: Bool { head == nil }

    /// Adds `frame`; false (and nothing queued) when the limits would be passed.
    mutating func append(_ frame: EncodedFrame, limits: Limits) -> Bool {
        guard frameCount < limits.maxFrames, byteCount + frame.count <= limits.maxBytes || frameCount == 0 else {
            return false
        }
        if head == nil {
            head = frame
            headOffset = 0
        } else {
            backlog.append(frame)
        }
        frameCount += 1
        byteCount += frame.count
        return true
    }

    /// Puts `frame` in the place of `old`, if `old` is queued and has not started going out
    /// (not partly written, not among the first `kept`, which a send in flight reads); false
    /// otherwise. Frames are shared per publish, so the identity names one push. Searched from
    /// the back, where the last push is; off the plain delivery path, whose `append` stays
    /// as small as it was (numbering the frames there cost 56 instructions per delivery).
    mutating func replace(_ old: EncodedFrame, with frame: EncodedFrame, keepingFirst kept: Int = 0) -> Bool {
        guard let current = head else { return false }
        // Backlog entry b is frame number b - backlogStart + 1 (the head is number 0).
        var index = backlog.count - 1
        let first = backlogStart + max(0, kept - 1)
        while index >= first {
            if backlog[index] === old {
                byteCount += frame.count - old.count
                backlog[index] = frame
                return true
            }
            index -= 1
        }
        guard kept == 0, headOffset == 0, current === old else { return false }
        byteCount += frame.count - current.count
        head = frame
        return true
    }

    /// Fills `iovecs` with up to `capacity` pending byte ranges and at most `budget` bytes;
    /// returns how many entries were filled.
    func gather(into iovecs: UnsafeMutablePointer<IOVector>, capacity: Int, budget: Int) -> Int {
        gatherFrames(into: iovecs, capacity: capacity, budget: budget).entries
    }

    /// `gather`, also saying how many frames, from the head on, the entries reach into.
    func gatherFrames(into iovecs: UnsafeMutablePointer<IOVector>, capacity: Int, budget: Int) -> (entries: Int, frames: Int) {
        guard let head else { return (0, 0) }
        var filled = 0
        var total = 0
        var frames = 0
        func add(_ pointer: UnsafeRawPointer, _ length: Int) -> Bool {
            guard filled < capacity, total < budget, length > 0 else {
                if length == 0 { frames += 1 }
                return length == 0
            }
            iovecs[filled] = IOVector(base: pointer, length: length)
            filled += 1
            total += length
            frames += 1
            return true
        }
        _ = add(head.storage.baseAddress! + headOffset, head.count - headOffset)
        var index = backlogStart
        while index < backlog.count, add(backlog[index].storage.baseAddress!, backlog[index].count) {
            index += 1
        }
        return (filled, frames)
    }

    /// Drops `written` bytes from the front.
    mutating func consume(_ written: Int) {
        var remaining = written
        while remaining > 0, let current = head {
            let left = current.count - headOffset
            if remaining < left {
                headOffset += remaining
                byteCount -= remaining
                return
            }
            remaining -= left
            byteCount -= left
            frameCount -= 1
            advanceHead()
        }
        // A zero-length frame at the head counts as written too.
        while let current = head, current.count == headOffset {
            frameCount -= 1
            advanceHead()
        }
    }

    /// Drops every frame not yet partly written; the head stays if it is half-sent, so the
    /// stream still ends on a frame boundary. The first `kept` frames stay too: a send in
    /// flight reads them, and may have written any part of them.
    mutating func removeUnstarted(keepingFirst kept: Int = 0) {
        guard let current = head else { return }
        let keep = max(kept, headOffset > 0 ? 1 : 0)
        if keep == 0 {
            removeAll()
            return
        }
        let retained = Array(backlog[backlogStart..<min(backlog.count, backlogStart + keep - 1)])
        backlog = retained
        backlogStart = 0
        frameCount = 1 + retained.count
        byteCount = current.count - headOffset + retained.reduce(0) { $0 + $1.count }
    }

    mutating func removeAll() {
        head = nil
        headOffset = 0
        backlog = []
        backlogStart = 0
        frameCount = 0
        byteCount = 0
    }

    private mutating func advanceHead() {
        headOffset = 0
        if backlogStart < backlog.count {
            head = backlog[backlogStart]
            backlogStart += 1
            if backlogStart == backlog.count {
                backlog = []  // Release the spill array: an idle socket owns no buffer.
                backlogStart = 0
            } else if backlogStart >= 1024 && backlogStart * 2 >= backlog.count {
                backlog.removeFirst(backlogStart)
                backlogStart = 0
            }
        } else {
            head = nil
        }
    }
}

/// A pointer and length, laid out like `struct iovec`.
struct IOVector {
    var base: UnsafeRawPointer
    var length: Int
}
