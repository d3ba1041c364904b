// A binary min-heap of (expiry, key): token expiry costs nothing per idle connection per tick.

/// Min-heap ordered by expiry. Removal is lazy: the owner skips entries it no longer knows.
@usableFromInline
struct ExpiryHeap<Key> {
    @usableFromInline var storage: [(key: Key, expires: UnixTime)] = []

    @inlinable init() {}

    @inlinable var isEmpty: Bool { storage.isEmpty }
    @inlinable var count: Int { storage.count }

    @inlinable mutating func insert(_ key: Key, at expires: UnixTime) {
        storage.append((key, expires))
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child].expires < storage[parent].expires else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    @inlinable func peek() -> (Key, UnixTime)? {
        storage.first.map { ($0.key, $0.expires) }
    }

    @inlinable mutating func pop() {
        guard !storage.isEmpty else { return }
        storage.swapAt(0, storage.count - 1)
        storage.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < storage.count, storage[left].expires < storage[smallest].expires { smallest = left }
            if right < storage.count, storage[right].expires < storage[smallest].expires { smallest = right }
            guard smallest != parent else { return }
            storage.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
