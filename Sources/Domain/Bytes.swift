// Byte-for-byte string equality, the rule topics and token bindings follow.

enum Bytes {
    /// True when `lhs` and `rhs` hold the same UTF-8 bytes. An indexed loop over contiguous
    /// storage: Sequence.elementsEqual walked iterators at about 30 instructions a byte.
    static func equal(_ lhs: String, _ rhs: String) -> Bool {
        let fast = lhs.utf8.withContiguousStorageIfAvailable { left in
            rhs.utf8.withContiguousStorageIfAvailable { right in equal(left, right) }
        }
        if let fast, let result = fast { return result }
        return lhs.utf8.elementsEqual(rhs.utf8)
    }

    static func equal(_ lhs: UnsafeBufferPointer<UInt8>, _ rhs: UnsafeBufferPointer<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for index in 0..<lhs.count where lhs[index] != rhs[index] { return false }
        return true
    }
}
