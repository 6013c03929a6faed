// Convolution and max-pooling kernels (the book's chapter 6, network3.py's ConvPoolLayer) shared
// by the trainer and the runtime. Layout NCHW, row-major, Float32. Forward/backward pairs over
// unsafe buffers with the shape of every buffer in its comment.
//
// The convolution is lowered to matrix products (im2col): for one example, the column matrix
//   col (channels*KH*KW, OH*OW),  col[(c*KH + i)*KW + j][y*OW + x] = in[c][y+i][x+j]
// turns the layer into  out (maps, OH*OW) = W (maps, channels*KH*KW) · col + b,  and its
// backward pass into two more products computed by `sgemm`:
//   nablaW (maps, C*KH*KW) += delta (maps, OH*OW) · colᵀ        (BP4 for shared weights)
//   dcol   (C*KH*KW, OH*OW) = Wᵀ · delta, then col2im sums dcol back into inputDelta   (BP2)
// Every sum runs in a fixed order determined by the shapes, so results are bit-identical.

extension CPUKernels {
    /// Floats of scratch `conv2dForward`/`conv2dBackward` need for one call (this build's count).
    ///
    /// The backward pass needs one example's column matrix (channels*kernelHeight*kernelWidth,
    /// OH*OW), reused example after example (and for ∂C/∂col); the forward pass the same matrix in
    /// sgemm's packed layout (padded to whole panels) after the matrix product's own scratch.
    /// Returns 0 for an empty or invalid shape (a kernel larger than the input, a non-positive
    /// size), for which the kernels do nothing, and Int.max if the count does not fit in an Int.
    public static func conv2dScratchCount(batch: Int, channels: Int, height: Int, width: Int,
                                          maps: Int, kernelHeight: Int, kernelWidth: Int) -> Int {
        guard let shape = ConvShape(batch: batch, channels: channels, height: height, width: width,
                                    maps: maps, kernelHeight: kernelHeight, kernelWidth: kernelWidth)
        else { return 0 }
        var count = 1
        for factor in [channels, kernelHeight, kernelWidth, shape.outHeight, shape.outWidth] {
            let (product, overflow) = count.multipliedReportingOverflow(by: factor)
            if overflow { return Int.max }
            count = product
        }
        let positions = shape.outHeight &* shape.outWidth     // no overflow: count covers it
        let packed = packedBCount(k: shape.patch, n: positions)
        guard packed < Int.max / 2 else { return Int.max }
        return max(count, gemmScratchCount(m: maps, k: shape.patch) &+ packed)
    }
}

extension CPUKernels {
    /// Valid convolution, stride 1 (the book's/network3's ConvPoolLayer convolution; cross-correlation
    /// as Theano's conv2d with flipped filters is NOT wanted: use out[m][y][x] = b[m] +
    /// sum_{c,i,j} W[m][c][i][j] * in[c][y+i][x+j]).
    /// input (batch, channels, height, width); weights (maps, channels, kernelHeight, kernelWidth);
    /// bias (maps) or nil; output (batch, maps, height-kernelHeight+1, width-kernelWidth+1), overwritten.
    /// scratch holds `conv2dScratchCount(...)` floats; its contents on return are unspecified.
    /// An empty or invalid shape (see `conv2dScratchCount`) is a no-op. Re-entrant; deterministic.
    public static func conv2dForward(input: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                              weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, maps: Int,
                              kernelHeight: Int, kernelWidth: Int,
                              output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        guard let s = ConvShape(batch: batch, channels: channels, height: height, width: width,
                                maps: maps, kernelHeight: kernelHeight, kernelWidth: kernelWidth)
        else { return }
        let outPlane = s.outHeight &* s.outWidth                // OH*OW
        let patch = s.patch                                     // C*KH*KW
#if NNRT_FMA
        if s.outWidth % 8 == 0 && channels &* height &* width < Int(Int32.max) {
            convForwardImplicit(input: input, batch: batch, s, weights: weights, bias: bias, maps: maps,
                                output: output, scratch: scratch)
            return
        }
#endif
        // scratch: the product's own scratch (aligned, at the start), then the packed column matrix.
        let packed = scratch + gemmScratchCount(m: maps, k: patch)
        for r in 0..<batch {
            let x = input + r &* channels &* height &* width    // (channels, height, width)
            let out = output + r &* maps &* outPlane            // (maps, OH*OW)
            im2colPacked(x, s, into: packed)                    // col (C*KH*KW, OH*OW), packed
            if let bias {
                for m in 0..<maps { (out + m &* outPlane).update(repeating: bias[m], count: outPlane) }
            }
            // out (maps, OH*OW) = W (maps, C*KH*KW) · col (C*KH*KW, OH*OW) + out (bias or 0); each
            // element summed exactly as sgemm sums it.
            sgemmPackedB(m: maps, n: outPlane, k: patch, alpha: 1, a: weights, lda: patch, packedB: packed,
                         beta: bias == nil ? 0 : 1, c: out, ldc: outPlane, scratch: scratch)
        }
    }
}

