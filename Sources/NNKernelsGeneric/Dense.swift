// Dense-layer kernels shared by the trainer and the runtime: forward/backward pairs over unsafe
// buffers, with the shape of every buffer in its comment. Row-major throughout.
//
// The forward pass is dot products with a fixed 8-lane summation order (`dot`, `dot2`); the
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
    /// `sgemm`, whose order differs; at the book's batch sizes the paired dot products are as fast.
    public static func denseForward(
        input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
        weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outFeatures: Int,
        output: UnsafeMutablePointer<Float>
    ) {
        // Block over the batch so a tile of rows reuses each weight row from cache: the weights are
        // streamed from memory once per 8 rows (a large layer's weights do not fit in L2, and the
        // trainer's half mini-batches are 5 rows).
        let rowBlock = 8
        var r0 = 0
        while r0 < batch {
            let r1 = min(r0 &+ rowBlock, batch)
            for j in 0..<outFeatures {
                let w = weights + j &* inFeatures
                var r = r0
                while r &+ 2 <= r1 {
                    // Two rows share each load of the weight row; same sums as `dot`, bit for bit.
                    let (z0, z1) = dot2(input + r &* inFeatures, input + (r &+ 1) &* inFeatures, w, inFeatures)
                    output[r &* outFeatures &+ j] = bias[j] + z0
                    output[(r &+ 1) &* outFeatures &+ j] = bias[j] + z1
                    r &+= 2
                }
                if r < r1 {
                    output[r &* outFeatures &+ j] = bias[j] + dot(input + r &* inFeatures, w, inFeatures)
                }
            }
            r0 = r1
        }
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

/// (dot(a0, b, n), dot(a1, b, n)) in one pass over b: each result is bit-identical to `dot`'s, so
/// a row's output does not depend on how the rows of a batch are paired.
@inline(__always)
func dot2(_ a0: UnsafePointer<Float>, _ a1: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                 _ n: Int) -> (Float, Float) {
    var acc00 = SIMD8<Float>(repeating: 0), acc01 = SIMD8<Float>(repeating: 0)   // row 0
    var acc10 = SIMD8<Float>(repeating: 0), acc11 = SIMD8<Float>(repeating: 0)   // row 1
    var k = 0
    while k &+ 16 <= n {
        let b0 = UnsafeRawPointer(b + k).loadUnaligned(as: SIMD8<Float>.self)
        let b1 = UnsafeRawPointer(b + (k &+ 8)).loadUnaligned(as: SIMD8<Float>.self)
        acc00 = acc00 + UnsafeRawPointer(a0 + k).loadUnaligned(as: SIMD8<Float>.self) * b0
        acc01 = acc01 + UnsafeRawPointer(a0 + (k &+ 8)).loadUnaligned(as: SIMD8<Float>.self) * b1
        acc10 = acc10 + UnsafeRawPointer(a1 + k).loadUnaligned(as: SIMD8<Float>.self) * b0
        acc11 = acc11 + UnsafeRawPointer(a1 + (k &+ 8)).loadUnaligned(as: SIMD8<Float>.self) * b1
        k &+= 16
    }
    if k &+ 8 <= n {
        let b0 = UnsafeRawPointer(b + k).loadUnaligned(as: SIMD8<Float>.self)
        acc00 = acc00 + UnsafeRawPointer(a0 + k).loadUnaligned(as: SIMD8<Float>.self) * b0
        acc10 = acc10 + UnsafeRawPointer(a1 + k).loadUnaligned(as: SIMD8<Float>.self) * b0
        k &+= 8
    }
    var tail0: Float = 0, tail1: Float = 0
    while k < n {
        tail0 += a0[k] * b[k]
        tail1 += a1[k] * b[k]
        k &+= 1
    }
    let s0 = acc00 + acc01, s1 = acc10 + acc11
    let s04 = s0.lowHalf + s0.highHalf, s14 = s1.lowHalf + s1.highHalf
    let s02 = s04.lowHalf + s04.highHalf, s12 = s14.lowHalf + s14.highHalf
    return ((s02[0] + s02[1]) + tail0, (s12[0] + s12[1]) + tail1)
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
        inputDelta.update(repeating: 0, count: batch &* inFeatures)
        for r in 0..<batch {
            let d = delta + r &* outFeatures
            let out = inputDelta + r &* inFeatures
            for j in 0..<outFeatures {
                let dj = d[j]
                if dj != 0 { axpy(dj, weights + j &* inFeatures, out, inFeatures) }
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
