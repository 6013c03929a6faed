import Foundation
import Testing
import NNKernels
@testable import NNKernelsGeneric

/// The kernels against straightforward Double-precision loops.
@Suite struct KernelTests {
    /// A deterministic pseudo-random sequence in -1...1.
    func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(Double(s % 2_000_001) / 1_000_000 - 1)
        }
    }

    @Test(arguments: [(1, 1, 1), (3, 7, 5), (10, 784, 30), (5, 30, 10), (9, 17, 33)])
    func denseForwardMatchesReference(batch: Int, inFeatures: Int, outFeatures: Int) {
        let x = values(batch * inFeatures, seed: 1), w = values(outFeatures * inFeatures, seed: 2), b = values(outFeatures, seed: 3)
        var out = [Float](repeating: .nan, count: batch * outFeatures)
        Kernels.active.denseForward(input: x, batch: batch, inFeatures: inFeatures, weights: w, bias: b, outFeatures: outFeatures, output: &out)
        for r in 0..<batch {
            for j in 0..<outFeatures {
                var z = Double(b[j])
                for k in 0..<inFeatures { z += Double(w[j * inFeatures + k]) * Double(x[r * inFeatures + k]) }
                #expect(abs(Double(out[r * outFeatures + j]) - z) <= 1e-4 * max(1, abs(z)))
            }
        }
    }

    @Test(arguments: [(1, 1, 1), (4, 9, 3), (10, 784, 30), (7, 30, 10), (8, 13, 9), (23, 100, 17)])
    func denseBackwardMatchesReference(batch: Int, inFeatures: Int, outFeatures: Int) {
        let x = values(batch * inFeatures, seed: 4), w = values(outFeatures * inFeatures, seed: 5)
        let delta = values(batch * outFeatures, seed: 6)
        var nablaW = [Float](repeating: 1, count: outFeatures * inFeatures)   // accumulates onto 1
        var nablaB = [Float](repeating: 1, count: outFeatures)
        var inputDelta = [Float](repeating: .nan, count: batch * inFeatures)
        Kernels.active.denseBackward(input: x, batch: batch, inFeatures: inFeatures, weights: w, outFeatures: outFeatures,
                      delta: delta, nablaW: &nablaW, nablaB: &nablaB, inputDelta: &inputDelta)
        for j in 0..<outFeatures {
            var gb = 1.0
            for r in 0..<batch { gb += Double(delta[r * outFeatures + j]) }
            #expect(abs(Double(nablaB[j]) - gb) <= 1e-4)
            for k in 0..<inFeatures {
                var g = 1.0
                for r in 0..<batch { g += Double(delta[r * outFeatures + j]) * Double(x[r * inFeatures + k]) }
                #expect(abs(Double(nablaW[j * inFeatures + k]) - g) <= 1e-4 * max(1, abs(g)))
            }
        }
        for r in 0..<batch {
            for k in 0..<inFeatures {
                var d = 0.0
                for j in 0..<outFeatures { d += Double(delta[r * outFeatures + j]) * Double(w[j * inFeatures + k]) }
                #expect(abs(Double(inputDelta[r * inFeatures + k]) - d) <= 1e-4 * max(1, abs(d)))
            }
        }
    }

    /// The fused SGD step of a dense layer, in every build this CPU runs: the tiled loop (up to 32
    /// rows, with full and partial 4-row tiles and column tails) and the sgemm path (33 rows on).
    @Test(arguments: [(1, 1, 1), (10, 784, 30), (5, 30, 10), (10, 100, 1000), (7, 37, 6), (32, 17, 5), (33, 50, 9), (0, 5, 3)])
    func denseUpdateMatchesReference(batch: Int, inFeatures: Int, outFeatures: Int) {
        let x = values(batch * inFeatures, seed: 13), delta = values(batch * outFeatures, seed: 14)
        let w0 = values(outFeatures * inFeatures, seed: 15), b0 = values(outFeatures, seed: 16)
        let decay: Float = 0.999, step: Float = 0.05
        for kernels in Kernels.available {
            var w = w0, b = b0
            kernels.denseUpdate(input: x, batch: batch, inFeatures: inFeatures, delta: delta, outFeatures: outFeatures,
                                deltaStride: outFeatures, weights: &w, bias: &b, decay: decay, step: step)
            var worst = 0.0
            for j in 0..<outFeatures {
                var gb = 0.0
                for r in 0..<batch { gb += Double(delta[r * outFeatures + j]) }
                worst = max(worst, abs(Double(b[j]) - (Double(b0[j]) - Double(step) * gb)))
                for k in 0..<inFeatures {
                    var g = 0.0
                    for r in 0..<batch { g += Double(delta[r * outFeatures + j]) * Double(x[r * inFeatures + k]) }
                    let expected = Double(decay) * Double(w0[j * inFeatures + k]) - Double(step) * g
                    worst = max(worst, abs(Double(w[j * inFeatures + k]) - expected))
                }
            }
            #expect(worst <= 1e-5, "\(kernels.name): worst error \(worst)")
            // Deterministic: the same call again gives the same bits.
            var w2 = w0, b2 = b0
            kernels.denseUpdate(input: x, batch: batch, inFeatures: inFeatures, delta: delta, outFeatures: outFeatures,
                                deltaStride: outFeatures, weights: &w2, bias: &b2, decay: decay, step: step)
            #expect(w2 == w && b2 == b)
        }
    }

    /// The trainer splits a layer's update across threads by blocks of output rows (delta's rows
    /// `deltaStride` apart): any split gives the whole call's bits, on the tiled and sgemm paths.
    @Test(arguments: [(10, 100, 1000, [0, 500, 1000]), (10, 37, 10, [0, 4, 10]), (5, 30, 13, [0, 1, 6, 7, 13]),
                      (40, 50, 19, [0, 8, 19]), (33, 9, 7, [0, 3, 5, 7])])
    func denseUpdateInRowBlocksEqualsWhole(batch: Int, inFeatures: Int, outFeatures: Int, cuts: [Int]) {
        let x = values(batch * inFeatures, seed: 23), delta = values(batch * outFeatures, seed: 24)
        let w0 = values(outFeatures * inFeatures, seed: 25), b0 = values(outFeatures, seed: 26)
        for kernels in Kernels.available {
            var whole = w0, wholeBias = b0
            kernels.denseUpdate(input: x, batch: batch, inFeatures: inFeatures, delta: delta, outFeatures: outFeatures,
                                deltaStride: outFeatures, weights: &whole, bias: &wholeBias, decay: 0.99, step: 0.1)
            var w = w0, b = b0
            w.withUnsafeMutableBufferPointer { w in
                b.withUnsafeMutableBufferPointer { b in
                    delta.withUnsafeBufferPointer { d in
                        for (j0, j1) in zip(cuts, cuts.dropFirst()) {
                            kernels.denseUpdate(input: x, batch: batch, inFeatures: inFeatures, delta: d.baseAddress! + j0,
                                                outFeatures: j1 - j0, deltaStride: outFeatures,
                                                weights: w.baseAddress! + j0 * inFeatures, bias: b.baseAddress! + j0,
                                                decay: 0.99, step: 0.1)
                        }
                    }
                }
            }
            #expect(w == whole && b == wholeBias, "\(kernels.name): \(cuts)")
            #expect(w != w0)
        }
    }

    /// `denseInputDelta` is `denseBackward`'s inputDelta, bit for bit, on both of its paths.
    @Test(arguments: [(1, 9, 4), (5, 100, 30), (10, 784, 30), (0, 3, 3), (3, 4, 0)])
    func denseInputDeltaEqualsDenseBackwards(batch: Int, inFeatures: Int, outFeatures: Int) {
        let x = values(batch * inFeatures, seed: 17), w = values(outFeatures * inFeatures, seed: 18)
        var delta = values(batch * outFeatures, seed: 19)
        for i in stride(from: 0, to: delta.count, by: 3) { delta[i] = 0 }    // as after ReLU or dropout
        for kernels in Kernels.available {
            var nablaW = [Float](repeating: 0, count: outFeatures * inFeatures)
            var nablaB = [Float](repeating: 0, count: outFeatures)
            var expected = [Float](repeating: .nan, count: batch * inFeatures)
            kernels.denseBackward(input: x, batch: batch, inFeatures: inFeatures, weights: w, outFeatures: outFeatures,
                                  delta: delta, nablaW: &nablaW, nablaB: &nablaB, inputDelta: &expected)
            var got = [Float](repeating: .nan, count: batch * inFeatures)
            kernels.denseInputDelta(batch: batch, inFeatures: inFeatures, weights: w, outFeatures: outFeatures,
                                    delta: delta, inputDelta: &got)
            #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "\(kernels.name)")
        }
    }

    @Test func dotIsDeterministicAndExactOnSmallIntegers() {
        for n in [0, 1, 7, 8, 15, 16, 17, 33, 784] {
            let a = (0..<n).map { Float($0 % 5) }, b = (0..<n).map { Float($0 % 3) }
            let expected = zip(a, b).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            #expect(dot(a, b, n) == expected)
        }
    }

    /// Every output of `denseForward`, in every build, is bias + `dot` bit for bit, over the
    /// tiles' shapes (1-5 rows x 1-2 weight rows), odd and even chunk counts and column tails.
    @Test(arguments: [0, 1, 7, 8, 15, 16, 17, 24, 33, 100, 784, 1000])
    func denseForwardIsBiasPlusDotBitForBit(inFeatures n: Int) {
        for (batch, outFeatures) in [(1, 1), (2, 3), (5, 2), (6, 5), (10, 4), (11, 7)] {
            let x = values(batch * n, seed: 7), w = values(outFeatures * n, seed: 8), b = values(outFeatures, seed: 9)
            for kernels in Kernels.available {
                var out = [Float](repeating: .nan, count: batch * outFeatures)
                kernels.denseForward(input: x, batch: batch, inFeatures: n, weights: w, bias: b, outFeatures: outFeatures,
                                     output: &out)
                var expected = [Float](repeating: .nan, count: batch * outFeatures)
                for r in 0..<batch {
                    for j in 0..<outFeatures {
                        let row = Array(x[(r * n)..<((r + 1) * n)]), wj = Array(w[(j * n)..<((j + 1) * n)])
                        expected[r * outFeatures + j] = b[j] + dot(row, wj, n)
                    }
                }
                #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "\(kernels.name): \(batch)x\(n) -> \(outFeatures)")
            }
        }
    }

    /// A row's output does not depend on the batch it is in (the runtime, the CLI and the bindings
    /// may batch differently and must still agree exactly).
    @Test func denseForwardRowsDoNotDependOnTheBatch() {
        let (batch, inFeatures, outFeatures) = (7, 50, 13)
        let x = values(batch * inFeatures, seed: 10), w = values(outFeatures * inFeatures, seed: 11)
        let b = values(outFeatures, seed: 12)
        var all = [Float](repeating: .nan, count: batch * outFeatures)
        Kernels.active.denseForward(input: x, batch: batch, inFeatures: inFeatures, weights: w, bias: b, outFeatures: outFeatures, output: &all)
        for r in 0..<batch {
            var one = [Float](repeating: .nan, count: outFeatures)
            Kernels.active.denseForward(input: Array(x[(r * inFeatures)..<((r + 1) * inFeatures)]), batch: 1, inFeatures: inFeatures,
                         weights: w, bias: b, outFeatures: outFeatures, output: &one)
            #expect(one == Array(all[(r * outFeatures)..<((r + 1) * outFeatures)]))
        }
    }

    @Test func activations() {
        var z: [Float] = [-100, -1, 0, 1, 100]
        Kernels.active.activationForward(.sigmoid, &z, rows: 1, width: 5)
        #expect(z[0] >= 0 && z[0] < 1e-30)
        #expect(abs(z[1] - 0.268_941_4) < 1e-6)
        #expect(z[2] == 0.5)
        #expect(z[4] == 1)
        var s: [Float] = [1, 2, 3, 1000, 1000, 1000]
        Kernels.active.activationForward(.softmax, &s, rows: 2, width: 3)
        #expect(abs(s[0] + s[1] + s[2] - 1) < 1e-6)
        #expect(abs(s[2] - 0.665_240_9) < 1e-6)
        #expect(abs(s[3] - 1.0 / 3) < 1e-6)   // no overflow for large z
        var r: [Float] = [-2, 0, 3]
        Kernels.active.activationForward(.relu, &r, rows: 1, width: 3)
        #expect(r == [0, 0, 3])
        var t: [Float] = [0, 1]
        Kernels.active.activationForward(.tanh, &t, rows: 1, width: 2)
        #expect(abs(t[1] - 0.761_594_2) < 1e-6)
    }

    @Test func activationDerivatives() {
        let a: [Float] = [0.5, 0.25]
        var d: [Float] = [1, 2]
        #expect(Kernels.active.activationBackward(.sigmoid, activations: a, delta: &d, count: 2))
        #expect(d == [0.25, 2 * 0.25 * 0.75])
        var dr: [Float] = [1, 1]
        Kernels.active.activationBackward(.relu, activations: [0, 2], delta: &dr, count: 2)
        #expect(dr == [0, 1])
        var ds: [Float] = [1]
        #expect(!Kernels.active.activationBackward(.softmax, activations: [1], delta: &ds, count: 1))
    }

    @Test func argmaxTakesSmallestIndexOnTies() {
        #expect(argmax([1, 3, 3, 2], 4) == 1)
        #expect(argmax([.nan, 1, .nan], 3) == 1)
        #expect(argmax([-5], 1) == 0)
    }
}

