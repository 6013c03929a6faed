// Dense-layer kernels shared by the trainer and the runtime: forward/backward pairs over unsafe
// buffers, with the shape of every buffer in its comment. Row-major throughout.
//
// The forward pass is dot products with a fixed 8-lane summation order (`dot`, computed in tiles); the
// backward pass is two packed `sgemm` products for mini-batches (GEMM.swift) and saxpy loops
// (y[0..<n] += a * x[0..<n]) for one or a few rows. Every sum has a fixed order determined by the
// shapes, so results are deterministic (the dot products agree bit for bit between the builds; the
// sgemm products differ in rounding where the AVX2 build fuses multiply-adds).

extension CPUKernels {
    /// output (batch, outFeatures) = input (batch, inFeatures) · weightsᵀ + bias, where weights is
    /// (outFeatures, inFeatures) and bias (outFeatures). Computes z = W x + b for every row x.
    ///
    /// Each output is bias[j] + dot(row, weights row j) with `dot`'s fixed summation order, so a row's
    /// result is bit-identical whatever batch it is computed in (the runtime, CLI and bindings batch
    /// differently and still agree exactly). This is also why the forward pass does not go through
    /// `sgemm`, whose order differs; at the trainer's batch sizes the tiled dot products are as fast.
    public static func denseForward(
        input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outFeatures: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        guard batch > 0, outFeatures > 0 else { return }
        // Tiles of up to 5 rows x 2 weight rows: each loaded vector of a weight row serves 5 rows
        // and each vector of a row 2 weight rows (10 accumulators in registers), where pairs of
        // dot products loaded the weights once per 2 rows and the rows once per weight row. The
        // trainer's half mini-batches are 5 rows; the 5 rows stay in L1 while the weights stream.
        var r = 0
        while r < batch {
            let rows = batch &- r >= 5 ? 5 : batch &- r
            switch rows {
            case 5: forwardRows(5, r, input, inFeatures, weights, bias, outFeatures, output)
            case 4: forwardRows(4, r, input, inFeatures, weights, bias, outFeatures, output)
            case 3: forwardRows(3, r, input, inFeatures, weights, bias, outFeatures, output)
            case 2: forwardRows(2, r, input, inFeatures, weights, bias, outFeatures, output)
            default: forwardRows(1, r, input, inFeatures, weights, bias, outFeatures, output)
            }
            r &+= rows
        }
    }
}

/// `denseForward` for the R (a literal, 1...5) rows r0 ..< r0+R: every output of those rows, two
/// weight rows at a time.
@inline(__always)
private func forwardRows(_ R: Int, _ r0: Int, _ input: UnsafePointer<Float>, _ n: Int,
                         _ weights: UnsafePointer<Float>, _ bias: UnsafePointer<Float>, _ outFeatures: Int,
                         _ output: UnsafeMutablePointer<Float>) {
    let x = input + r0 &* n
    let out = output + r0 &* outFeatures
    var j = 0
    while j &+ 2 <= outFeatures {
        forwardTile(R, 2, x, weights + j &* n, n, bias + j, out + j, outFeatures)
        j &+= 2
    }
    if j < outFeatures {
        forwardTile(R, 1, x, weights + j &* n, n, bias + j, out + j, outFeatures)
    }
}

