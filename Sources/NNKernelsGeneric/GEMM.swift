// Single-precision general matrix multiply (SGEMM), packed and cache-blocked in the manner of
// Goto and van de Geijn ("Anatomy of high-performance matrix multiplication", 2008):
//
//   for jc in steps of NC over n            B block (KC x NC) lives in L2/L3
//     for pc in steps of KC over k          pack B(pc.., jc..) into NR-wide micro-panels
//       for ic in steps of MC over m        pack A(ic.., pc..) into MR-tall micro-panels (L2)
//         for jr in steps of NR, ir in steps of MR:  the MR x NR micro-kernel (registers)
//
// The micro-kernel keeps an MR x NR tile of C in PanelVector registers (SIMD16 or SIMD8) and adds rank-1 updates:
// fused multiply-adds in the AVX2 build (`-D NNRT_FMA`), plain multiplies and adds in the generic
// build, where a fused multiply-add would be a libm call per lane (see `multiplyAdd`). A is packed pre-broadcast (each value 4 times), so the kernel needs
// no shuffles. Single-threaded: callers that want both cores split their work above this level.
//
// Determinism: each C[i][j] is formed as beta*C[i][j], then + alpha * (sum over one KC block,
// accumulated in increasing p), block after block in increasing pc. The blocking depends only on
// k alone, never on m, n, threads or alignment, so with one build of the kernels the same data give
// bit-identical results, and an element's value does not depend on the rest of the matrices. Zero padding in the packed edge panels only ever touches tile entries
// that are not written back.

/// Rows of C per micro-kernel tile (one PanelVector accumulator per row).
let gemmMR = 6
/// One row of a micro-kernel tile: SIMD16 (two AVX registers) in the AVX2 build, so a 6 x 16 tile
/// keeps 12 of the 16 registers as accumulators and the FMA units, not the loads, set the pace;
/// SIMD8 (two SSE registers) in the generic build, which has only 16 registers of 4 lanes.
#if NNRT_FMA
typealias PanelVector = SIMD16<Float>
#else
typealias PanelVector = SIMD8<Float>
#endif
/// Columns of C per micro-kernel tile (one PanelVector). Packed B panels are this wide, so
/// B packed by one build is for that build only.
let gemmNR = PanelVector.scalarCount
/// Depth of a packed block: a KC x NR micro-panel of B (16 KiB in the AVX2 build, 8 KiB in the generic one) stays in L1.
let gemmKC = 256
/// Copies of each A value in its packed panel. The generic build stores each pre-broadcast as an
/// aligned SIMD4, so the micro-kernel multiplies with it directly instead of shuffling a scalar
/// into every lane (SSE2 has no broadcast from memory). The AVX2 build stores each once and
/// broadcasts with vbroadcastss straight from memory: a quarter of the cache footprint, which
/// keeps the A micro-panel (6 KiB) and the B micro-panel (8 KiB) in L1 together.
#if NNRT_FMA
let gemmBroadcast = 1
#else
let gemmBroadcast = 4
#endif
/// Rows of a packed A block: MC x KC x gemmBroadcast floats (at most 480 KiB) stay in L2.
let gemmMC = 120
/// Columns of a packed B block: KC x NC floats (1 MiB).
let gemmNC = 1024

extension CPUKernels {
    /// C (m, n) = alpha * op(A) * op(B) + beta * C, row-major with leading dimensions; op = transpose or not.
    ///
    /// - op(A) is (m, k): A is stored (m, lda) with lda >= k, or (k, lda) with lda >= m if transposeA.
    /// - op(B) is (k, n): B is stored (k, ldb) with ldb >= n, or (n, ldb) with ldb >= k if transposeB.
    /// - C is stored (m, ldc) with ldc >= n. When beta is 0, C is not read (as in BLAS), so it may hold
    ///   garbage or NaN.
    ///
    /// Non-positive m or n is a no-op; k <= 0 or alpha == 0 only scales C by beta. The summation order
    /// is fixed by the shape, so results are bit-identical from run to run. Single-threaded and
    /// re-entrant: it allocates its own packing buffers.
    public static func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        scale(c, m: m, n: n, ldc: ldc, by: beta)
        guard k > 0, alpha != 0 else { return }

