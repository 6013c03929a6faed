import Testing
import NNKernels

/// The zero-skipping product against `sgemmPackedB` (alpha 1, beta 1), bit for bit, on inputs
/// with the zeros of handwritten digits and the values that could trip it up.
@Suite struct SparseGEMMTests {
    /// xorshift64 in 0..<2^64.
    struct Source {
        var s: UInt64
        mutating func next() -> UInt64 { s ^= s << 13; s ^= s >> 7; s ^= s << 17; return s }
        mutating func float() -> Float { Float(Double(next() % 2_000_001) / 1_000_000 - 1) }
    }

    /// m rows of k values (row stride lda; the padding holds values that must not be read as
    /// inputs): row r is all zeros if r % 5 == 1, fully nonzero if r % 5 == 2 (a lone row like
    /// it runs densely, block by block), else a blank page with a blob of nonzeros in the middle
    /// third (two thirds of it nonzero: a KC block inside it runs densely) and a few strays; some entries are -0, NaN,
    /// ±infinity or subnormal when `specials`.
    func inputs(m: Int, k: Int, lda: Int, specials: Bool, seed: UInt64) -> [Float] {
        var rng = Source(s: seed | 1)
        var a = [Float](repeating: 7, count: m * lda)
        for r in 0..<m {
            for p in 0..<k {
                let v: Float
                switch r % 5 {
                case 1: v = rng.next() % 7 == 0 ? -0.0 : 0
                case 2: v = rng.float() == 0 ? 0.5 : rng.float()
                default:
                    let inBlob = p >= k / 3 && p < 2 * k / 3 && rng.next() % 3 != 0
                    v = inBlob || rng.next() % 29 == 0 ? rng.float() : (rng.next() % 11 == 0 ? -0.0 : 0)
                }
                a[r * lda + p] = v
            }
            if specials, k > 3, r % 5 != 1 {
                let specialValues: [Float] = [.nan, .infinity, -.infinity, .leastNonzeroMagnitude, -0.0]
                a[r * lda + Int(rng.next() % UInt64(k))] = specialValues[r % specialValues.count]
            }
        }
        return a
    }

