import Testing
import NNKernels
@testable import NNKernelsGeneric

/// Convolution and max-pooling against straightforward loops and finite differences.
@Suite struct ConvPoolTests {
    func values(_ n: Int, seed: UInt64) -> [Float] { uniformValues(n, seed: seed) }

    struct Shape: CustomTestStringConvertible, Sendable {
        var batch, channels, height, width, maps, kernelHeight, kernelWidth: Int
        var outHeight: Int { height - kernelHeight + 1 }
        var outWidth: Int { width - kernelWidth + 1 }
        var inputCount: Int { batch * channels * height * width }
        var weightCount: Int { maps * channels * kernelHeight * kernelWidth }
        var outputCount: Int { batch * maps * outHeight * outWidth }
        var scratchCount: Int {
            conv2dScratchCount(batch: batch, channels: channels, height: height, width: width,
                               maps: maps, kernelHeight: kernelHeight, kernelWidth: kernelWidth)
        }
        var testDescription: String {
            "(\(batch), \(channels), \(height), \(width)) * (\(maps), \(channels), \(kernelHeight), \(kernelWidth))"
        }
    }

    static let forwardShapes: [Shape] = [
        Shape(batch: 1, channels: 1, height: 1, width: 1, maps: 1, kernelHeight: 1, kernelWidth: 1),
        Shape(batch: 1, channels: 1, height: 5, width: 5, maps: 1, kernelHeight: 5, kernelWidth: 5),
        Shape(batch: 2, channels: 1, height: 28, width: 28, maps: 3, kernelHeight: 5, kernelWidth: 5),
        Shape(batch: 3, channels: 4, height: 12, width: 12, maps: 7, kernelHeight: 5, kernelWidth: 5),
        Shape(batch: 2, channels: 3, height: 9, width: 7, maps: 5, kernelHeight: 2, kernelWidth: 4),
        Shape(batch: 1, channels: 2, height: 6, width: 10, maps: 9, kernelHeight: 3, kernelWidth: 1),
        Shape(batch: 2, channels: 12, height: 9, width: 9, maps: 8, kernelHeight: 5, kernelWidth: 5),   // patch 300: two depth blocks
        // Output widths that are multiples of 8 (the AVX2 build reads the columns from the input):
        // the book's two layers, and 40 positions (a half panel) of a 300-deep patch, 13 maps.
        Shape(batch: 2, channels: 20, height: 12, width: 12, maps: 40, kernelHeight: 5, kernelWidth: 5),
        Shape(batch: 2, channels: 12, height: 9, width: 12, maps: 13, kernelHeight: 5, kernelWidth: 5),
    ]

    /// out[m][y][x] = b[m] + Σ_{c,i,j} W[m][c][i][j] · in[c][y+i][x+j], in Double.
    func reference(_ s: Shape, input: [Float], weights: [Float], bias: [Float]?) -> [Double] {
        var out = [Double](repeating: 0, count: s.outputCount)
        for r in 0..<s.batch {
            for m in 0..<s.maps {
                for y in 0..<s.outHeight {
                    for x in 0..<s.outWidth {
                        var z = bias.map { Double($0[m]) } ?? 0
                        for c in 0..<s.channels {
                            for i in 0..<s.kernelHeight {
                                for j in 0..<s.kernelWidth {
                                    let w = weights[((m * s.channels + c) * s.kernelHeight + i) * s.kernelWidth + j]
                                    let v = input[((r * s.channels + c) * s.height + y + i) * s.width + x + j]
                                    z += Double(w) * Double(v)
                                }
                            }
                        }
                        out[((r * s.maps + m) * s.outHeight + y) * s.outWidth + x] = z
                    }
                }
            }
        }
        return out
    }