        let kcMax = min(k, gemmKC)
        let mcMax = min(roundUp(m, gemmMR), gemmMC)
        let ncMax = min(roundUp(n, gemmNR), gemmNC)
        // packedA (mcMax / MR panels, kcMax, MR, gemmBroadcast copies); packedB (ncMax / NR panels, kcMax, NR);
        // 64-byte aligned so the micro-kernel's SIMD4 loads of A are aligned.
        let rawA = UnsafeMutableRawPointer.allocate(
            byteCount: mcMax &* kcMax &* gemmBroadcast &* MemoryLayout<Float>.stride, alignment: 64)
        let rawB = UnsafeMutableRawPointer.allocate(
            byteCount: kcMax &* ncMax &* MemoryLayout<Float>.stride, alignment: 64)
        defer {
            rawA.deallocate()
            rawB.deallocate()
        }
        let packedA = rawA.bindMemory(to: Float.self, capacity: mcMax &* kcMax &* gemmBroadcast)
        let packedB = rawB.bindMemory(to: Float.self, capacity: kcMax &* ncMax)

        var jc = 0
        while jc < n {
            let nc = min(gemmNC, n &- jc)
            var pc = 0
            while pc < k {
                let kc = min(gemmKC, k &- pc)
                packB(transposed: transposeB, b: b, ldb: ldb, row0: pc, col0: jc, kc: kc, nc: nc, into: packedB)
                var ic = 0
                while ic < m {
                    let mc = min(gemmMC, m &- ic)
#if NNRT_FMA
                    if !transposeA {
                        macroKernel(mc: mc, nc: nc, kc: kc, alpha: alpha, a: a + (ic &* lda &+ pc), aRowStride: lda,
                                    aStep: 1, packedB: packedB, c: c + (ic &* ldc &+ jc), ldc: ldc)
                        ic &+= mc
                        continue
                    }
#endif
                    packA(transposed: transposeA, a: a, lda: lda, row0: ic, col0: pc, mc: mc, kc: kc, into: packedA)
                    macroKernel(mc: mc, nc: nc, kc: kc, alpha: alpha, a: packedA, aRowStride: gemmBroadcast,
                                aStep: gemmMR &* gemmBroadcast, packedB: packedB, c: c + (ic &* ldc &+ jc), ldc: ldc)
                    ic &+= mc
                }
                pc &+= kc
            }
            jc &+= nc
        }
    }
}

extension CPUKernels {
    /// Floats `packGEMMB` writes for an op(B) of (k, n): ceil(n / NR) * NR * k, or Int.max if that
    /// overflows, 0 if k or n is not positive.
    public static func packedBCount(k: Int, n: Int) -> Int {
        guard k > 0, n > 0 else { return 0 }
        let (count, overflow) = roundUp(n, gemmNR).multipliedReportingOverflow(by: k)
        return overflow ? Int.max : count
    }

    /// Packs op(B) (k, n) once, for many `sgemmPackedB` calls (a runtime's constant weights): B is
    /// stored (k, ldb), or (n, ldb) if transposed; packed holds `packedBCount(k:n:)` floats: for each
    /// block of 256 rows of op(B), its NR-wide micro-panels, as `sgemm` packs them per call. The
    /// panel width differs between builds: B packed by one build is for that build's `sgemmPackedB` only.
    public static func packGEMMB(transposed: Bool, b: UnsafePointer<Float>, ldb: Int, k: Int, n: Int,
                                 into packed: UnsafeMutablePointer<Float>) {
        guard k > 0, n > 0 else { return }
        let nPadded = roundUp(n, gemmNR)
        var pc = 0
        while pc < k {
            let kc = min(gemmKC, k &- pc)
            packB(transposed: transposed, b: b, ldb: ldb, row0: pc, col0: 0, kc: kc, nc: n,
                  into: packed + pc &* nPadded)
            pc &+= kc
        }
    }