#if NNRT_FMA
/// `conv2dForward` for an output width that is a multiple of 8, with the column matrix read
/// straight from the input instead of copied ("implicit im2col"): every 16-position panel of the
/// output is two runs of 8 positions, each on one output row, so row (c, i, j) of the panel is
/// two 8-float loads from the input at the run's start + c*H*W + i*W + j. The micro-kernel, its
/// tiles and the order of every sum are `sgemmPackedB`'s, with the same values of B: the results
/// are the explicit path's bit for bit, without writing and reading the column matrix (about a
/// quarter of a batch-1 conv net's time). scratch holds the patch's input offsets (Int32).
private func convForwardImplicit(input: UnsafePointer<Float>, batch: Int, _ s: ConvShape,
                                 weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, maps: Int,
                                 output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
    let outPlane = s.outHeight &* s.outWidth, patch = s.patch
    let inSize = s.channels &* s.height &* s.width
    let offsets = UnsafeMutableRawPointer(scratch)              // (patch) Int32: c*H*W + i*W + j
    var k = 0
    for c in 0..<s.channels {
        for i in 0..<s.kernelHeight {
            for j in 0..<s.kernelWidth {
                offsets.storeBytes(of: Int32(truncatingIfNeeded: c &* s.height &* s.width &+ i &* s.width &+ j),
                                   toByteOffset: k &* 4, as: Int32.self)
                k &+= 1
            }
        }
    }
    // The input offset of the run of 8 output positions starting at position p (a multiple of 8,
    // so the run lies on one output row); past the end, the panel's first run (read, not written).
    @inline(__always) func runStart(_ p: Int, _ panelStart: Int) -> Int {
        let q = p < outPlane ? p : panelStart
        return (q / s.outWidth) &* s.width &+ q % s.outWidth
    }
    for r in 0..<batch {
        let x = input + r &* inSize
        let out = output + r &* maps &* outPlane
        for m in 0..<maps { (out + m &* outPlane).update(repeating: bias?[m] ?? 0, count: outPlane) }
        var pc = 0
        while pc < patch {
            let kc = min(gemmKC, patch &- pc)
            var q = 0
            while q < outPlane {
                let cols = min(gemmNR, outPlane &- q)
                let low = x + runStart(q, q), high = x + runStart(q &+ 8, q)
                var ir = 0
                while ir < maps {
                    var panel = ImplicitPanel(offsets: UnsafeRawPointer(offsets) + pc &* 4, low: low, high: high)
                    let a = weights + (ir &* patch &+ pc), c = out + (ir &* outPlane &+ q)
                    switch min(gemmMR, maps &- ir) {
                    case 1: microTile(1, kc: kc, a: a, patch, 1, b: &panel, alpha: 1, c: c, ldc: outPlane, rows: 1, cols: cols)
                    case 2: microTile(2, kc: kc, a: a, patch, 1, b: &panel, alpha: 1, c: c, ldc: outPlane, rows: 2, cols: cols)
                    case let rows where rows <= 4:
                        microTile(4, kc: kc, a: a, patch, 1, b: &panel, alpha: 1, c: c, ldc: outPlane, rows: rows, cols: cols)
                    case let rows:
                        microTile(6, kc: kc, a: a, patch, 1, b: &panel, alpha: 1, c: c, ldc: outPlane, rows: rows, cols: cols)
                    }
                    ir &+= gemmMR
                }
                q &+= gemmNR
            }
            pc &+= kc
        }
    }
}

