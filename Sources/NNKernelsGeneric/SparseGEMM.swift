#if canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

// A matrix product that skips the zeros of its left operand, for dense layers whose inputs are
// mostly zero: the pixels of a handwritten digit on a blank page (four in five of MNIST's are 0),
// the outputs of ReLU layers. The work follows A's nonzeros instead of its size, and each element
// of C is summed exactly as `sgemmPackedB` sums it, so the runtime may choose either per call.

extension CPUKernels {
    /// Whether `sgemmPackedBSparseA` beats `sgemmPackedB` on this A (m, k) times B (k, n), judged
    /// on A's first tile: its first MR rows (or first row when m < MR), as the sparse product
    /// reads them. It pays when at most half the depths have a nonzero there, and, for 2 to MR - 1
    /// rows, when C is wider than one micro-panel (the dense product runs those rows' chains of
    /// multiply-adds side by side). Measured with the AVX2 build on MNIST digits (19% of pixels
    /// nonzero; 42% of depths in the union of six rows), against the dense product: about 1.3-1.5x
    /// the throughput at n = 30 and 1.5x at n = 100 for batches of 100 and more; one image at a
    /// time, read from memory each call, 1.2x at n = 10 and n = 30 and 1.9x at n = 100.
    /// Inputs with noise instead of blank space (a union of 80% or more) run slower than dense.
    /// One row (m = 1) always takes the sparse product without a look, since that product
    /// itself runs each KC block with more than half its depths nonzero densely (one row's dense
    /// product is no faster, and looking first read the row twice: 784-30-10 one image at a
    /// time, 14% faster). Either product gives the same values: this only picks the faster.
    public static func zeroSkippingPays(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int) -> Bool {
        guard m > 0, k > 0, m >= gemmMR || leftoverRowsSkipZeros(m, n: n) else { return false }
        if m == 1 { return true }
        let rows = m >= gemmMR ? gemmMR : 1
        var depths = 0                   // depths p < k with a nonzero in the rows
        var p = 0
        while p < k {
            if p &+ 8 <= k {
                depths &+= nonzeroLanes(rows, a, lda, p).nonzeroBitCount
                p &+= 8
            } else {
                if nonzeroAt(rows, a, lda, p) { depths &+= 1 }
                p &+= 1
            }
            if depths &* 2 > k { return false }     // dense rows (a hidden layer's) stop early
        }
        return true
    }

    /// C (m, n) += A (m, lda) · B, B packed by `packGEMMB` (k, n): `sgemmPackedB` with alpha 1 and beta
    /// 1, skipping A's zeros. For each KC block, six rows at a time, it lists the depths p at which any
    /// of the six has a nonzero and runs the micro-kernel over those alone (the rows' zeros among them
    /// add exact zeros). Rows left over go one at a time over their own nonzeros, four micro-panels at
    /// a time (over every depth of a KC block more than half nonzero, as the dense product's one-row
    /// kernel `microRow` does), or, two or more of them into a C one micro-panel wide, to
    /// `sgemmPackedB`. For finite B (model weights are: validation rejects others), each C[i][j] equals
    /// `sgemmPackedB`'s: each skipped product is ±0, and adding ±0 to a partial sum leaves it unchanged
    /// (but for the sign of a zero sum, which only a product that underflows to -0 can bring).
    /// `scratch` holds `gemmScratchCount(m:k:)` floats, any alignment.
    public static func sgemmPackedBSparseA(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                           packedB: UnsafePointer<Float>,
                                           c: UnsafeMutablePointer<Float>, ldc: Int,
                                           scratch: UnsafeMutablePointer<Float>) {
        sgemmPackedBSparseA(m: m, n: n, k: k, a: a, lda: lda, packedB: packedB, c: c, ldc: ldc, scratch: scratch,
                            columns: 0..<n)
    }