    /// Floats of scratch `sgemmPackedB` needs for m rows of A and depth k (A's packed block).
    public static func gemmScratchCount(m: Int, k: Int) -> Int {
        guard m > 0, k > 0 else { return 0 }
        return min(roundUp(m, gemmMR), gemmMC) &* min(k, gemmKC) &* gemmBroadcast
    }

    /// As `sgemm` without transposes, with B already packed by `packGEMMB` (same k and n): C (m, n)
    /// = alpha * A (m, lda) * B + beta * C. Packs only A (generic build), into `scratch`
    /// (`gemmScratchCount(m:k:)` floats, any alignment), so it allocates nothing. Each C[i][j] is summed exactly as `sgemm`
    /// sums it, so results equal `sgemm`'s bit for bit, whatever m is.
    public static func sgemmPackedB(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                    packedB: UnsafePointer<Float>, beta: Float,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, scratch: UnsafeMutablePointer<Float>) {
        sgemmPackedB(m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, packedB: packedB, beta: beta, c: c, ldc: ldc,
                     scratch: scratch, columns: 0..<n)
    }

    /// Columns of C per micro-panel of packed B: where a `columns` range may start.
    public static var gemmPanelWidth: Int { gemmNR }

    /// `sgemmPackedB` on the columns `columns` of C alone (C's other columns are not touched), B
    /// packed for all n columns. `columns` lies within 0..<n and starts at a multiple of
    /// `gemmPanelWidth` (else nothing is done). Each element gets the value the whole product
    /// gives it, bit for bit: threads may compute ranges of one row's columns side by side.
    public static func sgemmPackedB(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                                    packedB: UnsafePointer<Float>, beta: Float,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, scratch: UnsafeMutablePointer<Float>,
                                    columns: Range<Int>) {
        guard m > 0, n > 0, validColumns(columns, n) else { return }
        scale(c + columns.lowerBound, m: m, n: columns.count, ldc: ldc, by: beta)
        guard k > 0, alpha != 0 else { return }
        let nPadded = roundUp(n, gemmNR)
        var jc = columns.lowerBound
        while jc < columns.upperBound {
            let nc = min(gemmNC, columns.upperBound &- jc)
            var pc = 0
            while pc < k {
                let kc = min(gemmKC, k &- pc)
                let bBlock = packedB + (pc &* nPadded &+ jc &* kc)
                var ic = 0
                while ic < m {
                    let mc = min(gemmMC, m &- ic)
#if NNRT_FMA
                    macroKernel(mc: mc, nc: nc, kc: kc, alpha: alpha, a: a + (ic &* lda &+ pc), aRowStride: lda,
                                aStep: 1, packedB: bBlock, c: c + (ic &* ldc &+ jc), ldc: ldc)
#else
                    packA(transposed: false, a: a, lda: lda, row0: ic, col0: pc, mc: mc, kc: kc, into: scratch)
                    macroKernel(mc: mc, nc: nc, kc: kc, alpha: alpha, a: scratch, aRowStride: gemmBroadcast,
                                aStep: gemmMR &* gemmBroadcast, packedB: bBlock, c: c + (ic &* ldc &+ jc), ldc: ldc)
#endif
                    ic &+= mc
                }
                pc &+= kc
            }
            jc &+= nc
        }
    }
}

/// Whether `columns` is a nonempty range of 0..<n starting on a micro-panel boundary.
@inline(__always)
func validColumns(_ columns: Range<Int>, _ n: Int) -> Bool {
    !columns.isEmpty && columns.lowerBound >= 0 && columns.upperBound <= n && columns.lowerBound % gemmNR == 0
}

