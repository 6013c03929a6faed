import CCPUFeatures
import Foundation
import NNKernels
import Testing

/// The choice between builds of the kernels, and the builds' agreement with each other. (The other
/// kernel suites test `Kernels.active`; scripts/test.sh runs them again with NNRT_KERNELS=generic.)
@Suite struct DispatchTests {
    func values(_ n: Int, seed: UInt64) -> [Float] {
        var s = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(Double(s % 2_000_001) / 1_000_000 - 1)
        }
    }

    @Test func availableBuildsFollowTheCPU() {
        let names = Kernels.available.map { $0.name }
        #expect(names.first == "generic")
#if arch(x86_64)
        #expect(names.contains("avx2-fma") == (nnrt_cpu_has_avx2_fma() != 0))
#else
        #expect(names == ["generic"])
#endif
        let requested = ProcessInfo.processInfo.environment["NNRT_KERNELS"]
        if let requested, names.contains(requested) {
            #expect(Kernels.active.name == requested)
        } else {
            #expect(Kernels.active.name == names.last)
        }
        #expect(Kernels.named("no-such-build") == nil)
    }

    /// Every build computes the same products and layers as the generic one, to float rounding;
    /// an AVX2 build that gave bit-identical results everywhere would not be using fused
    /// multiply-adds, i.e. its compiler flags were lost.
    @Test func buildsAgree() {
        let generic = Kernels.available[0]
        for build in Kernels.available.dropFirst() {
            var differs = false
            for (m, n, k) in [(1, 1, 1), (7, 9, 5), (20, 576, 25), (40, 64, 500), (5, 1000, 640), (121, 33, 300)] {
                let a = values(m * k, seed: 1), b = values(k * n, seed: 2)
                var c0 = [Float](repeating: 0, count: m * n), c1 = c0
                generic.sgemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k,
                              b: b, ldb: n, beta: 0, c: &c0, ldc: n)
                build.sgemm(transposeA: false, transposeB: false, m: m, n: n, k: k, alpha: 1, a: a, lda: k,
                            b: b, ldb: n, beta: 0, c: &c1, ldc: n)
                for i in 0..<c0.count {
                    #expect(abs(c0[i] - c1[i]) <= 1e-5 * Float(k).squareRoot() * max(1, abs(c0[i])),
                            "\(build.name) sgemm \(m)x\(n)x\(k) element \(i)")
                    if c0[i] != c1[i] { differs = true }
                }
            }
            #expect(differs, "\(build.name) matches the generic build bit for bit: are its compiler flags applied?")

            // A conv-pool-dense stack as the book's chapter-6 networks use it.
            let (batch, channels, side, maps, window) = (3, 2, 12, 5, 5)
            let input = values(batch * channels * side * side, seed: 3)
            let weights = values(maps * channels * window * window, seed: 4), bias = values(maps, seed: 5)
            let outSide = side - window + 1
            var results: [[Float]] = []
            for kernels in [generic, build] {
                let scratchCount = kernels.conv2dScratchCount(batch: batch, channels: channels, height: side, width: side,
                                                              maps: maps, kernelHeight: window, kernelWidth: window)
                var conv = [Float](repeating: .nan, count: batch * maps * outSide * outSide)
                var scratch = [Float](repeating: .nan, count: scratchCount)
                kernels.conv2dForward(input: input, batch: batch, channels: channels, height: side, width: side,
                                      weights: weights, bias: bias, maps: maps, kernelHeight: window, kernelWidth: window,
                                      output: &conv, scratch: &scratch)
                var pooled = [Float](repeating: .nan, count: batch * maps * (outSide / 2) * (outSide / 2))
                kernels.maxPool2dForward(input: conv, batch: batch, channels: maps, height: outSide, width: outSide,
                                         poolHeight: 2, poolWidth: 2, output: &pooled, argmax: nil)
                kernels.activationForward(.relu, &pooled, rows: batch, width: pooled.count / batch)
                let inFeatures = pooled.count / batch
                let w = values(10 * inFeatures, seed: 6), b = values(10, seed: 7)
                var out = [Float](repeating: .nan, count: batch * 10)
                kernels.denseForward(input: pooled, batch: batch, inFeatures: inFeatures, weights: w, bias: b,
                                     outFeatures: 10, output: &out)
                kernels.activationForward(.softmax, &out, rows: batch, width: 10)
                results.append(out)
            }
            for i in 0..<results[0].count {
                #expect(abs(results[0][i] - results[1][i]) <= 1e-5, "\(build.name) conv stack output \(i)")
            }
        }
    }
}
