import Testing
import NNKernels

/// Winograd's F(2x2, 5x5) against the exact convolution (in Double) and against itself split
/// every way the runtime splits it.
@Suite struct WinogradTests {
    func values(_ n: Int, seed: UInt64) -> [Float] { uniformValues(n, seed: seed) }

    struct Shape: CustomTestStringConvertible, Sendable {
        var batch, channels, height, width, maps: Int
        var outHeight: Int { height - 4 }
        var outWidth: Int { width - 4 }
        var inputCount: Int { batch * channels * height * width }
        var outputCount: Int { batch * maps * outHeight * outWidth }
        var testDescription: String { "(\(batch), \(channels), \(height), \(width)) * (\(maps), \(channels), 5, 5)" }
    }

    static let shapes: [Shape] = [
        Shape(batch: 2, channels: 20, height: 12, width: 12, maps: 40),   // the book's second layer: one panel
        Shape(batch: 1, channels: 4, height: 6, width: 6, maps: 1),       // one tile, one short block
        Shape(batch: 2, channels: 7, height: 28, width: 28, maps: 13),    // 144 tiles (9 panels), last block of 1
        Shape(batch: 3, channels: 5, height: 10, width: 14, maps: 7),     // 15 tiles, 5 across (not a multiple of 4)
        Shape(batch: 1, channels: 33, height: 8, width: 20, maps: 6),     // width 20: vectors of 8, then pairs
    ]

    struct Run {
        let kernels: any KernelSet.Type
        let s: Shape
        let input: [Float], bias: [Float]
        let packed: [Float]

        init(_ kernels: any KernelSet.Type, _ s: Shape, input: [Float], weights: [Float], bias: [Float]) {
            (self.kernels, self.s, self.input, self.bias) = (kernels, s, input, bias)
            var packed = [Float](repeating: .nan, count: kernels.winogradWeightsCount(maps: s.maps, channels: s.channels))
            kernels.winogradPackWeights(weights: weights, maps: s.maps, channels: s.channels, into: &packed)
            self.packed = packed
        }

        /// The convolution (or its 2x2 pooling) of examples `examples`, map ranges `maps` written
        /// over `output` (NaN elsewhere unless given), optionally from a shared input transform.
        func forward(_ f: ActivationFunction = .linear, pool: Bool = false, maps: [Range<Int>]? = nil,
                     examples: Range<Int>? = nil, shared: Bool = false) -> [Float] {
            let examples = examples ?? 0..<s.batch
            let perExample = s.maps * s.outHeight * s.outWidth / (pool ? 4 : 1)
            var out = [Float](repeating: .nan, count: examples.count * perExample)
            let scratchCount = kernels.winogradScratchCount(channels: s.channels, height: s.height, width: s.width,
                                                            maps: s.maps)
            var scratch = [Float](repeating: .nan, count: scratchCount)
            var other = [Float](repeating: .nan, count: scratchCount)
            let inSize = s.channels * s.height * s.width
            input.withUnsafeBufferPointer { x in
                let x = x.baseAddress! + examples.lowerBound * inSize
                for range in maps ?? [0..<s.maps] {
                    if shared {
                        for r in 0..<examples.count {
                            // Two threads' way: each transforms half the channels into scratch's
                            // buffer with its own working rows, then computes maps from it.
                            let half = s.channels / 2
                            scratch.withUnsafeMutableBufferPointer { sb in
                                other.withUnsafeMutableBufferPointer { ob in
                                    out.withUnsafeMutableBufferPointer { o in
                                        let t = kernels.winogradTransformed(scratch: sb.baseAddress!)
                                        kernels.winogradTransformInput(input: x + r * inSize, channels: s.channels,
                                                                       height: s.height, width: s.width,
                                                                       channelRange: half..<s.channels, into: t,
                                                                       scratch: ob.baseAddress!)
                                        kernels.winogradTransformInput(input: x + r * inSize, channels: s.channels,
                                                                       height: s.height, width: s.width,
                                                                       channelRange: 0..<half, into: t, scratch: sb.baseAddress!)
                                        kernels.winogradConvForward(input: x + r * inSize, transformed: UnsafePointer(t),
                                                                    batch: 1, channels: s.channels, height: s.height,
                                                                    width: s.width, packedWeights: packed, bias: bias,
                                                                    maps: s.maps, mapRange: range, activation: f, pool2x2: pool,
                                                                    output: o.baseAddress! + r * perExample,
                                                                    scratch: ob.baseAddress!)
                                    }
                                }
                            }
                        }
                    } else {
                        kernels.winogradConvForward(input: x, transformed: nil, batch: examples.count,
                                                    channels: s.channels, height: s.height, width: s.width,
                                                    packedWeights: packed, bias: bias, maps: s.maps, mapRange: range,
                                                    activation: f, pool2x2: pool, output: &out, scratch: &scratch)
                    }
                }
            }
            return out
        }
    }