    @Test(arguments: [(1, 1, 1), (1, 100, 784), (1, 30, 784), (5, 100, 784), (6, 30, 784), (7, 10, 100),
                      (12, 100, 784), (13, 17, 257), (6, 16, 256), (8, 130, 9), (19, 1, 8), (6, 64, 7),
                      (3, 1000, 640), (7, 1030, 300), (7, 8, 784), (10, 8, 784), (1, 10, 784),
                      (4, 30, 784), (9, 16, 300), (3, 30, 784), (3, 100, 30)])
    func equalsThePackedProductBitForBit(m: Int, n: Int, k: Int) {
        for kernels in Kernels.available {
            for specials in [false, true] {
                let lda = k + 3
                let a = inputs(m: m, k: k, lda: lda, specials: specials, seed: UInt64(m * 1_000_003 + n * 1009 + k))
                var rng = Source(s: 99)
                let b = (0..<(k * n)).map { _ in rng.float() }                // (k, n)
                let c0 = (0..<(m * n)).map { _ in rng.float() }               // the biases, say
                var packed = [Float](repeating: .nan, count: kernels.packedBCount(k: k, n: n))
                kernels.packGEMMB(transposed: false, b: b, ldb: n, k: k, n: n, into: &packed)
                var scratch = [Float](repeating: .nan, count: kernels.gemmScratchCount(m: m, k: k))
                var expected = c0, got = c0
                kernels.sgemmPackedB(m: m, n: n, k: k, alpha: 1, a: a, lda: lda, packedB: packed, beta: 1,
                                     c: &expected, ldc: n, scratch: &scratch)
                scratch = [Float](repeating: .nan, count: scratch.count)
                kernels.sgemmPackedBSparseA(m: m, n: n, k: k, a: a, lda: lda, packedB: packed,
                                            c: &got, ldc: n, scratch: &scratch)
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern),
                        "\(kernels.name) m \(m) n \(n) k \(k) specials \(specials)")
            }
        }
    }

    /// Both products on ranges of columns (threads splitting one row's product): each range's
    /// elements equal the whole product's bit for bit, the other columns keep their bits, and a
    /// range that does not start on a micro-panel or leaves 0..<n changes nothing.
    @Test(arguments: [(1, 100, 640), (1, 30, 784), (2, 100, 784), (7, 130, 300), (6, 16, 256), (1, 1000, 64)])
    func columnRangesEqualTheWholeProduct(m: Int, n: Int, k: Int) {
        for kernels in Kernels.available {
            let w = kernels.gemmPanelWidth
            let lda = k + 3
            let a = inputs(m: m, k: k, lda: lda, specials: false, seed: UInt64(m * 7 + n * 131 + k))
            var rng = Source(s: 5)
            let b = (0..<(k * n)).map { _ in rng.float() }
            let c0 = (0..<(m * n)).map { _ in rng.float() }
            var packed = [Float](repeating: .nan, count: kernels.packedBCount(k: k, n: n))
            kernels.packGEMMB(transposed: false, b: b, ldb: n, k: k, n: n, into: &packed)
            var scratch = [Float](repeating: .nan, count: kernels.gemmScratchCount(m: m, k: k))
            for sparse in [false, true] {
                func run(_ c: inout [Float], _ columns: Range<Int>) {
                    if sparse {
                        kernels.sgemmPackedBSparseA(m: m, n: n, k: k, a: a, lda: lda, packedB: packed, c: &c, ldc: n,
                                                    scratch: &scratch, columns: columns)
                    } else {
                        kernels.sgemmPackedB(m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, packedB: packed, beta: 0.75,
                                             c: &c, ldc: n, scratch: &scratch, columns: columns)
                    }
                }
                var whole = c0
                run(&whole, 0..<n)
                let panels = (n + w - 1) / w
                // Every range of whole panels (a few of them when there are many).
                let starts = panels <= 8 ? Array(0..<panels) : [0, 1, panels / 2, panels - 1]
                for first in starts {
                    for last in starts where last >= first {
                        let columns = first * w ..< min(n, (last + 1) * w)
                        var got = c0
                        run(&got, columns)
                        var expected = c0
                        for r in 0..<m { for j in columns { expected[r * n + j] = whole[r * n + j] } }
                        #expect(got.map(\.bitPattern) == expected.map(\.bitPattern),
                                "\(kernels.name) sparse \(sparse) m \(m) n \(n) k \(k) columns \(columns)")
                    }
                }
                for columns in [1..<n, 0..<(n + 1), -w..<n, 0..<0] {
                    var got = c0
                    run(&got, columns)
                    #expect(got.map(\.bitPattern) == c0.map(\.bitPattern),
                            "\(kernels.name) sparse \(sparse) refused range \(columns) changed C")
                }
            }
        }
    }

    @Test func zeroSkippingPaysOnBlankPagesOnly() {
        for kernels in Kernels.available {
            func pays(_ m: Int, _ a: [Float]) -> Bool { kernels.zeroSkippingPays(m: m, n: 100, k: 784, a: a, lda: 784) }
            let k = 784
            let blank = [Float](repeating: 0, count: 6 * k)
            #expect(pays(6, blank))
            #expect(pays(1, blank))
            // Half the depths nonzero in some row of the first six pays; one more does not.
            var half = blank
            for p in 0..<(k / 2) { half[(p % 6) * k + 2 * p] = 0.25 }
            #expect(pays(6, half))
            half[1] = -1
            #expect(!pays(6, half))
            // A NaN is not a zero; -0 is.
            #expect(pays(6, [Float](repeating: -0.0, count: 6 * k)))
            #expect(!pays(6, [Float](repeating: .nan, count: 6 * k)))
            #expect(!pays(0, blank))
            // One row always takes the sparse product, which runs its dense blocks densely.
            #expect(pays(1, [Float](repeating: 1, count: k)))
            // Two to five rows into a C one micro-panel wide (n = 8 is, in both builds) run as
            // fast dense. A wider C, one row, or six rows, and the sparse product pays.
            func paysNarrow(_ m: Int, _ n: Int) -> Bool { kernels.zeroSkippingPays(m: m, n: n, k: k, a: blank, lda: k) }
            #expect(!paysNarrow(5, 8))
            #expect(!paysNarrow(2, 8))
            #expect(paysNarrow(5, 17))
            #expect(paysNarrow(1, 8))
            #expect(paysNarrow(1, 1))
            #expect(paysNarrow(6, 8))
        }
    }
}