/// C (m, n) = beta * C, as BLAS does it: beta 0 writes zeros without reading C (which may then
/// hold garbage or NaN), beta 1 leaves C alone.
@inline(__always)
func scale(_ c: UnsafeMutablePointer<Float>, m: Int, n: Int, ldc: Int, by beta: Float) {
    if beta == 0 {
        for i in 0..<m { (c + i &* ldc).update(repeating: 0, count: n) }
    } else if beta != 1 {
        for i in 0..<m {
            let row = c + i &* ldc
            for j in 0..<n { row[j] = beta * row[j] }
        }
    }
}

@inline(__always)
func roundUp(_ x: Int, _ multiple: Int) -> Int {
    (x &+ multiple &- 1) / multiple &* multiple
}

/// Packs op(A)[row0 ..< row0+mc][col0 ..< col0+kc] into MR-tall micro-panels, each value
/// broadcast 4 times: packed (ceil(mc/MR), kc, MR, 4), rows past mc zero.
@inline(__always)
func packA(transposed: Bool, a: UnsafePointer<Float>, lda: Int, row0: Int, col0: Int, mc: Int, kc: Int,
           into packed: UnsafeMutablePointer<Float>) {
    var ir = 0
    while ir < mc {
        let rows = min(gemmMR, mc &- ir)
        let panel = packed + ir &* kc &* gemmBroadcast      // (kc, MR, gemmBroadcast)
        let stride = gemmMR &* gemmBroadcast
        if transposed {
            // op(A)[i][p] = a[p * lda + i]: MR consecutive floats per p.
            let src = a + (col0 &* lda &+ row0 &+ ir)
            for p in 0..<kc {
                let s = src + p &* lda
                let d = panel + p &* stride
                for i in 0..<rows { storeBroadcast(s[i], d + i &* gemmBroadcast) }
                var i = rows
                while i < gemmMR { storeBroadcast(0, d + i &* gemmBroadcast); i &+= 1 }
            }
        } else {
            // op(A)[i][p] = a[i * lda + p]: read each row contiguously, write with stride MR*4.
            for i in 0..<rows {
                let s = a + ((row0 &+ ir &+ i) &* lda &+ col0)
                var d = panel + i &* gemmBroadcast
                for p in 0..<kc {
                    storeBroadcast(s[p], d)
                    d += stride
                }
            }
            var i = rows
            while i < gemmMR {
                var d = panel + i &* gemmBroadcast
                for _ in 0..<kc {
                    storeBroadcast(0, d)
                    d += stride
                }
                i &+= 1
            }
        }
        ir &+= gemmMR
    }
}

/// Packs op(B)[row0 ..< row0+kc][col0 ..< col0+nc] into NR-wide micro-panels:
/// packed (ceil(nc/NR), kc, NR), columns past nc zero.
@inline(__always)
func packB(transposed: Bool, b: UnsafePointer<Float>, ldb: Int, row0: Int, col0: Int, kc: Int, nc: Int,
           into packed: UnsafeMutablePointer<Float>) {
    var jr = 0
    while jr < nc {
        let cols = min(gemmNR, nc &- jr)
        let panel = packed + jr &* kc                       // (kc, NR)
        if transposed {
            // op(B)[p][j] = b[j * ldb + p]: read each of the NR rows of B contiguously. A full
            // panel goes 4 values of p at a time through NR / 4 register transposes of 4 x 4.
            if cols == gemmNR {
                let s = b + ((col0 &+ jr) &* ldb &+ row0)
                var p = 0
                while p &+ 4 <= kc {
                    var q = 0
                    while q < gemmNR {
                        transpose4x4(s + (q &* ldb &+ p), ldb, into: panel + (p &* gemmNR &+ q))
                        q &+= 4
                    }
                    p &+= 4
                }
                while p < kc {
                    let d = panel + p &* gemmNR
                    for j in 0..<gemmNR { d[j] = s[j &* ldb &+ p] }
                    p &+= 1
                }
                jr &+= gemmNR
                continue
            }
            for j in 0..<cols {
                let s = b + ((col0 &+ jr &+ j) &* ldb &+ row0)
                var d = panel + j
                for p in 0..<kc {
                    d.pointee = s[p]
                    d += gemmNR
                }
            }
            var j = cols
            while j < gemmNR {
                var d = panel + j
                for _ in 0..<kc {
                    d.pointee = 0
                    d += gemmNR
                }
                j &+= 1
            }
        } else {
            // op(B)[p][j] = b[p * ldb + j]: NR consecutive floats per p.
            let src = b + (row0 &* ldb &+ col0 &+ jr)
            if cols == gemmNR {
                for p in 0..<kc {
                    let v = UnsafeRawPointer(src + p &* ldb).loadUnaligned(as: PanelVector.self)
                    UnsafeMutableRawPointer(panel + p &* gemmNR).storeBytes(of: v, as: PanelVector.self)
                }
            } else {
                for p in 0..<kc {
                    let s = src + p &* ldb
                    let d = panel + p &* gemmNR
                    for j in 0..<cols { d[j] = s[j] }
                    var j = cols
                    while j < gemmNR { d[j] = 0; j &+= 1 }
                }
            }
        }
        jr &+= gemmNR
    }
}

