// Comparisons whose duration does not depend on where the inputs differ.

/// Constant-time comparison of secrets and signatures.
public enum ConstantTime {
    /// True when both byte sequences are equal. Runs in time that depends only on the lengths,
    /// so an attacker cannot learn a prefix of the secret by timing rejections (the Go worker
    /// uses crypto/subtle for the same reason).
    public static func equals<A: Collection<UInt8>, B: Collection<UInt8>>(_ lhs: A, _ rhs: B) -> Bool {
        // Arrays and buffers take the contiguous path: the generic walk below costs 1.4 us per
        // 40-byte secret through the unspecialised iterator, 10 % of a keep-alive publish.
        let contiguous = lhs.withContiguousStorageIfAvailable { left in
            rhs.withContiguousStorageIfAvailable { right in
                equals(UnsafeRawBufferPointer(left), UnsafeRawBufferPointer(right))
            }
        }
        if let contiguous, let result = contiguous { return result }
        var difference = UInt8(truncatingIfNeeded: lhs.count ^ rhs.count)
        if lhs.count != rhs.count { difference |= 1 }
        // Walk all of `lhs` even when the lengths differ, so that only the length can leak.
        var rightIndex = rhs.startIndex
        for byte in lhs {
            if rightIndex != rhs.endIndex {
                difference |= byte ^ rhs[rightIndex]
                rightIndex = rhs.index(after: rightIndex)
            } else {
                difference |= byte ^ 0xFF
            }
        }
        return difference == 0
    }

    /// The same rule over raw bytes.
    public static func equals(_ lhs: UnsafeRawBufferPointer, _ rhs: UnsafeRawBufferPointer) -> Bool {
        var difference: UInt8 = lhs.count == rhs.count ? 0 : 1
        for index in 0..<lhs.count {
            difference |= lhs[index] ^ (index < rhs.count ? rhs[index] : ~lhs[index])
        }
        return difference == 0
    }
}