    func forward(_ s: Shape, input: [Float], weights: [Float], bias: [Float]?) -> [Float] {
        var out = [Float](repeating: .nan, count: s.outputCount)
        var scratch = [Float](repeating: .nan, count: s.scratchCount)
        if let bias {
            Kernels.active.conv2dForward(input: input, batch: s.batch, channels: s.channels, height: s.height, width: s.width,
                          weights: weights, bias: bias, maps: s.maps,
                          kernelHeight: s.kernelHeight, kernelWidth: s.kernelWidth, output: &out, scratch: &scratch)
        } else {
            Kernels.active.conv2dForward(input: input, batch: s.batch, channels: s.channels, height: s.height, width: s.width,
                          weights: weights, bias: nil, maps: s.maps,
                          kernelHeight: s.kernelHeight, kernelWidth: s.kernelWidth, output: &out, scratch: &scratch)
        }
        return out
    }

    @Test(arguments: forwardShapes)
    func convForwardMatchesReference(_ s: Shape) {
        let input = values(s.inputCount, seed: 11), weights = values(s.weightCount, seed: 12)
        let bias = values(s.maps, seed: 13)
        for b in [bias, nil] {
            let out = forward(s, input: input, weights: weights, bias: b)
            let expected = reference(s, input: input, weights: weights, bias: b)
            for (got, want) in zip(out, expected) {
                #expect(abs(Double(got) - want) <= 1e-5 * max(1, abs(want)))
            }
            #expect(out == forward(s, input: input, weights: weights, bias: b))   // deterministic
        }
    }

    /// conv2dForward is, bit for bit, the bias (or zeros) plus sgemm of the weights and the column
    /// matrix, in every build, whether the build copies the columns (im2col) or reads them in place.
    @Test(arguments: forwardShapes)
    func convForwardIsSgemmOfTheColumnsBitForBit(_ s: Shape) {
        let input = values(s.inputCount, seed: 14), weights = values(s.weightCount, seed: 15)
        let bias = values(s.maps, seed: 16)
        let patch = s.channels * s.kernelHeight * s.kernelWidth, positions = s.outHeight * s.outWidth
        let inSize = s.channels * s.height * s.width
        for kernels in Kernels.available {
            for b in [bias, nil] {
                var out = [Float](repeating: .nan, count: s.outputCount)
                var scratch = [Float](repeating: .nan, count: kernels.conv2dScratchCount(
                    batch: s.batch, channels: s.channels, height: s.height, width: s.width, maps: s.maps,
                    kernelHeight: s.kernelHeight, kernelWidth: s.kernelWidth))
                kernels.conv2dForward(input: input, batch: s.batch, channels: s.channels, height: s.height, width: s.width,
                                      weights: weights, bias: b, maps: s.maps, kernelHeight: s.kernelHeight,
                                      kernelWidth: s.kernelWidth, output: &out, scratch: &scratch)
                var expected = [Float]()
                for r in 0..<s.batch {
                    var col = [Float](repeating: 0, count: patch * positions)
                    for c in 0..<s.channels {
                        for i in 0..<s.kernelHeight {
                            for j in 0..<s.kernelWidth {
                                let row = (c * s.kernelHeight + i) * s.kernelWidth + j
                                for y in 0..<s.outHeight {
                                    for x in 0..<s.outWidth {
                                        col[row * positions + y * s.outWidth + x] =
                                            input[r * inSize + (c * s.height + y + i) * s.width + x + j]
                                    }
                                }
                            }
                        }
                    }
                    var c = [Float](repeating: 0, count: s.maps * positions)
                    if let b { for m in 0..<s.maps { for p in 0..<positions { c[m * positions + p] = b[m] } } }
                    kernels.sgemm(transposeA: false, transposeB: false, m: s.maps, n: positions, k: patch, alpha: 1,
                                  a: weights, lda: patch, b: col, ldb: positions, beta: b == nil ? 0 : 1, c: &c, ldc: positions)
                    expected += c
                }
                let differ = (0..<out.count).first { out[$0].bitPattern != expected[$0].bitPattern }
                #expect(differ == nil, "\(kernels.name), bias: \(b != nil): output \(differ ?? 0) is \(out[differ ?? 0]), not \(expected[differ ?? 0])")
            }
        }
    }

