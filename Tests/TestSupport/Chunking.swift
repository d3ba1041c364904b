// The decoder-verifier discipline (docs/development.md "Codecs are fed every chunking"): every
// codec is fed whole, byte by byte, and in seeded random chunkings, each chunk placed between
// guard bytes.

/// One way of cutting a byte string into chunks; `description` names it and its seed for replay.
public struct ChunkPlan: CustomStringConvertible, Sendable {
    public let description: String
    /// Chunk end offsets, ascending, the last equal to the input length.
    public let ends: [Int]

    public init(description: String, ends: [Int]) {
        self.description = description
        self.ends = ends
    }

    /// The whole input in one piece.
    public static func whole(_ length: Int) -> ChunkPlan { ChunkPlan(description: "whole", ends: [length]) }

    /// The chunks of `bytes` under this plan.
    public func chunks(of bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var start = 0
        return ends.map { end in
            defer { start = end }
            return bytes[start..<end]
        }
    }
}

public enum ChunkPlans {
    /// Whole, byte by byte, and `randomCount` random cuttings seeded from `seed`.
    public static func all(length: Int, randomCount: Int = 200, seed: UInt64 = 0x5EED_CAFE) -> [ChunkPlan] {
        var plans = [
            ChunkPlan(description: "whole", ends: [length]),
            ChunkPlan(description: "byte by byte", ends: length == 0 ? [0] : Array(1...length)),
        ]
        var generator = SeededGenerator(seed: seed)
        for round in 0..<randomCount {
            var ends: [Int] = []
            var position = 0
            while position < length {
                // Mostly small chunks, sometimes large ones, so boundaries land everywhere.
                let limit = generator.next() % 4 == 0 ? max(1, length / 2) : 8
                position = min(length, position + 1 + Int(generator.next() % UInt64(limit)))
                ends.append(position)
            }
            if ends.isEmpty { ends = [0] }
            plans.append(ChunkPlan(description: "random #\(round) (seed \(seed), cuts \(ends))", ends: ends))
        }
        return plans
    }
}

/// Calls `body` with `bytes` placed between guard bytes, so a read past either end hits a guard
/// (and, in debug builds, the buffer's bounds check).
public func withGuardBytes<R>(_ bytes: some Collection<UInt8>, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    let guardBytes = [UInt8](repeating: 0xA5, count: 16)
    let framed = guardBytes + Array(bytes) + guardBytes
    return try framed.withUnsafeBytes { all in
        try body(UnsafeRawBufferPointer(rebasing: all[16..<(16 + bytes.count)]))
    }
}

/// A small deterministic generator (SplitMix64), so failures replay from the printed seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