/// Rows of an implicit column-matrix panel: two runs of 8 floats, `low` and `high`, each moved by
/// the offset of patch row p (Int32, read in turn).
private struct ImplicitPanel: PanelReader {
    var offsets: UnsafeRawPointer
    let low: UnsafePointer<Float>, high: UnsafePointer<Float>
    @inline(__always) mutating func nextRow() -> PanelVector {
        let o = Int(offsets.loadUnaligned(as: Int32.self))
        offsets += 4
        return PanelVector(lowHalf: UnsafeRawPointer(low + o).loadUnaligned(as: SIMD8<Float>.self),
                           highHalf: UnsafeRawPointer(high + o).loadUnaligned(as: SIMD8<Float>.self))
    }
}
#endif

extension CPUKernels {
    /// Backward of conv2dForward given delta = ∂C/∂output (batch, maps, OH, OW):
    /// nablaW (maps, channels, KH, KW) += ..., nablaB (maps) += ... (both accumulate),
    /// inputDelta (batch, channels, height, width) = ∂C/∂input (overwritten) if not nil.
    ///
    /// Because every output position shares the map's weights, (BP4) and (BP3) sum over positions:
    /// ∂C/∂W[m][c][i][j] = Σ_{y,x} δ[m][y][x] · in[c][y+i][x+j] and ∂C/∂b[m] = Σ_{y,x} δ[m][y][x];
    /// and (BP2) before the activation's derivative: ∂C/∂in[c][y'][x'] = Σ_{m,i,j} W[m][c][i][j] ·
    /// δ[m][y'-i][x'-j] over the positions inside the output. scratch holds
    /// `conv2dScratchCount(...)` floats. An empty or invalid shape is a no-op. Re-entrant; deterministic.
    public static func conv2dBackward(input: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                               weights: UnsafePointer<Float>, maps: Int, kernelHeight: Int, kernelWidth: Int,
                               delta: UnsafePointer<Float>,
                               nablaW: UnsafeMutablePointer<Float>, nablaB: UnsafeMutablePointer<Float>,
                               inputDelta: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>) {
        guard let s = ConvShape(batch: batch, channels: channels, height: height, width: width,
                                maps: maps, kernelHeight: kernelHeight, kernelWidth: kernelWidth)
        else { return }
        let outPlane = s.outHeight &* s.outWidth                // OH*OW
        let patch = s.patch                                     // C*KH*KW
        let inSize = channels &* height &* width
        for r in 0..<batch {
            let x = input + r &* inSize                         // (channels, height, width)
            let d = delta + r &* maps &* outPlane               // (maps, OH*OW)
            // (BP3) nablaB[m] += Σ_{y,x} δ[m][y][x], summed in row-major order.
            for m in 0..<maps {
                let row = d + m &* outPlane
                var sum: Float = 0
                for p in 0..<outPlane { sum += row[p] }
                nablaB[m] += sum
            }
            // (BP4) nablaW (maps, C*KH*KW) += delta (maps, OH*OW) · colᵀ (OH*OW, C*KH*KW)
            im2col(x, s, col: scratch)                          // scratch: col (C*KH*KW, OH*OW)
            sgemm(transposeA: false, transposeB: true, m: maps, n: patch, k: outPlane, alpha: 1,
                  a: d, lda: outPlane, b: scratch, ldb: outPlane, beta: 1, c: nablaW, ldc: patch)
            if let inputDelta {
                // (BP2) dcol (C*KH*KW, OH*OW) = Wᵀ (C*KH*KW, maps) · delta (maps, OH*OW), into scratch.
                sgemm(transposeA: true, transposeB: false, m: patch, n: outPlane, k: maps, alpha: 1,
                      a: weights, lda: patch, b: d, ldb: outPlane, beta: 0, c: scratch, ldc: outPlane)
                let dx = inputDelta + r &* inSize               // (channels, height, width)
                dx.update(repeating: 0, count: inSize)
                col2im(scratch, s, into: dx)
            }
        }
    }
}