/// Writes the transpose of the 4 x 4 block s (4 rows, stride ld) into d (4 rows, stride NR):
/// d[p * NR + j] = s[j * ld + p].
@inline(__always)
func transpose4x4(_ s: UnsafePointer<Float>, _ ld: Int, into d: UnsafeMutablePointer<Float>) {
    let r0 = UnsafeRawPointer(s).loadUnaligned(as: SIMD4<Float>.self)
    let r1 = UnsafeRawPointer(s + ld).loadUnaligned(as: SIMD4<Float>.self)
    let r2 = UnsafeRawPointer(s + 2 &* ld).loadUnaligned(as: SIMD4<Float>.self)
    let r3 = UnsafeRawPointer(s + 3 &* ld).loadUnaligned(as: SIMD4<Float>.self)
    let raw = UnsafeMutableRawPointer(d)
    let rowBytes = gemmNR &* MemoryLayout<Float>.stride
    raw.storeBytes(of: SIMD4(r0[0], r1[0], r2[0], r3[0]), as: SIMD4<Float>.self)
    raw.storeBytes(of: SIMD4(r0[1], r1[1], r2[1], r3[1]), toByteOffset: rowBytes, as: SIMD4<Float>.self)
    raw.storeBytes(of: SIMD4(r0[2], r1[2], r2[2], r3[2]), toByteOffset: 2 &* rowBytes, as: SIMD4<Float>.self)
    raw.storeBytes(of: SIMD4(r0[3], r1[3], r2[3], r3[3]), toByteOffset: 3 &* rowBytes, as: SIMD4<Float>.self)
}

/// C[0..<mc][0..<nc] += alpha * A · packedB for one block pair. A is either packed (`packA`:
/// aRowStride gemmBroadcast, aStep MR * gemmBroadcast) or, in the AVX2 build, read in place from a
/// row-major matrix (aRowStride lda, aStep 1), which saves packing it: the micro-kernel broadcasts
/// each value straight from memory either way.
@inline(__always)
func macroKernel(mc: Int, nc: Int, kc: Int, alpha: Float,
                 a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, packedB: UnsafePointer<Float>,
                 c: UnsafeMutablePointer<Float>, ldc: Int) {
    // Distance between the starts of consecutive MR-row panels of A.
    let aPanel = aStep == 1 ? gemmMR &* aRowStride : kc &* gemmMR &* gemmBroadcast
    var jr = 0
    if mc == 1 {
        // One row (a batch of one): up to four B panels at once, so several independent
        // accumulators hide the latency of the multiply-adds one accumulator would wait on.
        while jr < nc {
            let panels = min(4, (nc &- jr &+ gemmNR &- 1) / gemmNR)
            let lastCols = min(gemmNR, nc &- jr &- (panels &- 1) &* gemmNR)
            let b = packedB + jr &* kc
            switch panels {
            case 1: microRow(1, kc: kc, a: a, aStep: aStep, b: b, alpha: alpha, c: c + jr, lastCols: lastCols)
            case 2: microRow(2, kc: kc, a: a, aStep: aStep, b: b, alpha: alpha, c: c + jr, lastCols: lastCols)
            case 3: microRow(3, kc: kc, a: a, aStep: aStep, b: b, alpha: alpha, c: c + jr, lastCols: lastCols)
            default: microRow(4, kc: kc, a: a, aStep: aStep, b: b, alpha: alpha, c: c + jr, lastCols: lastCols)
            }
            jr &+= panels &* gemmNR
        }
        return
    }
    while jr < nc {
        let cols = min(gemmNR, nc &- jr)
        let bPanel = packedB + jr &* kc
        var ir = 0, panel = a
        while ir < mc {
            let rows = min(gemmMR, mc &- ir)
            microKernel(kc: kc, a: panel, aRowStride: aRowStride, aStep: aStep, b: bPanel, alpha: alpha,
                        c: c + (ir &* ldc &+ jr), ldc: ldc, rows: rows, cols: cols)
            ir &+= gemmMR
            panel += aPanel
        }
        jr &+= gemmNR
    }
}