/// out[r][t] = bias[t] + dot(x row r, w row t) for r < R rows of x and t < J (1 or 2) rows of w,
/// all of length n, each bit-identical to `dot`: `dot`'s two accumulators sum the even and the
/// odd 8-float chunks, each in increasing order, so the even chunks of every pair are summed in
/// one pass and the odd ones in a second, with the same per-lane sums, combined as `dot` combines
/// them. R and J are literals once inlined; unused accumulators disappear.
@inline(__always)
private func forwardTile(_ R: Int, _ J: Int, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ n: Int,
                         _ bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, _ outStride: Int) {
    typealias V = SIMD8<Float>
    @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
    // The sums over the chunks k, k + 16, k + 32, ... (k = 0: even chunks; k = 8: odd).
    @inline(__always) func pass(_ first: Int) -> (V, V, V, V, V, V, V, V, V, V) {
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V()     // weight row 0, rows 0-4
        var b0 = V(), b1 = V(), b2 = V(), b3 = V(), b4 = V()     // weight row 1
        var k = first
        while k &+ 8 <= n {
            let w0 = load(w + k)
            let w1 = J > 1 ? load(w + (n &+ k)) : V()
            let x0 = load(x + k)
            a0 = a0 + x0 * w0
            if J > 1 { b0 = b0 + x0 * w1 }
            if R > 1 {
                let x1 = load(x + (n &+ k))
                a1 = a1 + x1 * w0
                if J > 1 { b1 = b1 + x1 * w1 }
            }
            if R > 2 {
                let x2 = load(x + (2 &* n &+ k))
                a2 = a2 + x2 * w0
                if J > 1 { b2 = b2 + x2 * w1 }
            }
            if R > 3 {
                let x3 = load(x + (3 &* n &+ k))
                a3 = a3 + x3 * w0
                if J > 1 { b3 = b3 + x3 * w1 }
            }
            if R > 4 {
                let x4 = load(x + (4 &* n &+ k))
                a4 = a4 + x4 * w0
                if J > 1 { b4 = b4 + x4 * w1 }
            }
            k &+= 16
        }
        return (a0, a1, a2, a3, a4, b0, b1, b2, b3, b4)
    }
    let even = pass(0)
    let odd = pass(8)
    let tailStart = n & ~7
    @inline(__always) func finish(_ acc0: V, _ acc1: V, _ r: Int, _ t: Int) {
        let xr = x + r &* n, wt = w + t &* n
        var tail: Float = 0
        var k = tailStart
        while k < n {
            tail += xr[k] * wt[k]
            k &+= 1
        }
        let s = acc0 + acc1
        let s4 = s.lowHalf + s.highHalf
        let s2 = s4.lowHalf + s4.highHalf
        out[r &* outStride &+ t] = bias[t] + ((s2[0] + s2[1]) + tail)
    }
    finish(even.0, odd.0, 0, 0)
    if R > 1 { finish(even.1, odd.1, 1, 0) }
    if R > 2 { finish(even.2, odd.2, 2, 0) }
    if R > 3 { finish(even.3, odd.3, 3, 0) }
    if R > 4 { finish(even.4, odd.4, 4, 0) }
    if J > 1 {
        finish(even.5, odd.5, 0, 1)
        if R > 1 { finish(even.6, odd.6, 1, 1) }
        if R > 2 { finish(even.7, odd.7, 2, 1) }
        if R > 3 { finish(even.8, odd.8, 3, 1) }
        if R > 4 { finish(even.9, odd.9, 4, 1) }
    }
}

/// Dot product of two contiguous vectors of length n, accumulated in a fixed order (8 partial
/// sums combined pairwise), so the result is the same on every run and every CPU.
@inline(__always)
func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = SIMD8<Float>(repeating: 0)
    var acc1 = SIMD8<Float>(repeating: 0)
    var k = 0
    while k &+ 16 <= n {
        let a0 = UnsafeRawPointer(a + k).loadUnaligned(as: SIMD8<Float>.self)
        let b0 = UnsafeRawPointer(b + k).loadUnaligned(as: SIMD8<Float>.self)
        let a1 = UnsafeRawPointer(a + (k &+ 8)).loadUnaligned(as: SIMD8<Float>.self)
        let b1 = UnsafeRawPointer(b + (k &+ 8)).loadUnaligned(as: SIMD8<Float>.self)
        acc0 = acc0 + a0 * b0
        acc1 = acc1 + a1 * b1
        k &+= 16
    }
    if k &+ 8 <= n {
        let a0 = UnsafeRawPointer(a + k).loadUnaligned(as: SIMD8<Float>.self)
        let b0 = UnsafeRawPointer(b + k).loadUnaligned(as: SIMD8<Float>.self)
        acc0 = acc0 + a0 * b0
        k &+= 8
    }
    var tail: Float = 0
    while k < n {
        tail += a[k] * b[k]
        k &+= 1
    }
    let s = acc0 + acc1
    let s4 = s.lowHalf + s.highHalf
    let s2 = s4.lowHalf + s4.highHalf
    return (s2[0] + s2[1]) + tail
}

