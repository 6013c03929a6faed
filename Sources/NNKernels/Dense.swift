// Dense-layer kernels shared by the trainer and the runtime: forward/backward pairs over unsafe
// buffers, with the shape of every buffer in its comment. Row-major throughout.
//
// The inner loops are saxpy-shaped (y[0..<n] += a * x[0..<n]) over contiguous memory, which the
// compiler vectorises without reassociating a reduction, so results are deterministic and do not
// depend on the vector width the code was built for.

/// output (batch, outFeatures) = input (batch, inFeatures) · weightsᵀ + bias, where weights is
/// (outFeatures, inFeatures) and bias (outFeatures). Computes z = W x + b for every row x.
@inlinable
public func denseForward(
    input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
    weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outFeatures: Int,
    output: UnsafeMutablePointer<Float>
) {
    // Block over the batch so a tile of rows reuses each weight row from cache.
    let rowBlock = 4
    var r0 = 0
    while r0 < batch {
        let r1 = min(r0 &+ rowBlock, batch)
        for j in 0..<outFeatures {
            let w = weights + j &* inFeatures
            var r = r0
            while r < r1 {
                output[r &* outFeatures &+ j] = bias[j] + dot(input + r &* inFeatures, w, inFeatures)
                r &+= 1
            }
        }
        r0 = r1
    }
}

/// Dot product of two contiguous vectors of length n, accumulated in a fixed order (8 partial
/// sums combined pairwise), so the result is the same on every run and every CPU.
@inlinable
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
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
@inlinable
public func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
    var k = 0
    while k < n {
        y[k] += alpha * x[k]
        k &+= 1
    }
}

/// Backward pass of `denseForward` for one layer, given delta = ∂C/∂z (batch, outFeatures):
/// - nablaW (outFeatures, inFeatures) += deltaᵀ · input      (BP4: ∂C/∂w_jk = a_k δ_j)
/// - nablaB (outFeatures)            += column sums of delta  (BP3: ∂C/∂b_j = δ_j)
/// - inputDelta (batch, inFeatures)   = delta · weights, if not nil (the first half of BP2; the
///   caller multiplies by σ'(z) of the layer below).
/// Gradients accumulate; inputDelta is overwritten.
///
/// From `denseBackwardGEMMMinBatch` rows on, the two products run as packed `sgemm` calls (about
/// twice as fast for mini-batches of 10); smaller batches use saxpy loops that skip zero deltas.
/// Either way the summation order is fixed by the shapes, so results are deterministic.
@inlinable
public func denseBackward(
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
            // (BP2) inputDelta (batch, in) = delta (batch, out) · weights (out, in)
            sgemm(transposeA: false, transposeB: false, m: batch, n: inFeatures, k: outFeatures, alpha: 1,
                  a: delta, lda: outFeatures, b: weights, ldb: inFeatures, beta: 0, c: inputDelta, ldc: inFeatures)
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
}

/// Mini-batches of at least this many rows take `denseBackward`'s sgemm path (measured in release
/// on x86-64: no faster than the saxpy loops up to 4 rows, 1.2-2x faster at 10, 2-3x at 100).
@usableFromInline let denseBackwardGEMMMinBatch = 8