extension CPUKernels {
    /// Max-pooling over non-overlapping poolHeight x poolWidth windows; a remainder row/column is
    /// ignored (network3's ignore_border=True). input (batch, channels, height, width); output
    /// (batch, channels, height/poolHeight, width/poolWidth), overwritten; argmax (same count as
    /// output) receives the index within the example's channel plane (y*width + x) of each maximum
    /// (the first maximum in row-major window order on ties), if not nil.
    ///
    /// A NaN in a window is that window's maximum (the first NaN wins), so NaN propagates as it does
    /// through `max` in network3. Non-positive sizes, or a pool larger than the input, are a no-op.
    /// Re-entrant.
    public static func maxPool2dForward(input: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                                 poolHeight: Int, poolWidth: Int,
                                 output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?) {
        guard batch > 0, channels > 0, height > 0, width > 0, poolHeight > 0, poolWidth > 0 else { return }
        let outHeight = height / poolHeight, outWidth = width / poolWidth
        guard outHeight > 0, outWidth > 0 else { return }
        let inPlane = height &* width, outPlane = outHeight &* outWidth
        if poolHeight == 2 && poolWidth == 2 && argmax == nil && outWidth % 4 == 0 {
            maxPool2x2Quads(input, planes: batch &* channels, height: height, width: width,
                            outHeight: outHeight, outWidth: outWidth, output: output)
            return
        }
        for plane in 0..<(batch &* channels) {
            let x = input + plane &* inPlane                    // (height, width)
            let out = output + plane &* outPlane                // (outHeight, outWidth)
            if poolHeight == 2 && poolWidth == 2 && argmax == nil {
                maxPool2x2Values(x, width: width, outHeight: outHeight, outWidth: outWidth, output: out)
                continue
            }
            if poolHeight == 2 && poolWidth == 2 {
                // The book's 2 x 2 pooling, four windows at a time as SIMD lanes with selects instead
                // of branches: which of four values is the largest is unpredictable, and mispredicted
                // branches would cost far more than the comparisons.
                for oy in 0..<outHeight {
                    let rowStart = oy &* 2 &* width
                    let top = x + rowStart, bottom = top + width
                    let o = oy &* outWidth
                    let arg = argmax.map { $0 + (plane &* outPlane &+ o) }
                    var ox = 0
                    while ox &+ 4 <= outWidth {
                        let x0 = ox &* 2
                        let t = UnsafeRawPointer(top + x0).loadUnaligned(as: SIMD8<Float>.self)
                        let b = UnsafeRawPointer(bottom + x0).loadUnaligned(as: SIMD8<Float>.self)
                        var best = SIMD4(t[0], t[2], t[4], t[6])
                        let first = SIMD4<Int32>(0, 2, 4, 6) &+ Int32(truncatingIfNeeded: rowStart &+ x0)
                        var bestIndex = first
                        poolStep4(SIMD4(t[1], t[3], t[5], t[7]), first &+ 1, &best, &bestIndex)
                        poolStep4(SIMD4(b[0], b[2], b[4], b[6]), first &+ Int32(truncatingIfNeeded: width), &best, &bestIndex)
                        poolStep4(SIMD4(b[1], b[3], b[5], b[7]), first &+ Int32(truncatingIfNeeded: width &+ 1), &best, &bestIndex)
                        UnsafeMutableRawPointer(out + (o &+ ox)).storeBytes(of: best, as: SIMD4<Float>.self)
                        if let arg { UnsafeMutableRawPointer(arg + ox).storeBytes(of: bestIndex, as: SIMD4<Int32>.self) }
                        ox &+= 4
                    }
                    while ox < outWidth {
                        let x0 = ox &* 2
                        var best = top[x0], bestIndex = rowStart &+ x0
                        poolStep(top[x0 &+ 1], rowStart &+ x0 &+ 1, &best, &bestIndex)
                        poolStep(bottom[x0], rowStart &+ width &+ x0, &best, &bestIndex)
                        poolStep(bottom[x0 &+ 1], rowStart &+ width &+ x0 &+ 1, &best, &bestIndex)
                        out[o &+ ox] = best
                        arg?[ox] = Int32(truncatingIfNeeded: bestIndex)
                        ox &+= 1
                    }
                }
                continue
            }
            let arg = argmax.map { $0 + plane &* outPlane }     // (outHeight, outWidth)
            for oy in 0..<outHeight {
                for ox in 0..<outWidth {
                    let y0 = oy &* poolHeight, x0 = ox &* poolWidth
                    var bestIndex = y0 &* width &+ x0
                    var best = x[bestIndex]
                    for i in 0..<poolHeight {
                        let rowStart = (y0 &+ i) &* width &+ x0
                        for j in 0..<poolWidth { poolStep(x[rowStart &+ j], rowStart &+ j, &best, &bestIndex) }
                    }
                    out[oy &* outWidth &+ ox] = best
                    arg?[oy &* outWidth &+ ox] = Int32(truncatingIfNeeded: bestIndex)
                }
            }
        }
    }
}