/// y[0..<n] += alpha * x[0..<n].
@inline(__always)
func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var k = 0
    while k < n {
        y[k] += alpha * x[k]
        k &+= 1
    }
}

extension CPUKernels {
    /// Backward pass of `denseForward` for one layer, given delta = ∂C/∂z (batch, outFeatures):
    /// - nablaW (outFeatures, inFeatures) += deltaᵀ · input      (BP4: ∂C/∂w_jk = a_k δ_j)
    /// - nablaB (outFeatures)            += column sums of delta  (BP3: ∂C/∂b_j = δ_j)
    /// - inputDelta (batch, inFeatures)   = delta · weights, if not nil (the first half of BP2; the
    ///   caller multiplies by σ'(z) of the layer below).
    /// Gradients accumulate; inputDelta is overwritten.
    ///
    /// From `denseBackwardGEMMMinBatch` rows on (from 2 rows for layers of `denseBackwardGEMMMinWeights`
    /// weights or more), the two products run as packed `sgemm` calls (about twice as fast for
    /// mini-batches of 10); smaller batches use saxpy loops that skip zero deltas.
    /// Either way the summation order is fixed by the shapes, so results are deterministic.
    public static func denseBackward(
        input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
        weights: UnsafePointer<Float>, outFeatures: Int,
        delta: UnsafePointer<Float>,
        nablaW: UnsafeMutablePointer<Float>, nablaB: UnsafeMutablePointer<Float>,
        inputDelta: UnsafeMutablePointer<Float>?
    ) {
        guard batch > 0, inFeatures > 0, outFeatures > 0 else {
            if let inputDelta, batch > 0, inFeatures > 0 { inputDelta.update(repeating: 0, count: batch &* inFeatures) }
            return
        }
        if batch >= denseBackwardGEMMMinBatch {
            // (BP3) column sums of delta, row after row.
            for r in 0..<batch {
                let d = delta + r &* outFeatures
                for j in 0..<outFeatures { nablaB[j] += d[j] }
            }
            // (BP4) nablaW (out, in) += deltaᵀ (out, batch) · input (batch, in)
            sgemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: batch, alpha: 1,
                  a: delta, lda: outFeatures, b: input, ldb: inFeatures, beta: 1, c: nablaW, ldc: inFeatures)
            if let inputDelta {
                denseInputDelta(batch: batch, inFeatures: inFeatures, weights: weights, outFeatures: outFeatures,
                                delta: delta, inputDelta: inputDelta)
            }
            return
        }
        for r in 0..<batch {
            let d = delta + r &* outFeatures
            let x = input + r &* inFeatures
            for j in 0..<outFeatures {
                let dj = d[j]
                nablaB[j] += dj
                if dj != 0 { axpy(dj, x, nablaW + j &* inFeatures, inFeatures) }
            }
        }
        if let inputDelta {
            denseInputDelta(batch: batch, inFeatures: inFeatures, weights: weights, outFeatures: outFeatures,
                            delta: delta, inputDelta: inputDelta)
        }
    }

    /// inputDelta (batch, inFeatures) = delta (batch, outFeatures) · weights (outFeatures, inFeatures):
    /// `denseBackward`'s inputDelta alone, bit for bit (the same sgemm or saxpy path for the same
    /// shapes), for callers that take the weight gradient elsewhere (`denseUpdate`).
    public static func denseInputDelta(
        batch: Int, inFeatures: Int, weights: UnsafePointer<Float>, outFeatures: Int,
        delta: UnsafePointer<Float>, inputDelta: UnsafeMutablePointer<Float>
    ) {
        guard batch > 0, inFeatures > 0 else { return }
        guard outFeatures > 0 else {
            inputDelta.update(repeating: 0, count: batch &* inFeatures)
            return
        }
        if batch >= denseBackwardGEMMMinBatch {
            // (BP2) inputDelta (batch, in) = delta (batch, out) · weights (out, in)
            sgemm(transposeA: false, transposeB: false, m: batch, n: inFeatures, k: outFeatures, alpha: 1,
                  a: delta, lda: outFeatures, b: weights, ldb: inFeatures, beta: 0, c: inputDelta, ldc: inFeatures)
            return
        }
        // Each weight row is read once for all the rows (which stay in L1), not once per row;
        // every output still sums its terms in increasing j.
        inputDelta.update(repeating: 0, count: batch &* inFeatures)
        for j in 0..<outFeatures {
            let w = weights + j &* inFeatures
            for r in 0..<batch {
                let dj = delta[r &* outFeatures &+ j]
                if dj != 0 { axpy(dj, w, inputDelta + r &* inFeatures, inFeatures) }
            }
        }
    }

    /// One plain SGD step of a dense layer fused with its gradient, so the weights are streamed
    /// through memory once (read and written) instead of a gradient buffer being accumulated,
    /// read, and zeroed:
    /// - weights (outFeatures, inFeatures) = decay · weights − step · (deltaᵀ · input)
    /// - bias (outFeatures)               = bias − step · (column sums of delta)
    /// with delta (batch, outFeatures) = ∂C/∂z and input (batch, inFeatures) the layer's input, as
    /// for `denseBackward`. For the book's w → (1 − ηλ/n) w − (η/m) Σ ∂C/∂w: decay = 1 − ηλ/n
    /// (1 without L2), step = η/m. Take `denseInputDelta` from the old weights first.
    ///
    /// Each weight's sum over the batch runs in increasing row order (fused multiply-adds in the
    /// AVX2 build) from `denseUpdateMaxTiledBatch` rows down; larger batches go through `sgemm`
    /// (alpha −step, beta decay). Each bias sum runs in increasing row order from 0, as
    /// `denseBackward` accumulates it. The order is fixed by the shapes: results are deterministic.
    ///
    /// delta's rows are `deltaStride` (at least outFeatures) floats apart, so that threads can
    /// update disjoint blocks of a layer's output rows: the call for rows j0 ..< j1 takes
    /// delta + j0, weights + j0 · inFeatures and bias + j0 with outFeatures j1 − j0 and the
    /// layer's width as the stride. Each weight's arithmetic depends only on its own row, so the
    /// blocks' results are bit-identical to one whole call's when j0 is a multiple of 4 (4-row
    /// tiles stay aligned); other splits agree within rounding.
    public static func denseUpdate(
        input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
        delta: UnsafePointer<Float>, outFeatures: Int, deltaStride: Int,
        weights: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>,
        decay: Float, step: Float
    ) {
        guard outFeatures > 0, inFeatures >= 0, batch >= 0, deltaStride >= outFeatures else { return }
        for j in 0..<outFeatures {
            var sum: Float = 0
            for r in 0..<batch { sum += delta[r &* deltaStride &+ j] }
            bias[j] = bias[j] - step * sum
        }
        guard inFeatures > 0 else { return }
        if batch > denseUpdateMaxTiledBatch {
            sgemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: batch, alpha: -step,
                  a: delta, lda: deltaStride, b: input, ldb: inFeatures, beta: decay, c: weights, ldc: inFeatures)
            return
        }
        var j = 0
        while j &+ 4 <= outFeatures {
            updateTile(4, j, input: input, batch: batch, inFeatures: inFeatures, delta: delta,
                       deltaStride: deltaStride, weights: weights, decay: decay, step: step)
            j &+= 4
        }
        while j < outFeatures {
            updateTile(1, j, input: input, batch: batch, inFeatures: inFeatures, delta: delta,
                       deltaStride: deltaStride, weights: weights, decay: decay, step: step)
            j &+= 1
        }
    }
}

