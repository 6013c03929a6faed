// Seedable, deterministic randomness for the trainer. network.py and network2.py draw from numpy's
// global generator; here every random choice (initial weights, the shuffle before each epoch)
// comes from one explicit generator, so a run is reproducible bit for bit from its seed.
//
// No Foundation or system randomness: the same seed gives the same stream on every machine.

/// xoshiro256** (Blackman & Vigna), seeded through SplitMix64 so that any 64-bit seed,
/// including 0, gives a well-mixed, non-zero state.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var s0: UInt64
    private var s1: UInt64
    private var s2: UInt64
    private var s3: UInt64
    /// The second Box–Muller value, kept for the next call to `nextStandardNormal()`.
    private var spareNormal: Double?

    /// The seed this generator was created from.
    public let seed: UInt64

    /// A generator whose whole stream is determined by `seed`.
    public init(seed: UInt64) {
        self.seed = seed
        var sm = seed
        s0 = SeededGenerator.splitMix64(&sm)
        s1 = SeededGenerator.splitMix64(&sm)
        s2 = SeededGenerator.splitMix64(&sm)
        s3 = SeededGenerator.splitMix64(&sm)
        spareNormal = nil
    }

    /// The complete state as seven words, for checkpoints: the seed, xoshiro's four words, and
    /// the spare Box–Muller value (a 0/1 presence word, then its bit pattern).
    /// `init(state:)` restores it exactly, on any machine.
    public var state: [UInt64] {
        [seed, s0, s1, s2, s3, spareNormal == nil ? 0 : 1, spareNormal?.bitPattern ?? 0]
    }

    /// Restores a generator saved with `state`; nil if `state` is not such a value (wrong length,
    /// a presence word other than 0 or 1, or xoshiro's forbidden all-zero state).
    public init?(state: [UInt64]) {
        guard state.count == 7, state[5] <= 1, state[1] | state[2] | state[3] | state[4] != 0 else { return nil }
        seed = state[0]
        s0 = state[1]
        s1 = state[2]
        s2 = state[3]
        s3 = state[4]
        spareNormal = state[5] == 1 ? Double(bitPattern: state[6]) : nil
    }

    /// SplitMix64: advances `state` and returns the next output.
    @inlinable
    static func splitMix64(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 &- k))
    }

    /// The next 64 random bits (xoshiro256**).
    public mutating func next() -> UInt64 {
        let result = SeededGenerator.rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = SeededGenerator.rotl(s3, 45)
        return result
    }

    /// Uniform in [0, 1), with 53 random bits.
    public mutating func nextUniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform integer in 0..<bound (bound > 0), without modulo bias (Lemire's method with
    /// rejection), so the result depends only on the stream, never on the platform.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound")
        let b = UInt64(bound)
        var m = next().multipliedFullWidth(by: b)
        if m.low < b {
            let threshold = (0 &- b) % b
            while m.low < threshold {
                m = next().multipliedFullWidth(by: b)
            }
        }
        return Int(m.high)
    }

    /// A draw from the standard normal distribution N(0, 1), by the Box–Muller transform. Values
    /// come in pairs; the second of each pair is returned by the next call.
    public mutating func nextStandardNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        // u1 in (0, 1] so that log(u1) is finite.
        let u1 = 1.0 - nextUniform()
        let u2 = nextUniform()
        let r = (-2.0 * _log(u1)).squareRoot()
        let theta = 2.0 * Double.pi * u2
        spareNormal = r * _sin(theta)
        return r * _cos(theta)
    }

    /// Shuffles `array` in place (Fisher–Yates, from the back), deterministically.
    public mutating func shuffle<T>(_ array: inout [T]) {
        var i = array.count - 1
        while i > 0 {
            let j = nextInt(below: i + 1)
            if i != j { array.swapAt(i, j) }
            i -= 1
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always) private func _log(_ x: Double) -> Double { log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { cos(x) }