/// 2 x 2 max-pooling without argmax (inference) of `planes` planes whose output width is a
/// multiple of 4. Each pair of output rows is a sequence of runs of 4 windows on one row (an even
/// number), taken two runs at a time (`poolEight`), so that even a 4-wide output fills a vector.
/// Bit for bit the values of `maxPool2x2Values`.
@inline(__always)
private func maxPool2x2Quads(_ input: UnsafePointer<Float>, planes: Int, height: Int, width: Int,
                             outHeight: Int, outWidth: Int, output: UnsafeMutablePointer<Float>) {
    let runs = outWidth / 4                                      // runs of 4 windows per output row
    let inPlane = height &* width, outPlane = outHeight &* outWidth
    for plane in 0..<planes {
        let x = input + plane &* inPlane
        let out = output + plane &* outPlane
        var oy = 0
        while oy &+ 2 <= outHeight {
            let top = x + oy &* 2 &* width
            // Run k of the pair's 2 * runs: on the first row for k < runs, else on the second.
            @inline(__always) func run(_ k: Int) -> UnsafePointer<Float> {
                k < runs ? top + k &* 8 : top + (2 &* width &+ (k &- runs) &* 8)
            }
            let o = out + oy &* outWidth
            var k = 0
            while k < 2 &* runs {
                let a = run(k), b = run(k &+ 1)
                UnsafeMutableRawPointer(o + k &* 4).storeBytes(of: poolEight(a, b, a + width, b + width), as: SIMD8<Float>.self)
                k &+= 2
            }
            oy &+= 2
        }
        if oy < outHeight {
            // The last output row of an odd count.
            let top = x + oy &* 2 &* width
            let o = out + oy &* outWidth
            var k = 0
            while k &+ 2 <= runs {
                let a = top + k &* 8, b = a + 8
                UnsafeMutableRawPointer(o + k &* 4).storeBytes(of: poolEight(a, b, a + width, b + width), as: SIMD8<Float>.self)
                k &+= 2
            }
            if k < runs {
                let a = top + k &* 8
                UnsafeMutableRawPointer(o + k &* 4).storeBytes(of: poolFour(a, a + width), as: SIMD4<Float>.self)
            }
        }
    }
}

