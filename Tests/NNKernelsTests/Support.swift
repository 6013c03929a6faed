/// A deterministic pseudo-random sequence of n values in -1...1 (xorshift), the same for a seed
/// on every run and machine.
func uniformValues(_ n: Int, seed: UInt64) -> [Float] {
    var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    return (0..<n).map { _ in
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        return Float(Double(s % 2_000_001) / 1_000_000 - 1)
    }
}