/// One row of C times K (a literal, 1...4) B micro-panels: c[0..<K NR] += alpha * sum over p of
/// a[p] b[p], each element summed in increasing p exactly as `microTile` sums it; the last panel
/// may be partial (`lastCols` of NR columns are written; packed B is zero past its end). A is
/// packed (`broadcast` reads it) or, with `inPlace` (a literal), one value per step in either build.
@inline(__always)
func microRow(_ K: Int, kc: Int, a: UnsafePointer<Float>, aStep: Int, inPlace: Bool = false,
              b: UnsafePointer<Float>, alpha: Float, c: UnsafeMutablePointer<Float>, lastCols: Int) {
    var c0 = PanelVector(repeating: 0), c1 = PanelVector(repeating: 0)
    var c2 = PanelVector(repeating: 0), c3 = PanelVector(repeating: 0)
    let panel = kc &* gemmNR
    var pa = a, pb = b
    var p = 0
    while p < kc {
        let av = inPlace ? PanelVector(repeating: pa.pointee) : broadcast(pa)
        multiplyAdd(&c0, av, UnsafeRawPointer(pb).loadUnaligned(as: PanelVector.self))
        if K > 1 { multiplyAdd(&c1, av, UnsafeRawPointer(pb + panel).loadUnaligned(as: PanelVector.self)) }
        if K > 2 { multiplyAdd(&c2, av, UnsafeRawPointer(pb + 2 &* panel).loadUnaligned(as: PanelVector.self)) }
        if K > 3 { multiplyAdd(&c3, av, UnsafeRawPointer(pb + 3 &* panel).loadUnaligned(as: PanelVector.self)) }
        pa += aStep
        pb += gemmNR
        p &+= 1
    }
    let alphas = PanelVector(repeating: alpha)
    var sums = (alphas * c0, alphas * c1, alphas * c2, alphas * c3)
    withUnsafeBytes(of: &sums) { raw in
        let t = raw.bindMemory(to: Float.self)
        let count = (K &- 1) &* gemmNR &+ lastCols
        for j in 0..<count { c[j] = c[j] + t[j] }
    }
}