/// 2 x 2 max-pooling of one plane without argmax (inference) whose output width is not a multiple
/// of 4 (`maxPool2x2Quads` takes the others), eight windows at a time where it can: the four values of each window are gathered into four vectors (a shuffle per pair of
/// input vectors), and each row's pair is combined before the two rows. Taking "the first maximum
/// in row-major order, or the first NaN" is associative, so that picks the same value, bit for bit
/// (±0 and NaN included), as `poolStep` going through the window in row-major order;
/// `maxPool2dForward`'s argmax path gives the same outputs.
@inline(__always)
private func maxPool2x2Values(_ x: UnsafePointer<Float>, width: Int, outHeight: Int, outWidth: Int,
                              output out: UnsafeMutablePointer<Float>) {
    for oy in 0..<outHeight {
        let top = x + oy &* 2 &* width, bottom = top + width
        let o = out + oy &* outWidth
        var ox = 0
        while ox &+ 8 <= outWidth {
            let t = top + ox &* 2, b = bottom + ox &* 2
            UnsafeMutableRawPointer(o + ox).storeBytes(of: poolEight(t, t + 8, b, b + 8), as: SIMD8<Float>.self)
            ox &+= 8
        }
        if ox &+ 4 <= outWidth {
            UnsafeMutableRawPointer(o + ox).storeBytes(of: poolFour(top + ox &* 2, bottom + ox &* 2), as: SIMD4<Float>.self)
            ox &+= 4
        }
        while ox < outWidth {
            let x0 = ox &* 2
            var best = top[x0], index = 0
            poolStep(top[x0 &+ 1], 0, &best, &index)
            poolStep(bottom[x0], 0, &best, &index)
            poolStep(bottom[x0 &+ 1], 0, &best, &index)
            o[ox] = best
            ox &+= 1
        }
    }
}

/// Eight 2 x 2 windows: four on the top rows t0 and bottom rows b0 (8 floats each), then four on
/// t1 and b1. Returns their maxima in that order.
@inline(__always)
private func poolEight(_ t0: UnsafePointer<Float>, _ t1: UnsafePointer<Float>,
                       _ b0: UnsafePointer<Float>, _ b1: UnsafePointer<Float>) -> SIMD8<Float> {
    let tl = UnsafeRawPointer(t0).loadUnaligned(as: SIMD8<Float>.self)
    let th = UnsafeRawPointer(t1).loadUnaligned(as: SIMD8<Float>.self)
    let bl = UnsafeRawPointer(b0).loadUnaligned(as: SIMD8<Float>.self)
    let bh = UnsafeRawPointer(b1).loadUnaligned(as: SIMD8<Float>.self)
    // Lanes hold windows 0, 1, 4, 5, 2, 3, 6, 7 (one in-lane shuffle each, as vshufps does).
    let m = firstMax(firstMax(evens(tl, th), odds(tl, th)), firstMax(evens(bl, bh), odds(bl, bh)))
    return SIMD8(m[0], m[1], m[4], m[5], m[2], m[3], m[6], m[7])
}

/// Four 2 x 2 windows on the top row t and bottom row b (8 floats each). Returns their maxima.
@inline(__always)
private func poolFour(_ t: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> SIMD4<Float> {
    let top = UnsafeRawPointer(t).loadUnaligned(as: SIMD8<Float>.self)
    let bottom = UnsafeRawPointer(b).loadUnaligned(as: SIMD8<Float>.self)
    // Even lanes: the window's top pair, then its bottom pair, then both (odd lanes unused).
    let m = firstMax(firstMax(top, swapPairs(top)), firstMax(bottom, swapPairs(bottom)))
    return SIMD4(m[0], m[2], m[4], m[6])
}

/// Lanes (a0, a2, b0, b2, a4, a6, b4, b6).
@inline(__always)
private func evens(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[0], a[2], b[0], b[2], a[4], a[6], b[4], b[6])
}

/// Lanes (a1, a3, b1, b3, a5, a7, b5, b7).
@inline(__always)
private func odds(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(a[1], a[3], b[1], b[3], a[5], a[7], b[5], b[7])
}

/// Lane-wise: b where b is strictly greater than a or is a NaN while a is not, else a.
@inline(__always)
private func firstMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
    a.replacing(with: b, where: (b .> a) .| ((b .!= b) .& (a .== a)))
}

/// Lanes (1, 0, 3, 2, 5, 4, 7, 6) of v.
@inline(__always)
private func swapPairs(_ v: SIMD8<Float>) -> SIMD8<Float> {
    SIMD8(v[1], v[0], v[3], v[2], v[5], v[4], v[7], v[6])
}

/// `poolStep` for four windows side by side (lanes), with lane-wise selects.
@inline(__always)
func poolStep4(_ v: SIMD4<Float>, _ index: SIMD4<Int32>, _ best: inout SIMD4<Float>, _ bestIndex: inout SIMD4<Int32>) {
    let better = (v .> best) .| ((v .!= v) .& (best .== best))
    best.replace(with: v, where: better)
    bestIndex.replace(with: index, where: better)
}