    /// `sgemmPackedBSparseA` on the columns `columns` of C alone, as `sgemmPackedB(...columns:)`
    /// restricts `sgemmPackedB`: the same values as the whole product, bit for bit.
    public static func sgemmPackedBSparseA(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                           packedB: UnsafePointer<Float>,
                                           c: UnsafeMutablePointer<Float>, ldc: Int,
                                           scratch: UnsafeMutablePointer<Float>, columns: Range<Int>) {
        guard m > 0, n > 0, k > 0, validColumns(columns, n) else { return }
        let width = columns.upperBound                                    // columns end here
        let nPadded = roundUp(n, gemmNR)
        let offsets = UnsafeMutableRawPointer(scratch)                   // Int32 p * NR each
        // Rows past the last full tile go one at a time or to the dense product, judged on the
        // columns computed here (see `leftoverRowsSkipZeros`).
        let tiled = m &- m % gemmMR
        let end = leftoverRowsSkipZeros(m &- tiled, n: columns.count) ? m : tiled
        leftPackTable.withUnsafeBufferPointer { table in
            guard let table = table.baseAddress else { return }
            // Rows outer, KC blocks inner: a tile's rows (18 KiB for 784 inputs) stay in L1 across
            // its blocks, and the input streams through once; B stays in L2.
            var i = 0
            while i < end {
                let rows = i < tiled ? gemmMR : 1
                var pc = 0
                while pc < k {
                    let kc = min(gemmKC, k &- pc)
                    let block = packedB + pc &* nPadded             // micro-panel j at block + j * kc * NR
                    let x = a + (i &* lda &+ pc)
                    if rows == gemmMR {
                        let count = gatherUnion(gemmMR, x, lda, kc, offsets: offsets, table: table)
                        var jr = columns.lowerBound
                        while jr < width {
                            sparseTile(count, offsets, a: x, lda: lda, b: block + jr &* kc,
                                       c: c + (i &* ldc &+ jr), ldc: ldc, cols: min(gemmNR, width &- jr))
                            jr &+= gemmNR
                        }
                    } else {
                        // A block with more than half its depths nonzero (a hidden layer's
                        // activations) runs densely: listing the rest would cost more than it saves.
                        let count = gatherUnion(1, x, lda, kc, offsets: offsets, table: table, stopAbove: kc / 2)
                        let dense = count > kc / 2
                        let row = c + i &* ldc
                        let panel = kc &* gemmNR
                        var jr = columns.lowerBound
                        while jr < width {
                            let panels = min(4, (width &- jr &+ gemmNR &- 1) / gemmNR)
                            let lastCols = min(gemmNR, width &- jr &- (panels &- 1) &* gemmNR)
                            let b = block + jr &* kc
                            switch (panels, dense) {
                            case (1, false): sparseRow(1, count, offsets, a: x, b: b, panel: panel, c: row + jr, lastCols: lastCols)
                            case (2, false): sparseRow(2, count, offsets, a: x, b: b, panel: panel, c: row + jr, lastCols: lastCols)
                            case (3, false): sparseRow(3, count, offsets, a: x, b: b, panel: panel, c: row + jr, lastCols: lastCols)
                            case (_, false): sparseRow(4, count, offsets, a: x, b: b, panel: panel, c: row + jr, lastCols: lastCols)
                            case (1, true): microRow(1, kc: kc, a: x, aStep: 1, inPlace: true, b: b, alpha: 1, c: row + jr, lastCols: lastCols)
                            case (2, true): microRow(2, kc: kc, a: x, aStep: 1, inPlace: true, b: b, alpha: 1, c: row + jr, lastCols: lastCols)
                            case (3, true): microRow(3, kc: kc, a: x, aStep: 1, inPlace: true, b: b, alpha: 1, c: row + jr, lastCols: lastCols)
                            case (_, true): microRow(4, kc: kc, a: x, aStep: 1, inPlace: true, b: b, alpha: 1, c: row + jr, lastCols: lastCols)
                            }
                            jr &+= panels &* gemmNR
                        }
                    }
                    pc &+= kc
                }
                i &+= rows
            }
        }
        if end < m {
            sgemmPackedB(m: m &- end, n: n, k: k, alpha: 1, a: a + end &* lda, lda: lda, packedB: packedB, beta: 1,
                         c: c + end &* ldc, ldc: ldc, scratch: scratch, columns: columns)
        }
    }
}