    @Test func convScratchCountAndInvalidShapes() {
        // At least the column matrix (backward) and the packed matrix plus the product's scratch
        // (forward), for every build.
        for kernels in Kernels.available {
            let first = kernels.conv2dScratchCount(batch: 10, channels: 1, height: 28, width: 28, maps: 20,
                                                   kernelHeight: 5, kernelWidth: 5)
            #expect(first >= 25 * 24 * 24)
            #expect(first >= kernels.gemmScratchCount(m: 20, k: 25) + kernels.packedBCount(k: 25, n: 576))
            let second = kernels.conv2dScratchCount(batch: 10, channels: 20, height: 12, width: 12, maps: 40,
                                                    kernelHeight: 5, kernelWidth: 5)
            #expect(second >= 500 * 8 * 8)
            #expect(second >= kernels.gemmScratchCount(m: 40, k: 500) + kernels.packedBCount(k: 500, n: 64))
        }
        #expect(conv2dScratchCount(batch: 1, channels: 1, height: 4, width: 4, maps: 1,
                                   kernelHeight: 5, kernelWidth: 1) == 0)
        #expect(conv2dScratchCount(batch: 0, channels: 1, height: 4, width: 4, maps: 1,
                                   kernelHeight: 1, kernelWidth: 1) == 0)
        #expect(conv2dScratchCount(batch: 1, channels: Int.max / 2, height: 4, width: 4, maps: 1,
                                   kernelHeight: 3, kernelWidth: 3) == Int.max)
        // A kernel larger than the input leaves the (empty) output and the scratch untouched.
        var out: [Float] = [42]
        var scratch: [Float] = [42]
        Kernels.active.conv2dForward(input: [1, 2, 3, 4], batch: 1, channels: 1, height: 2, width: 2, weights: [1, 1, 1],
                      bias: nil, maps: 1, kernelHeight: 3, kernelWidth: 1, output: &out, scratch: &scratch)
        #expect(out == [42] && scratch == [42])
    }

    /// Finite-difference check of conv2dBackward for the scalar loss L = Σ output · R. L is linear
    /// in each of W, b and the input, so central differences are exact but for Float rounding.
    @Test(arguments: [
        Shape(batch: 2, channels: 3, height: 7, width: 6, maps: 4, kernelHeight: 3, kernelWidth: 2),
        Shape(batch: 1, channels: 1, height: 8, width: 8, maps: 2, kernelHeight: 5, kernelWidth: 5),
        Shape(batch: 3, channels: 2, height: 5, width: 9, maps: 3, kernelHeight: 1, kernelWidth: 4),
    ])
    func convBackwardMatchesFiniteDifferences(_ s: Shape) {
        let input = values(s.inputCount, seed: 21), weights = values(s.weightCount, seed: 22)
        let bias = values(s.maps, seed: 23), r = values(s.outputCount, seed: 24)
        func loss(_ input: [Float], _ weights: [Float], _ bias: [Float]) -> Double {
            zip(forward(s, input: input, weights: weights, bias: bias), r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        // Gradients accumulate onto 0.5, checking the "+=" contract.
        var nablaW = [Float](repeating: 0.5, count: s.weightCount)
        var nablaB = [Float](repeating: 0.5, count: s.maps)
        var inputDelta = [Float](repeating: .nan, count: s.inputCount)
        var scratch = [Float](repeating: .nan, count: s.scratchCount)
        Kernels.active.conv2dBackward(input: input, batch: s.batch, channels: s.channels, height: s.height, width: s.width,
                       weights: weights, maps: s.maps, kernelHeight: s.kernelHeight, kernelWidth: s.kernelWidth,
                       delta: r, nablaW: &nablaW, nablaB: &nablaB, inputDelta: &inputDelta, scratch: &scratch)
        let eps: Float = 1e-2
        func close(_ analytic: Float, _ numeric: Double) -> Bool {
            abs(Double(analytic) - numeric) <= 2e-3 * max(1, abs(numeric))
        }
        for k in 0..<s.weightCount {
            var plus = weights, minus = weights
            plus[k] += eps; minus[k] -= eps
            let numeric = (loss(input, plus, bias) - loss(input, minus, bias)) / Double(plus[k] - minus[k])
            #expect(close(nablaW[k] - 0.5, numeric), "nablaW[\(k)] = \(nablaW[k] - 0.5), numeric \(numeric)")
        }
        for m in 0..<s.maps {
            var plus = bias, minus = bias
            plus[m] += eps; minus[m] -= eps
            let numeric = (loss(input, weights, plus) - loss(input, weights, minus)) / Double(plus[m] - minus[m])
            #expect(close(nablaB[m] - 0.5, numeric), "nablaB[\(m)] = \(nablaB[m] - 0.5), numeric \(numeric)")
        }
        for k in 0..<s.inputCount {
            var plus = input, minus = input
            plus[k] += eps; minus[k] -= eps
            let numeric = (loss(plus, weights, bias) - loss(minus, weights, bias)) / Double(plus[k] - minus[k])
            #expect(close(inputDelta[k], numeric), "inputDelta[\(k)] = \(inputDelta[k]), numeric \(numeric)")
        }
        // Without inputDelta the weight gradients are the same.
        var nablaW2 = [Float](repeating: 0.5, count: s.weightCount)
        var nablaB2 = [Float](repeating: 0.5, count: s.maps)
        Kernels.active.conv2dBackward(input: input, batch: s.batch, channels: s.channels, height: s.height, width: s.width,
                       weights: weights, maps: s.maps, kernelHeight: s.kernelHeight, kernelWidth: s.kernelWidth,
                       delta: r, nablaW: &nablaW2, nablaB: &nablaB2, inputDelta: nil, scratch: &scratch)
        #expect(nablaW2 == nablaW && nablaB2 == nablaB)
    }

    @Test func maxPoolForwardWithTiesAndRemainder() {
        // One example, two channels, 5 x 5 with 2 x 2 pooling: the last row and column are ignored.
        let plane0: [Float] = [
            1, 3, 0, 0, 9,
            3, 2, 5, 5, 9,
            -1, -2, 7, 7, 9,
            -3, -1, 7, 7, 9,
            9, 9, 9, 9, 9,
        ]
        let plane1: [Float] = (0..<25).map { Float(-$0) }
        var out = [Float](repeating: .nan, count: 8)
        var arg = [Int32](repeating: -1, count: 8)
        Kernels.active.maxPool2dForward(input: plane0 + plane1, batch: 1, channels: 2, height: 5, width: 5,
                         poolHeight: 2, poolWidth: 2, output: &out, argmax: &arg)
        #expect(out == [3, 5, -1, 7, 0, -2, -10, -12])
        // Ties: the first maximum in row-major window order.
        #expect(arg == [1, 7, 10, 12, 0, 2, 10, 12])
        // argmax may be nil.
        var out2 = [Float](repeating: .nan, count: 8)
        Kernels.active.maxPool2dForward(input: plane0 + plane1, batch: 1, channels: 2, height: 5, width: 5,
                         poolHeight: 2, poolWidth: 2, output: &out2, argmax: nil)
        #expect(out2 == out)
    }

    @Test(arguments: [(2, 3, 7, 5, 2, 2), (1, 1, 24, 24, 2, 2), (3, 2, 9, 8, 3, 2), (1, 2, 5, 7, 1, 3), (2, 1, 4, 4, 4, 4)])
    func maxPoolMatchesReferenceAndRoutesDelta(batch: Int, channels: Int, height: Int, width: Int,
                                                poolHeight: Int, poolWidth: Int) {
        let oh = height / poolHeight, ow = width / poolWidth
        let planes = batch * channels
        let input = values(planes * height * width, seed: 31)
        var out = [Float](repeating: .nan, count: planes * oh * ow)
        var arg = [Int32](repeating: -1, count: planes * oh * ow)
        Kernels.active.maxPool2dForward(input: input, batch: batch, channels: channels, height: height, width: width,
                         poolHeight: poolHeight, poolWidth: poolWidth, output: &out, argmax: &arg)
        let delta = values(planes * oh * ow, seed: 32)
        var inputDelta = [Float](repeating: .nan, count: input.count)
        Kernels.active.maxPool2dBackward(delta: delta, batch: batch, channels: channels, height: height, width: width,
                          poolHeight: poolHeight, poolWidth: poolWidth, argmax: arg, inputDelta: &inputDelta)
        var expectedDelta = [Float](repeating: 0, count: input.count)
        for p in 0..<planes {
            for oy in 0..<oh {
                for ox in 0..<ow {
                    var best = -Float.infinity, bestIndex = -1
                    for i in 0..<poolHeight {
                        for j in 0..<poolWidth {
                            let index = (oy * poolHeight + i) * width + ox * poolWidth + j
                            if input[p * height * width + index] > best {
                                best = input[p * height * width + index]
                                bestIndex = index
                            }
                        }
                    }
                    let o = (p * oh + oy) * ow + ox
                    #expect(out[o] == best)
                    #expect(Int(arg[o]) == bestIndex)
                    expectedDelta[p * height * width + bestIndex] = delta[o]
                }
            }
        }
        #expect(inputDelta == expectedDelta)
    }

    /// Pooling's delta routing is its gradient: finite differences of L = Σ out · R away from ties.
    @Test func maxPoolBackwardMatchesFiniteDifferences() {
        let (batch, channels, height, width) = (2, 2, 5, 6)
        let input = values(batch * channels * height * width, seed: 41)     // distinct values
        let outCount = batch * channels * 2 * 3
        let r = values(outCount, seed: 42)
        func loss(_ x: [Float]) -> Double {
            var out = [Float](repeating: 0, count: outCount)
            Kernels.active.maxPool2dForward(input: x, batch: batch, channels: channels, height: height, width: width,
                             poolHeight: 2, poolWidth: 2, output: &out, argmax: nil)
            return zip(out, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        var arg = [Int32](repeating: 0, count: outCount)
        var out = [Float](repeating: 0, count: outCount)
        Kernels.active.maxPool2dForward(input: input, batch: batch, channels: channels, height: height, width: width,
                         poolHeight: 2, poolWidth: 2, output: &out, argmax: &arg)
        var inputDelta = [Float](repeating: .nan, count: input.count)
        Kernels.active.maxPool2dBackward(delta: r, batch: batch, channels: channels, height: height, width: width,
                          poolHeight: 2, poolWidth: 2, argmax: arg, inputDelta: &inputDelta)
        let eps: Float = 1e-4
        for k in 0..<input.count {
            var plus = input, minus = input
            plus[k] += eps; minus[k] -= eps
            let numeric = (loss(plus) - loss(minus)) / Double(plus[k] - minus[k])
            #expect(abs(Double(inputDelta[k]) - numeric) <= 1e-3, "inputDelta[\(k)]")
        }
    }

    /// The 2 x 2 case runs four windows at a time: ties and NaNs in every lane position, with a
    /// remainder window (width 18: four, four, then one window per row), against the rule
    /// "first maximum in row-major order; the first NaN wins".
    @Test func maxPool2x2LanesKeepTiesAndNaNRule() {
        let (height, width) = (4, 18)
        let (oh, ow) = (2, 9)
        var input = [Float](repeating: 0, count: height * width)
        let pattern: [[Float]] = [[1, 1, 1, 1], [0, 2, 2, 2], [0, 0, 3, 3], [.nan, 5, .nan, 1],
                                  [4, .nan, 9, .nan], [-1, -1, -1, -2], [-3, -2, -2, -1], [2, 2, .nan, .nan],
                                  [.infinity, 1, .infinity, .nan]]
        for oy in 0..<oh {
            for ox in 0..<ow {
                let w = pattern[(ox + oy * 4) % pattern.count]    // window values in row-major order
                for (k, v) in w.enumerated() { input[(oy * 2 + k / 2) * width + ox * 2 + k % 2] = v }
            }
        }
        var out = [Float](repeating: 7, count: oh * ow)
        var arg = [Int32](repeating: -1, count: oh * ow)
        Kernels.active.maxPool2dForward(input: input, batch: 1, channels: 1, height: height, width: width,
                         poolHeight: 2, poolWidth: 2, output: &out, argmax: &arg)
        var outNoArg = [Float](repeating: 7, count: oh * ow)
        Kernels.active.maxPool2dForward(input: input, batch: 1, channels: 1, height: height, width: width,
                         poolHeight: 2, poolWidth: 2, output: &outNoArg, argmax: nil)
        for oy in 0..<oh {
            for ox in 0..<ow {
                let w = pattern[(ox + oy * 4) % pattern.count]
                var best = w[0], bestK = 0
                for k in 1..<4 where w[k] > best || (w[k].isNaN && !best.isNaN) { best = w[k]; bestK = k }
                let o = oy * ow + ox
                let index = Int32((oy * 2 + bestK / 2) * width + ox * 2 + bestK % 2)
                #expect(arg[o] == index, "window (\(oy), \(ox))")
                #expect(out[o] == best || (out[o].isNaN && best.isNaN), "window (\(oy), \(ox))")
                #expect(outNoArg[o] == best || (outNoArg[o].isNaN && best.isNaN), "window (\(oy), \(ox))")
            }
        }
    }

    /// Inference's 2 x 2 path (no argmax) pairs neighbours before rows; it must pick the very
    /// value the row-major rule picks, bit for bit: ties of +0 and -0, two different NaNs, every
    /// output width from 1 to 11 (lanes and the remainder), an odd or even count of runs of 4
    /// windows, planes with and without a remainder row.
    @Test func maxPool2x2WithoutArgmaxIsBitIdenticalToTheRowMajorRule() {
        let values: [Float] = [0, -Float(0), 1, -1, 2, .infinity, -.infinity, Float(nan: 1, signaling: false),
                               Float(nan: 2, signaling: false)]
        var state: UInt64 = 7
        func pick() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return values[Int(state >> 33) % values.count]
        }
        for (width, height) in (2...23).flatMap({ w in [2, 3, 5, 8].map { (w, $0) } }) {
            let planes = 3
            let (oh, ow) = (height / 2, width / 2)
            let input = (0..<(planes * height * width)).map { _ in pick() }
            var out = [Float](repeating: 7, count: planes * oh * ow)
            var withArg = out
            var arg = [Int32](repeating: -1, count: out.count)
            Kernels.active.maxPool2dForward(input: input, batch: 1, channels: planes, height: height, width: width,
                                            poolHeight: 2, poolWidth: 2, output: &out, argmax: nil)
            Kernels.active.maxPool2dForward(input: input, batch: 1, channels: planes, height: height, width: width,
                                            poolHeight: 2, poolWidth: 2, output: &withArg, argmax: &arg)
            for p in 0..<planes {
                for oy in 0..<oh {
                    for ox in 0..<ow {
                        let window = [0, 1, width, width + 1].map { input[p * height * width + oy * 2 * width + ox * 2 + $0] }
                        var best = window[0]
                        for v in window.dropFirst() where v > best || (v.isNaN && !best.isNaN) { best = v }
                        let o = (p * oh + oy) * ow + ox
                        #expect(out[o].bitPattern == best.bitPattern, "width \(width), height \(height), plane \(p), window (\(oy), \(ox))")
                        #expect(withArg[o].bitPattern == best.bitPattern, "width \(width), height \(height), plane \(p), window (\(oy), \(ox))")
                    }
                }
            }
        }
    }

    @Test func maxPoolNaNAndBadArgmax() {
        var out: [Float] = [0]
        var arg: [Int32] = [0]
        Kernels.active.maxPool2dForward(input: [1, .nan, 3, .nan], batch: 1, channels: 1, height: 2, width: 2,
                         poolHeight: 2, poolWidth: 2, output: &out, argmax: &arg)
        #expect(out[0].isNaN && arg == [1])
        // An out-of-range argmax entry is dropped, never written through.
        var dx = [Float](repeating: .nan, count: 4)
        Kernels.active.maxPool2dBackward(delta: [5], batch: 1, channels: 1, height: 2, width: 2, poolHeight: 2, poolWidth: 2,
                          argmax: [7], inputDelta: &dx)
        #expect(dx == [0, 0, 0, 0])
    }
}