/// One step of a pooling window, in row-major order: v at index replaces the running maximum if it
/// is strictly greater (so the first maximum is kept) or if it is the window's first NaN (so NaN
/// propagates as through `max` in network3). Written as selects, without branches.
@inline(__always)
func poolStep(_ v: Float, _ index: Int, _ best: inout Float, _ bestIndex: inout Int) {
    let better = (v > best) || (v != v && best == best)
    best = better ? v : best
    bestIndex = better ? index : bestIndex
}

extension CPUKernels {
    /// Routes delta (batch, channels, OH, OW) to the argmax positions: inputDelta (batch, channels,
    /// height, width) is overwritten (zero except at the maxima).
    ///
    /// OH = height/poolHeight and OW = width/poolWidth as in `maxPool2dForward`, whose argmax this
    /// takes. An argmax entry outside 0..<height*width is skipped (its delta is dropped), so bad
    /// indices never write out of bounds. Non-positive sizes are a no-op. Re-entrant.
    public static func maxPool2dBackward(delta: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                                  poolHeight: Int, poolWidth: Int, argmax: UnsafePointer<Int32>,
                                  inputDelta: UnsafeMutablePointer<Float>) {
        guard batch > 0, channels > 0, height > 0, width > 0, poolHeight > 0, poolWidth > 0 else { return }
        let inPlane = height &* width
        inputDelta.update(repeating: 0, count: batch &* channels &* inPlane)
        let outHeight = height / poolHeight, outWidth = width / poolWidth
        guard outHeight > 0, outWidth > 0 else { return }
        let outPlane = outHeight &* outWidth
        for plane in 0..<(batch &* channels) {
            let d = delta + plane &* outPlane                   // (OH, OW)
            let arg = argmax + plane &* outPlane                // (OH, OW)
            let dx = inputDelta + plane &* inPlane              // (height, width)
            for o in 0..<outPlane {
                let index = Int(arg[o])
                if index >= 0 && index < inPlane { dx[index] += d[o] }
            }
        }
    }
}

// MARK: - im2col

/// A validated convolution shape (all sizes positive, kernel inside the input).
struct ConvShape {
    let channels: Int, height: Int, width: Int
    let kernelHeight: Int, kernelWidth: Int
    let outHeight: Int, outWidth: Int
    /// Rows of the column matrix: channels * kernelHeight * kernelWidth.
    var patch: Int { channels &* kernelHeight &* kernelWidth }

    init?(batch: Int, channels: Int, height: Int, width: Int, maps: Int, kernelHeight: Int, kernelWidth: Int) {
        guard batch > 0, channels > 0, maps > 0, kernelHeight > 0, kernelWidth > 0,
              height >= kernelHeight, width >= kernelWidth else { return nil }
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        outHeight = height &- kernelHeight &+ 1
        outWidth = width &- kernelWidth &+ 1
    }
}

/// col (C*KH*KW, OH*OW) with col[(c*KH + i)*KW + j][y*OW + x] = x[c][y+i][x+j];
/// x is one example (channels, height, width).
@inline(__always)
func im2col(_ x: UnsafePointer<Float>, _ s: ConvShape, col: UnsafeMutablePointer<Float>) {
    let outPlane = s.outHeight &* s.outWidth
    var row = col
    for c in 0..<s.channels {
        let plane = x + c &* s.height &* s.width
        for i in 0..<s.kernelHeight {
            for j in 0..<s.kernelWidth {
                for y in 0..<s.outHeight {
                    copyRow(from: plane + ((y &+ i) &* s.width &+ j), to: row + y &* s.outWidth, count: s.outWidth)
                }
                row += outPlane
            }
        }
    }
}