    /// out[m][y][x] = b[m] + Σ W[m][c][i][j] · in[c][y+i][x+j] in Double, and Σ |W · in| (the
    /// scale of the sum's rounding).
    func reference(_ s: Shape, input: [Float], weights: [Float], bias: [Float]) -> (value: [Double], scale: [Double]) {
        var out = [Double](repeating: 0, count: s.outputCount), scale = out
        for r in 0..<s.batch {
            for m in 0..<s.maps {
                for y in 0..<s.outHeight {
                    for x in 0..<s.outWidth {
                        var z = Double(bias[m]), a = abs(Double(bias[m]))
                        for c in 0..<s.channels {
                            for i in 0..<5 {
                                for j in 0..<5 {
                                    let p = Double(weights[((m * s.channels + c) * 5 + i) * 5 + j])
                                        * Double(input[((r * s.channels + c) * s.height + y + i) * s.width + x + j])
                                    z += p
                                    a += abs(p)
                                }
                            }
                        }
                        let at = ((r * s.maps + m) * s.outHeight + y) * s.outWidth + x
                        (out[at], scale[at]) = (z, a)
                    }
                }
            }
        }
        return (out, scale)
    }

    @Test(arguments: shapes)
    func matchesTheConvolution(_ s: Shape) {
        let input = values(s.inputCount, seed: 21), weights = values(s.maps * s.channels * 25, seed: 22)
        let bias = values(s.maps, seed: 23)
        let (expected, scale) = reference(s, input: input, weights: weights, bias: bias)
        for kernels in Kernels.available {
            let supported = kernels.winogradSupports(channels: s.channels, height: s.height, width: s.width,
                                                     maps: s.maps, kernelHeight: 5, kernelWidth: 5)
            #expect(supported)
            let out = Run(kernels, s, input: input, weights: weights, bias: bias).forward()
            var worst = 0.0
            for i in out.indices { worst = max(worst, abs(Double(out[i]) - expected[i]) / scale[i]) }
            // The transforms' rounding, relative to the sum of the products' magnitudes: at most
            // 7.4e-7 on these shapes; 2/3.0001 for one 2/3 in G gives 5e-6 to 4e-5.
            #expect(worst < 2e-6, "\(kernels.name): worst error \(worst) of the products' magnitude")
        }
    }

    /// Every way of running it gives the same bits: maps in parts (whole packed blocks of six or
    /// not, down to one map at a time), examples one at a time or
    /// together, from a shared input transform or not; the activation and the 2x2 pooling are
    /// those of the linear output.
    @Test(arguments: shapes)
    func everySplitGivesTheSameBits(_ s: Shape) {
        let input = values(s.inputCount, seed: 31), weights = values(s.maps * s.channels * 25, seed: 32)
        let bias = values(s.maps, seed: 33)
        for kernels in Kernels.available {
            let run = Run(kernels, s, input: input, weights: weights, bias: bias)
            let whole = run.forward()
            let bits = whole.map(\.bitPattern)
            #expect(!whole.contains { $0.isNaN })
            let m = s.maps
            #expect(run.forward(maps: [0..<(m / 2), (m / 2)..<m]).map(\.bitPattern) == bits)
            #expect(run.forward(maps: [0..<min(m, 6), min(m, 6)..<m]).map(\.bitPattern) == bits)
            #expect(run.forward(maps: [0..<(m / 3), (m / 3)..<(2 * m / 3), (2 * m / 3)..<m]).map(\.bitPattern) == bits)
            #expect(run.forward(maps: (0..<m).map { $0..<($0 + 1) }).map(\.bitPattern) == bits)
            #expect(run.forward(shared: true).map(\.bitPattern) == bits)
            let perExample = whole.count / s.batch
            for r in 0..<s.batch {
                #expect(run.forward(examples: r..<(r + 1)).map(\.bitPattern)
                        == Array(bits[(r * perExample)..<((r + 1) * perExample)]))
            }
            #expect(run.forward(.relu).map(\.bitPattern) == whole.map { max(0, $0) }.map(\.bitPattern))
            // 2x2 pooling of the activated outputs.
            let activated = run.forward(.sigmoid)
            let pooled = run.forward(.sigmoid, pool: true)
            var expected = [Float](repeating: 0, count: pooled.count)
            let (oh, ow) = (s.outHeight, s.outWidth)
            for plane in 0..<(s.batch * s.maps) {
                for y in 0..<(oh / 2) {
                    for x in 0..<(ow / 2) {
                        let at = plane * oh * ow + 2 * y * ow + 2 * x
                        expected[(plane * (oh / 2) + y) * (ow / 2) + x] =
                            max(max(activated[at], activated[at + 1]), max(activated[at + ow], activated[at + ow + 1]))
                    }
                }
            }
            #expect(pooled.map(\.bitPattern) == expected.map(\.bitPattern))
            #expect(run.forward(.sigmoid, pool: true, maps: [0..<(m / 2), (m / 2)..<m], shared: true)
                        .map(\.bitPattern) == expected.map(\.bitPattern))
        }
    }

    @Test func supportsOnlyFiveByFiveWithWholeTiles() {
        for kernels in Kernels.available {
            func supports(_ channels: Int, _ height: Int, _ width: Int, kernel: Int = 5) -> Bool {
                kernels.winogradSupports(channels: channels, height: height, width: width, maps: 40,
                                         kernelHeight: kernel, kernelWidth: kernel)
            }
            #expect(supports(20, 12, 12))
            #expect(!supports(20, 12, 12, kernel: 3))
            #expect(!supports(20, 13, 12))
            #expect(!supports(20, 4, 4))
            #expect(!supports(0, 12, 12))
            let scratch = kernels.winogradScratchCount(channels: 20, height: 13, width: 12, maps: 40)
            #expect(scratch == 0)
        }
    }
}