/// Whether `rows` (fewer than MR) rows left over from the six-row tiles skip zeros one row at a
/// time: one row always does; two or more into a C one micro-panel wide go to the dense product,
/// which keeps more chains of multiply-adds going side by side than one row has.
@inline(__always)
func leftoverRowsSkipZeros(_ rows: Int, n: Int) -> Bool { rows == 1 || n > gemmNR }

/// For each 8-bit mask, the positions of its set bits in increasing order, then zeros.
let leftPackTable: [SIMD8<Int32>] = (0..<256).map { mask in
    var lanes = SIMD8<Int32>(repeating: 0)
    var n = 0
    for l in 0..<8 where mask & (1 << l) != 0 {
        lanes[n] = Int32(l)
        n += 1
    }
    return lanes
}

/// Bit l (l < 8) set when any of the R rows x, x + lda, ... has a nonzero (NaN included) at
/// depth p + l: one comparison per row, eight depths at a time.
@inline(__always)
func nonzeroLanes(_ R: Int, _ x: UnsafePointer<Float>, _ lda: Int, _ p: Int) -> Int {
    let zero = SIMD8<Float>(repeating: 0)
    var nonzero = UnsafeRawPointer(x + p).loadUnaligned(as: SIMD8<Float>.self) .!= zero
    for r in 1..<R {
        nonzero .|= UnsafeRawPointer(x + (r &* lda &+ p)).loadUnaligned(as: SIMD8<Float>.self) .!= zero
    }
#if canImport(_Builtin_intrinsics.intel)
    // The sign bits of the lanes, one instruction (movmskps); the portable sum below takes a
    // dozen shuffles, which made listing the nonzeros cost as much as multiplying them.
    let signs = zero.replacing(with: -1, where: nonzero)
    return Int(_mm_movemask_ps(signs.lowHalf)) | Int(_mm_movemask_ps(signs.highHalf)) &<< 4
#else
    let bits = SIMD8<Int32>(1, 2, 4, 8, 16, 32, 64, 128)
    return Int(SIMD8<Int32>(repeating: 0).replacing(with: bits, where: nonzero).wrappedSum())
#endif
}

/// Whether any of the R rows x, x + lda, ... has a nonzero (NaN included) at depth p.
@inline(__always)
func nonzeroAt(_ R: Int, _ x: UnsafePointer<Float>, _ lda: Int, _ p: Int) -> Bool {
    var bits = UInt32(0)
    for r in 0..<R { bits |= x[r &* lda &+ p].bitPattern }
    return bits & 0x7fff_ffff != 0
}

/// Writes each p < kc at which any of the R (a literal, 1 or MR) rows x, x + lda, ... has a
/// nonzero (NaN included) to `offsets` as p * NR (Int32), in increasing p; returns how many, or,
/// once more than `stopAbove` are found, some number above it (the list is then incomplete).
/// Eight depths at a time: the mask of the lanes where any row is nonzero (`nonzeroLanes`) and
/// its positions from `table` (`leftPackTable`), stored all eight at once (never past kc
/// entries: at most p entries precede them) and kept as many as the mask has bits.
@inline(__always)
func gatherUnion(_ R: Int, _ x: UnsafePointer<Float>, _ lda: Int, _ kc: Int,
                 offsets: UnsafeMutableRawPointer, table: UnsafePointer<SIMD8<Int32>>,
                 stopAbove: Int = .max) -> Int {
    var count = 0
    var p = 0
    while p &+ 8 <= kc {
        // No branch on an empty mask: the store then writes entries the next store overwrites,
        // and a branch on where a digit's strokes are would be mispredicted often.
        let mask = nonzeroLanes(R, x, lda, p)
        let depths = (table[mask] &+ Int32(truncatingIfNeeded: p)) &* Int32(gemmNR)
        offsets.storeBytes(of: depths, toByteOffset: count &* 4, as: SIMD8<Int32>.self)
        count &+= mask.nonzeroBitCount
        if count > stopAbove { return count }
        p &+= 8
    }
    while p < kc {
        if nonzeroAt(R, x, lda, p) {
            offsets.storeBytes(of: Int32(truncatingIfNeeded: p &* gemmNR), toByteOffset: count &* 4, as: Int32.self)
            count &+= 1
        }
        p &+= 1
    }
    return count
}