/// The column matrix of one example (as `im2col`) written straight into sgemm's packed-B layout
/// (`packGEMMB`), which saves writing it once and packing it again: for each block of KC rows,
/// NR-wide panels of consecutive output positions. The positions of a panel fall into runs that
/// are contiguous in the input (one output row each); the runs of every panel are listed once,
/// then each row of the matrix (one input offset) copies them all.
@inline(__always)
func im2colPacked(_ x: UnsafePointer<Float>, _ s: ConvShape, into packed: UnsafeMutablePointer<Float>) {
    let positions = s.outHeight &* s.outWidth, k = s.patch
    let nPadded = roundUp(positions, gemmNR)
    let panels = nPadded / gemmNR
    // At most two runs per panel when the output is at least NR wide, else one per output row
    // the panel touches, plus one.
    let maxRuns = panels &* (gemmNR / max(1, min(s.outWidth, gemmNR)) &+ 2)
    withUnsafeTemporaryAllocation(of: (panelOffset: Int, source: Int, length: Int).self, capacity: maxRuns) { runs in
        var runCount = 0
        var q = 0
        while q < positions {
            let y = q / s.outWidth, xPos = q &- y &* s.outWidth
            let panelEnd = (q / gemmNR &+ 1) &* gemmNR
            let length = min(s.outWidth &- xPos, panelEnd &- q, positions &- q)
            runs[runCount] = (q, y &* s.width &+ xPos, length)
            runCount &+= 1
            q &+= length
        }
        var pc = 0
        while pc < k {
            let kc = min(gemmKC, k &- pc)
            let block = packed + pc &* nPadded                  // (panels, kc, NR)
            // Row pc of the matrix is input offset (c, i, j); advance it row by row.
            var c = pc / (s.kernelHeight &* s.kernelWidth)
            let rest = pc &- c &* s.kernelHeight &* s.kernelWidth
            var i = rest / s.kernelWidth, j = rest &- i &* s.kernelWidth
            for p in 0..<kc {
                let source = x + (c &* s.height &* s.width &+ i &* s.width &+ j)
                for r in 0..<runCount {
                    let run = runs[r]
                    let panel = run.panelOffset / gemmNR, column = run.panelOffset &- panel &* gemmNR
                    copyRow(from: source + run.source, to: block + (panel &* kc &* gemmNR &+ p &* gemmNR &+ column),
                            count: run.length)
                }
                if positions < nPadded {
                    // Zero the last panel's columns past the end.
                    let last = panels &- 1, column = positions &- last &* gemmNR
                    (block + (last &* kc &* gemmNR &+ p &* gemmNR &+ column)).update(repeating: 0, count: gemmNR &- column)
                }
                j &+= 1
                if j == s.kernelWidth {
                    j = 0
                    i &+= 1
                    if i == s.kernelHeight { i = 0; c &+= 1 }
                }
            }
            pc &+= kc
        }
    }
}

/// The adjoint of im2col: dx[c][y+i][x+j] += dcol[(c*KH + i)*KW + j][y*OW + x], summed in the
/// order (c, i, j, y, x). dcol (C*KH*KW, OH*OW); dx one example (channels, height, width).
@inline(__always)
func col2im(_ dcol: UnsafePointer<Float>, _ s: ConvShape, into dx: UnsafeMutablePointer<Float>) {
    let outPlane = s.outHeight &* s.outWidth
    var row = dcol
    for c in 0..<s.channels {
        let plane = dx + c &* s.height &* s.width
        for i in 0..<s.kernelHeight {
            for j in 0..<s.kernelWidth {
                for y in 0..<s.outHeight {
                    let src = row + y &* s.outWidth
                    let dst = plane + ((y &+ i) &* s.width &+ j)
                    for x in 0..<s.outWidth { dst[x] += src[x] }
                }
                row += outPlane
            }
        }
    }
}

/// dst[0..<count] = src[0..<count], eight floats at a time: im2col copies rows of a few floats
/// each (8 to 24 for the book's nets), where a call to memmove per row would cost more than the copy.
@inline(__always)
func copyRow(from src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int) {
    var x = 0
    while x &+ 8 <= count {
        UnsafeMutableRawPointer(dst + x).storeBytes(
            of: UnsafeRawPointer(src + x).loadUnaligned(as: SIMD8<Float>.self), as: SIMD8<Float>.self)
        x &+= 8
    }
    while x < count { dst[x] = src[x]; x &+= 1 }
}
