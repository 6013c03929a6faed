import Testing
import NNKernels
@testable import NNKernelsGeneric

/// sgemm against a straightforward Double-precision triple loop.
@Suite struct GEMMTests {
    /// A deterministic pseudo-random sequence in -1...1.
    func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(Double(s % 2_000_001) / 1_000_000 - 1)
        }
    }

    /// Multiplies with sgemm and with the reference, and compares every element of C, including
    /// the padding columns past n that sgemm must leave untouched.
    func check(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float,
               pad: Int, seed: UInt64) {
        let lda = (transposeA ? m : k) + pad, ldb = (transposeB ? k : n) + pad, ldc = n + pad
        let a = values((transposeA ? k : m) * lda, seed: seed)         // (m, lda) or (k, lda)
        let b = values((transposeB ? n : k) * ldb, seed: seed + 1)     // (k, ldb) or (n, ldb)
        let c0 = values(m * ldc, seed: seed + 2)                       // (m, ldc)
        var c = c0
        Kernels.active.sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
              a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: &c, ldc: ldc)
        for i in 0..<m {
            for j in 0..<ldc {
                let got = Double(c[i * ldc + j])
                guard j < n else {
                    #expect(c[i * ldc + j] == c0[i * ldc + j], "padding C[\(i)][\(j)] changed")
                    continue
                }
                var sum = 0.0
                for p in 0..<k {
                    let av = transposeA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                    sum += Double(av) * Double(bv)
                }
                let expected = Double(alpha) * sum + Double(beta) * Double(c0[i * ldc + j])
                let tolerance = 1e-5 * Double(max(k, 1)).squareRoot() * max(1, abs(expected)) * 4
                #expect(abs(got - expected) <= tolerance,
                        "C[\(i)][\(j)] = \(got), expected \(expected) (tA \(transposeA) tB \(transposeB) m \(m) n \(n) k \(k))")
            }
        }
    }

    @Test(arguments: [(1, 1, 1), (6, 8, 4), (7, 9, 5), (13, 17, 3), (10, 100, 78), (20, 57, 25),
                      (121, 33, 300), (5, 1030, 7), (2, 3, 600)])
    func allTransposeCombinations(m: Int, n: Int, k: Int) {
        for tA in [false, true] {
            for tB in [false, true] {
                check(transposeA: tA, transposeB: tB, m: m, n: n, k: k, alpha: 1, beta: 0, pad: 0,
                      seed: UInt64(m * 31 + n * 7 + k))
            }
        }
    }

    @Test func alphaBetaAndLeadingDimensions() {
        for (alpha, beta) in [(Float(1), Float(1)), (0.5, -2), (-1.5, 0), (2, 0.25)] {
            for tA in [false, true] {
                for tB in [false, true] {
                    check(transposeA: tA, transposeB: tB, m: 11, n: 19, k: 23, alpha: alpha, beta: beta,
                          pad: 5, seed: 99)
                    check(transposeA: tA, transposeB: tB, m: 127, n: 9, k: 261, alpha: alpha, beta: beta,
                          pad: 3, seed: 7)
                }
            }
        }
    }

    @Test func betaZeroIgnoresGarbageAndAlphaZeroOnlyScales() {
        let a = values(6, seed: 1), b = values(6, seed: 2)
        var c = [Float](repeating: .nan, count: 4)                    // (2, 2), never read
        Kernels.active.sgemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 3, alpha: 1,
              a: a, lda: 3, b: b, ldb: 2, beta: 0, c: &c, ldc: 2)
        #expect(c.allSatisfy { !$0.isNaN })
        var d: [Float] = [1, 2, 3, 4]
        Kernels.active.sgemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 3, alpha: 0,
              a: a, lda: 3, b: b, ldb: 2, beta: 3, c: &d, ldc: 2)
        #expect(d == [3, 6, 9, 12])
        var e: [Float] = [1, 2, 3, 4]
        Kernels.active.sgemm(transposeA: false, transposeB: false, m: 2, n: 2, k: 0, alpha: 1,
              a: a, lda: 3, b: b, ldb: 2, beta: 1, c: &e, ldc: 2)
        #expect(e == [1, 2, 3, 4])
    }

    @Test func exactOnSmallIntegersAndDeterministic() {
        // Products and sums of small integers are exact in Float, so any order must give the exact
        // answer; and repeated calls must agree bit for bit on general data.
        let m = 9, n = 21, k = 520
        let a = (0..<(m * k)).map { Float($0 % 5) - 2 }, b = (0..<(k * n)).map { Float($0 % 3) - 1 }
        var c = [Float](repeating: 0, count: m * n)
        Kernels.active.sgemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1,
              a: a, lda: k, b: b, ldb: n, beta: 0, c: &c, ldc: n)
        for i in 0..<m {
            for j in 0..<n {
                var s: Float = 0
                for p in 0..<k { s += a[i * k + p] * b[p * n + j] }
                #expect(c[i * n + j] == s)
            }
        }
        let x = values(37 * 300, seed: 5), y = values(300 * 45, seed: 6)
        var first = [Float](repeating: 0, count: 37 * 45), second = first
        Kernels.active.sgemm(transposeA: false, transposeB: true, m: 37, n: 45, k: 300, alpha: 1,
              a: x, lda: 300, b: y, ldb: 300, beta: 0, c: &first, ldc: 45)
        Kernels.active.sgemm(transposeA: false, transposeB: true, m: 37, n: 45, k: 300, alpha: 1,
              a: x, lda: 300, b: y, ldb: 300, beta: 0, c: &second, ldc: 45)
        #expect(first == second)
    }
}

/// sgemm with B packed once (a runtime's constant weights) against sgemm packing per call.
@Suite struct PackedGEMMTests {
    func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(Double(s % 2_000_001) / 1_000_000 - 1)
        }
    }

    @Test(arguments: [(1, 1, 1), (1, 100, 784), (7, 30, 784), (100, 10, 100), (13, 1030, 300),
                      (6, 8, 256), (5, 17, 257), (30, 1000, 640), (1, 70, 33), (1, 130, 300), (1, 16, 5)])
    func packedBEqualsSgemmBitForBit(m: Int, n: Int, k: Int) {
        for kernels in Kernels.available {
            for transposed in [false, true] {
                let a = values(m * k, seed: 1)
                let b = values(k * n, seed: 2)             // (k, n), or (n, k) when transposed
                let c0 = values(m * n, seed: 3)
                var expected = c0, got = c0
                kernels.sgemm(transposeA: false, transposeB: transposed, m: m, n: n, k: k, alpha: 0.5, a: a, lda: k,
                              b: b, ldb: transposed ? k : n, beta: 1, c: &expected, ldc: n)
                var packed = [Float](repeating: .nan, count: kernels.packedBCount(k: k, n: n))
                kernels.packGEMMB(transposed: transposed, b: b, ldb: transposed ? k : n, k: k, n: n, into: &packed)
                var scratch = [Float](repeating: .nan, count: kernels.gemmScratchCount(m: m, k: k))
                kernels.sgemmPackedB(m: m, n: n, k: k, alpha: 0.5, a: a, lda: k, packedB: packed, beta: 1,
                                     c: &got, ldc: n, scratch: &scratch)
                #expect(got == expected, "\(kernels.name) m \(m) n \(n) k \(k) transposed \(transposed)")
            }
        }
    }
}