/// The MR x NR micro-kernel (`microTile`, 6 full rows, A in place) over the listed depths only:
/// tile = sum over the listed p of A[.][p] ⊗ B[p], accumulated in increasing p from 0; then
/// C[0..<MR][0..<cols] += tile, as `microTile` adds it with alpha 1.
@inline(__always)
func sparseTile(_ count: Int, _ offsets: UnsafeRawPointer, a: UnsafePointer<Float>, lda: Int,
                b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>, ldc: Int, cols: Int) {
    var c0 = PanelVector(repeating: 0), c1 = PanelVector(repeating: 0)
    var c2 = PanelVector(repeating: 0), c3 = PanelVector(repeating: 0)
    var c4 = PanelVector(repeating: 0), c5 = PanelVector(repeating: 0)
    let a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda, a4 = a3 + lda, a5 = a4 + lda
    var i = 0
    while i < count {
        let q = Int(offsets.load(fromByteOffset: i &* 4, as: Int32.self))     // p * NR
        let p = q / gemmNR
        let bv = UnsafeRawPointer(b + q).loadUnaligned(as: PanelVector.self)
        multiplyAdd(&c0, PanelVector(repeating: a[p]), bv)
        multiplyAdd(&c1, PanelVector(repeating: a1[p]), bv)
        multiplyAdd(&c2, PanelVector(repeating: a2[p]), bv)
        multiplyAdd(&c3, PanelVector(repeating: a3[p]), bv)
        multiplyAdd(&c4, PanelVector(repeating: a4[p]), bv)
        multiplyAdd(&c5, PanelVector(repeating: a5[p]), bv)
        i &+= 1
    }
    addTile(gemmMR, (c0, c1, c2, c3, c4, c5), c: c, ldc: ldc, rows: gemmMR, cols: cols)
}

/// One row of C times K (a literal, 1...4) B micro-panels, over the listed depths of one KC
/// block (A's row a): c[0..<K NR] += the sum over them of a[p] · B's row p, each element accumulated from 0 in
/// increasing p as `microRow` accumulates it, then added to c as `microRow` adds it.
@inline(__always)
func sparseRow(_ K: Int, _ count: Int, _ offsets: UnsafeRawPointer, a: UnsafePointer<Float>,
               b: UnsafePointer<Float>, panel: Int, c: UnsafeMutablePointer<Float>, lastCols: Int) {
    var c0 = PanelVector(repeating: 0), c1 = PanelVector(repeating: 0)
    var c2 = PanelVector(repeating: 0), c3 = PanelVector(repeating: 0)
    var i = 0
    while i < count {
        let q = Int(offsets.load(fromByteOffset: i &* 4, as: Int32.self))     // p * NR
        let av = PanelVector(repeating: a[q / gemmNR])
        let pb = b + q
        multiplyAdd(&c0, av, UnsafeRawPointer(pb).loadUnaligned(as: PanelVector.self))
        if K > 1 { multiplyAdd(&c1, av, UnsafeRawPointer(pb + panel).loadUnaligned(as: PanelVector.self)) }
        if K > 2 { multiplyAdd(&c2, av, UnsafeRawPointer(pb + 2 &* panel).loadUnaligned(as: PanelVector.self)) }
        if K > 3 { multiplyAdd(&c3, av, UnsafeRawPointer(pb + 3 &* panel).loadUnaligned(as: PanelVector.self)) }
        i &+= 1
    }
    var sums = (c0, c1, c2, c3)
    withUnsafeBytes(of: &sums) { raw in
        let t = raw.bindMemory(to: Float.self)
        let total = (K &- 1) &* gemmNR &+ lastCols
        for j in 0..<total { c[j] = c[j] + t[j] }
    }
}