/// The vectorized exponential behind sigmoid and softmax, against Double-precision exp.
@Suite struct VectorExpTests {
    @Test func exp8IsAccurateOverItsRange() {
        var worst = 0.0
        var x = -87.0
        while x < 88 {
            var v = SIMD8<Float>()
            for j in 0..<8 { v[j] = Float(x + Double(j) * 0.001237) }
            let e = exp8(v)
            for j in 0..<8 {
                let exact = Foundation.exp(Double(v[j]))
                worst = max(worst, abs(Double(e[j]) - exact) / exact)
            }
            x += 0.0731
        }
        // Float's unit roundoff is 6e-8; the polynomial and the two-part reduction stay within 2 ulp.
        #expect(worst < 2.4e-7, "worst relative error \(worst)")
    }

    @Test func sigmoidAndSoftmaxAtTheExtremes() {
        var z: [Float] = [-1000, -100, -20, 0, 20, 100, 1000, 1e-8, -1e-8]
        Kernels.active.activationForward(.sigmoid, &z, rows: 1, width: z.count)
        #expect(z[0] >= 0 && z[0] < 1e-37 && z[1] < 1e-37 && abs(z[2] - 2.0611537e-9) < 1e-15)
        #expect(z[3] == 0.5 && z[4] == 1 && z[5] == 1 && z[6] == 1 && z[7] == 0.5 && z[8] == 0.5)
        var s: [Float] = [1000, 0, -1000, 1000]
        Kernels.active.activationForward(.softmax, &s, rows: 1, width: 4)
        #expect(s == [0.5, 0, 0, 0.5])
    }
}