/// The MR x NR (6 x 16, or 6 x 8 in the generic build) micro-kernel for a tile of `rows` (1...MR) by `cols` (1...NR):
/// tile = sum over p of a[p] (MR) ⊗ b[p] (NR), accumulated in increasing p; then
/// C[0..<rows][0..<cols] += alpha * tile.
/// a is a packed A micro-panel (kc, MR, gemmBroadcast), or A in place; b a packed B micro-panel (kc, NR); c (rows, ldc).
/// Short tiles (small m, e.g. one example) run a kernel with only as many accumulators as rows;
/// every variant sums each element in the same order, so results do not depend on the variant.
@inline(__always)
func microKernel(kc: Int, a: UnsafePointer<Float>, aRowStride: Int, aStep: Int, b: UnsafePointer<Float>,
                 alpha: Float, c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int) {
    switch rows {
    case 1: microTile(1, kc: kc, a: a, aRowStride, aStep, b: b, alpha: alpha, c: c, ldc: ldc, rows: rows, cols: cols)
    case 2: microTile(2, kc: kc, a: a, aRowStride, aStep, b: b, alpha: alpha, c: c, ldc: ldc, rows: rows, cols: cols)
    case 3, 4: microTile(4, kc: kc, a: a, aRowStride, aStep, b: b, alpha: alpha, c: c, ldc: ldc, rows: rows, cols: cols)
    default: microTile(6, kc: kc, a: a, aRowStride, aStep, b: b, alpha: alpha, c: c, ldc: ldc, rows: rows, cols: cols)
    }
}

/// `microKernel` computing the first R (a literal: 1, 2, 4 or 6) rows of the tile; inlined with
/// a constant R, the unused accumulators and branches disappear.
@inline(__always)
func microTile(_ R: Int, kc: Int, a: UnsafePointer<Float>, _ aRowStride: Int, _ aStep: Int,
               b: UnsafePointer<Float>, alpha: Float,
               c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int) {
    var panel = PackedPanel(next: b)
    microTile(R, kc: kc, a: a, aRowStride, aStep, b: &panel, alpha: alpha, c: c, ldc: ldc, rows: rows, cols: cols)
}

/// Where a micro-kernel reads the rows of its B micro-panel, one PanelVector per step of p.
protocol PanelReader {
    /// Row p of the panel, for p = 0, 1, 2, ... in turn.
    mutating func nextRow() -> PanelVector
}

/// A packed B micro-panel (kc, NR), as `packB`/`packGEMMB` write it.
struct PackedPanel: PanelReader {
    var next: UnsafePointer<Float>
    @inline(__always) mutating func nextRow() -> PanelVector {
        let row = UnsafeRawPointer(next).loadUnaligned(as: PanelVector.self)
        next += gemmNR
        return row
    }
}

/// `microTile` with the rows of B from `b` (any `PanelReader`; each element is summed the same
/// way whatever the reader, so the results depend only on the values read).
@inline(__always)
func microTile<B: PanelReader>(_ R: Int, kc: Int, a: UnsafePointer<Float>, _ aRowStride: Int, _ aStep: Int,
                               b: inout B, alpha: Float,
                               c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int) {
    let tile = microSums(R, kc: kc, a: a, aRowStride, aStep, b: &b, rows: rows)
    let av = PanelVector(repeating: alpha)
    addTile(R, (av * tile.0, av * tile.1, av * tile.2, av * tile.3, av * tile.4, av * tile.5),
            c: c, ldc: ldc, rows: rows, cols: cols)
}

/// The sums of a micro-kernel tile, the first R (a literal: 1, 2, 4 or 6) of its MR rows: for
/// each row i, the sum over p < kc of A[i][p] * (row p of b), accumulated in increasing p
/// (`microTile` adds them to C; other callers store them).
@inline(__always)
func microSums<B: PanelReader>(_ R: Int, kc: Int, a: UnsafePointer<Float>, _ aRowStride: Int, _ aStep: Int,
                               b: inout B, rows: Int)
    -> (PanelVector, PanelVector, PanelVector, PanelVector, PanelVector, PanelVector) {
    var c0 = PanelVector(repeating: 0), c1 = PanelVector(repeating: 0)
    var c2 = PanelVector(repeating: 0), c3 = PanelVector(repeating: 0)
    var c4 = PanelVector(repeating: 0), c5 = PanelVector(repeating: 0)
    // Row pointers; rows past `rows` repeat the last real row (read in place, A has no padding),
    // and their sums are never written back.
    var a0 = a
    var a1 = a + min(1, rows &- 1) &* aRowStride, a2 = a + min(2, rows &- 1) &* aRowStride
    var a3 = a + min(3, rows &- 1) &* aRowStride, a4 = a + min(4, rows &- 1) &* aRowStride
    var a5 = a + min(5, rows &- 1) &* aRowStride
    var p = 0
    while p < kc {
        let bv = b.nextRow()
        multiplyAdd(&c0, broadcast(a0), bv)
        if R > 1 { multiplyAdd(&c1, broadcast(a1), bv) }
        if R > 2 {
            multiplyAdd(&c2, broadcast(a2), bv)
            multiplyAdd(&c3, broadcast(a3), bv)
        }
        if R > 4 {
            multiplyAdd(&c4, broadcast(a4), bv)
            multiplyAdd(&c5, broadcast(a5), bv)
        }
        a0 += aStep; a1 += aStep; a2 += aStep; a3 += aStep; a4 += aStep; a5 += aStep
        p &+= 1
    }
    return (c0, c1, c2, c3, c4, c5)
}