/// Mini-batches of up to this many rows take `denseUpdate`'s tiled loop (the input rows, at most
/// 32 x inFeatures floats, stay in cache while the weights stream past once); larger ones sgemm.
let denseUpdateMaxTiledBatch = 32

/// `denseUpdate` for the R (a literal, 1 or 4) weight rows j0 ..< j0+R: for each PanelVector of
/// columns, the sums over the batch of delta[r][j] · input[r][k] in increasing r, then
/// w = decay · w − step · sum. Inlined with a constant R, the unused accumulators disappear.
@inline(__always)
func updateTile(_ R: Int, _ j0: Int, input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
                delta: UnsafePointer<Float>, deltaStride: Int, weights: UnsafeMutablePointer<Float>,
                decay: Float, step: Float) {
    let w0 = weights + j0 &* inFeatures
    let w1 = w0 + inFeatures, w2 = w1 + inFeatures, w3 = w2 + inFeatures
    let decays = PanelVector(repeating: decay), steps = PanelVector(repeating: step)
    @inline(__always) func update(_ w: UnsafeMutablePointer<Float>, _ acc: PanelVector) {
        let raw = UnsafeMutableRawPointer(w)
        raw.storeBytes(of: decays * raw.loadUnaligned(as: PanelVector.self) - steps * acc, as: PanelVector.self)
    }
    var k = 0
    while k &+ gemmNR <= inFeatures {
        var c0 = PanelVector(repeating: 0), c1 = PanelVector(repeating: 0)
        var c2 = PanelVector(repeating: 0), c3 = PanelVector(repeating: 0)
        var x = input + k
        var d = delta + j0
        for _ in 0..<batch {
            let xv = UnsafeRawPointer(x).loadUnaligned(as: PanelVector.self)
            multiplyAdd(&c0, PanelVector(repeating: d[0]), xv)
            if R > 1 {
                multiplyAdd(&c1, PanelVector(repeating: d[1]), xv)
                multiplyAdd(&c2, PanelVector(repeating: d[2]), xv)
                multiplyAdd(&c3, PanelVector(repeating: d[3]), xv)
            }
            x += inFeatures
            d += deltaStride
        }
        update(w0 + k, c0)
        if R > 1 {
            update(w1 + k, c1)
            update(w2 + k, c2)
            update(w3 + k, c3)
        }
        k &+= gemmNR
    }
    // The last columns one at a time, summed in the same order.
    while k < inFeatures {
        for t in 0..<R {
            var sum: Float = 0
            for r in 0..<batch { sum = scalarMultiplyAdd(sum, delta[r &* deltaStride &+ j0 &+ t], input[r &* inFeatures &+ k]) }
            let w = weights + ((j0 &+ t) &* inFeatures &+ k)
            w.pointee = decay * w.pointee - step * sum
        }
        k &+= 1
    }
}

/// acc + a * b, rounded once in the AVX2 build (as `multiplyAdd` per lane), twice in the generic one.
@inline(__always)
func scalarMultiplyAdd(_ acc: Float, _ a: Float, _ b: Float) -> Float {
#if NNRT_FMA
    return acc.addingProduct(a, b)
#else
    return acc + a * b
#endif
}

/// Mini-batches of at least this many rows take `denseBackward`'s sgemm path (measured in release
/// on x86-64: no faster than the saxpy loops up to 4 rows, 1.2-2x faster at 10, 2-3x at 100).
let denseBackwardGEMMMinBatch = 8
// (Measured for the trainer's half mini-batches of 5 rows on the book's fc1000 layers with ReLU
// and dropout: the saxpy loops, which skip the many zero deltas, beat sgemm by 1.3x.)