/// C[0..<rows][0..<cols] += tile, the first R (a literal: 1, 2, 4 or 6) of a micro-kernel's MR
/// rows of sums: whole vectors when the tile is full, else element by element.
@inline(__always)
func addTile(_ R: Int, _ tile: (PanelVector, PanelVector, PanelVector, PanelVector, PanelVector, PanelVector),
             c: UnsafeMutablePointer<Float>, ldc: Int, rows: Int, cols: Int) {
    if rows == R && cols == gemmNR {
        addRow(c, tile.0)
        if R > 1 { addRow(c + ldc, tile.1) }
        if R > 2 {
            addRow(c + 2 &* ldc, tile.2)
            addRow(c + 3 &* ldc, tile.3)
        }
        if R > 4 {
            addRow(c + 4 &* ldc, tile.4)
            addRow(c + 5 &* ldc, tile.5)
        }
    } else {
        var sums = tile    // (MR, NR)
        withUnsafeBytes(of: &sums) { raw in
            let t = raw.bindMemory(to: Float.self)
            for i in 0..<rows {
                let row = c + i &* ldc
                for j in 0..<cols { row[j] = row[j] + t[i &* gemmNR &+ j] }
            }
        }
    }
}

/// acc += a * b. In the AVX2 build (`-D NNRT_FMA`, `-target-cpu haswell`) one fused multiply-add
/// per lane, rounded once; in the generic build a multiply and an add, because on baseline x86-64
/// a fused multiply-add is a libm call per lane.
@inline(__always)
func multiplyAdd(_ acc: inout PanelVector, _ a: PanelVector, _ b: PanelVector) {
#if NNRT_FMA
    acc.addProduct(a, b)
#else
    acc = acc + a * b
#endif
}

/// d[0..<gemmBroadcast] = v (one value of a packed A panel, pre-broadcast in the generic build).
@inline(__always)
func storeBroadcast(_ v: Float, _ d: UnsafeMutablePointer<Float>) {
#if NNRT_FMA
    d.pointee = v
#else
    UnsafeMutableRawPointer(d).storeBytes(of: SIMD4<Float>(repeating: v), as: SIMD4<Float>.self)   // may be unaligned
#endif
}

/// A PanelVector holding copies of the packed A value at p (generic build: a pre-broadcast SIMD4,
/// loaded without an alignment requirement, so callers' scratch needs none; AVX2 build: one float,
/// broadcast by vbroadcastss).
@inline(__always)
func broadcast(_ p: UnsafePointer<Float>) -> PanelVector {
#if NNRT_FMA
    return PanelVector(repeating: p.pointee)
#else
    let v = UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self)
    return SIMD8(lowHalf: v, highHalf: v)
#endif
}

/// c[0..<NR] += v.
@inline(__always)
func addRow(_ c: UnsafeMutablePointer<Float>, _ v: PanelVector) {
    let raw = UnsafeMutableRawPointer(c)
    raw.storeBytes(of: raw.loadUnaligned(as: PanelVector.self) + v, as: PanelVector.self)
}
