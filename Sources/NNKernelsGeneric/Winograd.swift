// Winograd's minimal filtering F(2x2, 5x5) (Lavin and Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015) for the runtime's 5x5 convolutions with many input channels: each 2x2
// block ("tile") of a map's output comes from the 6x6 input patch under it as
//
//   Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A + b
//
// with the Toom-Cook matrices of the points 0, 1, -1, 2, -2, ∞:
//
//   Bᵀ = [ 4  0 -5  0  1  0 ]    G = [  1/4     0     0     0    0  ]    Aᵀ = [ 1  1  1  1  1  0 ]
//        [ 0 -4 -4  1  1  0 ]        [ -1/6  -1/6  -1/6  -1/6 -1/6 ]         [ 0  1 -1  2 -2  1 ]
//        [ 0  4 -4 -1  1  0 ]        [ -1/6   1/6  -1/6   1/6 -1/6 ]
//        [ 0 -2 -1  2  1  0 ]        [  1/24  1/12  1/6   1/3  2/3 ]
//        [ 0  2 -1 -2  1  0 ]        [  1/24 -1/12  1/6  -1/3  2/3 ]
//        [ 0  4  0 -5  0  1 ]        [  0     0     0     0    1   ]
//
// The sum over channels is, for each of the 36 elements ξ of the 6x6 transform, a matrix product
// M_ξ (maps, tiles) = U_ξ (maps, channels) · V_ξ (channels, tiles), run by the matrix product's own
// micro-kernel: 36 multiply-adds per tile, channel and map instead of the direct convolution's
// 100 (2.8x fewer). The price is rounding: the transforms add and scale values before the
// product, so results differ from the exact convolution by up to about 1e-6 of the sum of the
// products' magnitudes (7.4e-7 at worst in WinogradTests; a float32 direct sum, about 2e-7), and
// from the trainer's direct convolution in the last digits. Each element is still computed in
// one fixed order that depends only on the shapes: results are bit-identical whatever the batch,
// the map range a call computes or the thread it runs on.

/// Rows of U per packed block: maps are packed in blocks of the micro-kernel's height.
let winogradBlock = gemmMR

extension CPUKernels {
    /// Whether `winogradConvForward` computes this convolution: 5x5 kernels, an even output
    /// height and width (whole 2x2 tiles), at least one channel and map.
    public static func winogradSupports(channels: Int, height: Int, width: Int, maps: Int,
                                        kernelHeight: Int, kernelWidth: Int) -> Bool {
        kernelHeight == 5 && kernelWidth == 5 && channels > 0 && maps > 0 && height >= 6 && width >= 6
            && height % 2 == 0 && width % 2 == 0
    }

    /// Floats `winogradPackWeights` writes: 36 transforms of every block of maps, each (channels,
    /// block, copies of each value this build's micro-kernel reads); Int.max if that overflows.
    public static func winogradWeightsCount(maps: Int, channels: Int) -> Int {
        guard maps > 0, channels > 0 else { return 0 }
        let blocks = (maps &+ winogradBlock &- 1) / winogradBlock
        var count = 36 &* winogradBlock &* gemmBroadcast
        for factor in [blocks, channels] {
            let (product, overflow) = count.multipliedReportingOverflow(by: factor)
            if overflow { return Int.max }
            count = product
        }
        return count
    }

    /// Transforms and packs conv weights (maps, channels, 5, 5) once, at load: U_ξ = G g Gᵀ for
    /// each map and channel, laid out as the micro-kernel reads a packed A panel (rows past the
    /// last map are zeros). packed holds `winogradWeightsCount` floats. For this build only.
    public static func winogradPackWeights(weights: UnsafePointer<Float>, maps: Int, channels: Int,
                                           into packed: UnsafeMutablePointer<Float>) {
        guard maps > 0, channels > 0 else { return }
        let blocks = (maps &+ winogradBlock &- 1) / winogradBlock
        packed.update(repeating: 0, count: winogradWeightsCount(maps: maps, channels: channels))
        let g: [[Double]] = [[1.0 / 4, 0, 0, 0, 0],
                             [-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6],
                             [-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6],
                             [1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3],
                             [1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3],
                             [0, 0, 0, 0, 1]]
        for m in 0..<maps {
            for c in 0..<channels {
                let w = weights + (m &* channels &+ c) &* 25
                // U = G w Gᵀ in double precision, rounded once to Float.
                var gw = [[Double]](repeating: [Double](repeating: 0, count: 5), count: 6)   // G w (6, 5)
                for i in 0..<6 {
                    for j in 0..<5 {
                        var s = 0.0
                        for k in 0..<5 { s += g[i][k] * Double(w[k &* 5 &+ j]) }
                        gw[i][j] = s
                    }
                }
                for i in 0..<6 {
                    for j in 0..<6 {
                        var s = 0.0
                        for k in 0..<5 { s += gw[i][k] * g[j][k] }
                        let xi = i &* 6 &+ j, block = m / winogradBlock, row = m % winogradBlock
                        let at = ((xi &* blocks &+ block) &* channels &+ c) &* winogradBlock &* gemmBroadcast
                            &+ row &* gemmBroadcast
                        for copy in 0..<gemmBroadcast { packed[at &+ copy] = Float(s) }
                    }
                }
            }
        }
    }

    /// Floats of scratch `winogradConvForward` needs (independent of the batch, which it runs
    /// one example at a time): the transformed input of one example, the transform's row buffers
    /// and one block's products and outputs. 0 if unsupported, Int.max on overflow.
    public static func winogradScratchCount(channels: Int, height: Int, width: Int, maps: Int) -> Int {
        guard winogradSupports(channels: channels, height: height, width: width, maps: maps,
                               kernelHeight: 5, kernelWidth: 5) else { return 0 }
        let layout = WinogradLayout(channels: channels, height: height, width: width)
        let (v, overflow) = layout.rowStride.multipliedReportingOverflow(by: 36 &* channels)
        guard !overflow, v < Int.max / 2 else { return Int.max }
        return v &+ layout.rowBuffers &+ winogradBlockScratch
    }

    /// The convolution `conv2dForward` computes (input (batch, channels, height, width), weights
    /// packed by `winogradPackWeights`, bias (maps)), by F(2x2, 5x5), for the maps `mapRange`,
    /// with `activation` (not softmax) applied: output (batch, maps, OH, OW), or with `pool2x2`
    /// its 2x2 max-pooling, (batch, maps, OH/2, OW/2); only the maps of `mapRange` are written.
    /// The shape must be one `winogradSupports`; scratch holds `winogradScratchCount` floats.
    ///
    /// With `transformed` (batch 1), the input transform is taken from there instead (written
    /// by `winogradTransformInput` for every channel of the same example), so that several
    /// threads can share it, each computing its own maps with its own scratch.
    public static func winogradConvForward(input: UnsafePointer<Float>, transformed: UnsafePointer<Float>?,
                                           batch: Int, channels: Int, height: Int, width: Int,
                                           packedWeights: UnsafePointer<Float>, bias: UnsafePointer<Float>, maps: Int,
                                           mapRange: Range<Int>, activation: ActivationFunction, pool2x2: Bool,
                                           output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        guard winogradSupports(channels: channels, height: height, width: width, maps: maps,
                               kernelHeight: 5, kernelWidth: 5), activation != .softmax else { return }
        let layout = WinogradLayout(channels: channels, height: height, width: width)
        let inSize = channels &* height &* width
        let outPlane = pool2x2 ? layout.tiles : 4 &* layout.tiles
        let blockScratch = scratch, v = scratch + winogradBlockScratch
        for r in 0..<batch {
            let x = input + r &* inSize
            let tiles: UnsafePointer<Float>
            if let transformed, batch == 1 {
                tiles = transformed
            } else {
                transformInput(x, layout, channels: 0..<channels, into: v, rows: v + 36 &* channels &* layout.rowStride)
                tiles = UnsafePointer(v)
            }
            winogradMaps(tiles, layout, packedWeights: packedWeights, bias: bias, maps: maps,
                         range: mapRange.clamped(to: 0..<maps),
                         activation: activation, pool2x2: pool2x2, output: output + r &* maps &* outPlane,
                         scratch: blockScratch)
        }
    }

    /// Where in a scratch buffer (`winogradScratchCount` floats) `winogradTransformInput` puts an
    /// example's input transform.
    public static func winogradTransformed(scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        scratch + winogradBlockScratch
    }

    /// Writes the input transform of channels `channelRange` of one example (channels, height,
    /// width) into `transformed` (`winogradTransformed` of some scratch buffer), for
    /// `winogradConvForward`'s `transformed`. Its working rows are in `scratch` (a buffer of
    /// `winogradScratchCount` floats, the same or another), so threads can each transform a range
    /// of channels into one shared buffer.
    public static func winogradTransformInput(input: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                                              channelRange: Range<Int>, into transformed: UnsafeMutablePointer<Float>,
                                              scratch: UnsafeMutablePointer<Float>) {
        guard winogradSupports(channels: channels, height: height, width: width, maps: 1,
                               kernelHeight: 5, kernelWidth: 5) else { return }
        let layout = WinogradLayout(channels: channels, height: height, width: width)
        transformInput(input, layout, channels: channelRange.clamped(to: 0..<channels), into: transformed,
                       rows: winogradTransformed(scratch: scratch) + 36 &* channels &* layout.rowStride)
    }
}

/// Floats of one block's scratch: its 36 products (MR, NR) and its four outputs per tile.
let winogradBlockScratch = 40 &* gemmMR &* gemmNR

/// The tiles of one example.
struct WinogradLayout {
    let channels: Int, height: Int, width: Int
    /// Tiles down and across (OH/2, OW/2), and in all.
    let down: Int, across: Int, tiles: Int
    /// Floats between rows of V (channels * 36 rows of `tiles` values): whole panels, plus room
    /// for a 4-wide store past the end, rounded to 8 so that each row's 8-float halves stay
    /// within one cache line.
    let rowStride: Int
    /// Floats of the transform's row buffers: for each row of tiles, 6 transformed rows, their
    /// even and odd halves.
    let rowBuffers: Int

    init(channels: Int, height: Int, width: Int) {
        (self.channels, self.height, self.width) = (channels, height, width)
        down = (height &- 4) / 2
        across = (width &- 4) / 2
        tiles = down &* across
        rowStride = roundUp(max(roundUp(tiles, gemmNR), tiles &+ 4), 8)
        rowBuffers = 12 &* (width / 2 &+ 4) &* down
    }
}

/// V_ξ (36, channels, rowStride) = Bᵀ d B of every tile and channel of x (channels, height,
/// width): first down the columns (Bᵀ on six input rows, all columns at once), then across
/// (B on the even and odd columns of each transformed row, four tiles at a time). Columns
/// `tiles..<roundUp(tiles, NR)` are zeroed (the product reads whole panels).
@inline(never)
private func transformInput(_ x: UnsafePointer<Float>, _ l: WinogradLayout, channels: Range<Int>,
                            into v: UnsafeMutablePointer<Float>, rows buffers: UnsafeMutablePointer<Float>) {
    let half = l.width / 2 &+ 4                   // floats per even or odd half-row
    let plane = l.channels &* l.rowStride         // floats per ξ
    for c in channels {
        // All of a channel's rows go down the columns before any goes across, so that the
        // halves are read long after they are written (reading a vector straight after storing
        // parts of it stalls the load).
        for ty in 0..<l.down {
            let d = x + (c &* l.height &+ 2 &* ty) &* l.width
            let buffers = buffers + ty &* 12 &* half
            // Bᵀ down the columns: six rows t_i, stored as even (buffers + 2i*half) and odd halves.
            var col = 0
            while col &+ 8 <= l.width {
                let t = columnTransform(SIMD8<Float>.self, d + col, l.width)
                @inline(__always) func halves(_ i: Int, _ r: SIMD8<Float>) {
                    store(r.evenHalf, buffers + ((2 &* i) &* half &+ col / 2))
                    store(r.oddHalf, buffers + ((2 &* i &+ 1) &* half &+ col / 2))
                }
                halves(0, t.0); halves(1, t.1); halves(2, t.2); halves(3, t.3); halves(4, t.4); halves(5, t.5)
                col &+= 8
            }
            if col &+ 4 <= l.width {
                let t = columnTransform(SIMD4<Float>.self, d + col, l.width)
                @inline(__always) func halves(_ i: Int, _ r: SIMD4<Float>) {
                    store(r.evenHalf, buffers + ((2 &* i) &* half &+ col / 2))
                    store(r.oddHalf, buffers + ((2 &* i &+ 1) &* half &+ col / 2))
                }
                halves(0, t.0); halves(1, t.1); halves(2, t.2); halves(3, t.3); halves(4, t.4); halves(5, t.5)
                col &+= 4
            }
            if col < l.width {                        // the width is even: a last pair of columns
                let t = columnTransform(SIMD2<Float>.self, d + col, l.width)
                @inline(__always) func halves(_ i: Int, _ r: SIMD2<Float>) {
                    buffers[(2 &* i) &* half &+ col / 2] = r[0]
                    buffers[(2 &* i &+ 1) &* half &+ col / 2] = r[1]
                }
                halves(0, t.0); halves(1, t.1); halves(2, t.2); halves(3, t.3); halves(4, t.4); halves(5, t.5)
                col &+= 2
            }
        }
        for ty in 0..<l.down {
            let buffers = buffers + ty &* 12 &* half
            // B across: tile tx of row i reads columns 2tx..2tx+5 = e[tx], o[tx], e[tx+1], ...
            for i in 0..<6 {
                let e = buffers + (2 &* i) &* half, o = e + half
                let out = v + (i &* 6 &* plane &+ c &* l.rowStride &+ ty &* l.across)
                var tx = 0
                while tx < l.across {                   // past `across`: garbage, overwritten or padding
                    let t = bTranspose(load4(e + tx), load4(o + tx), load4(e + (tx &+ 1)), load4(o + (tx &+ 1)),
                                       load4(e + (tx &+ 2)), load4(o + (tx &+ 2)))
                    let at = out + tx
                    store(t.0, at); store(t.1, at + plane); store(t.2, at + 2 &* plane)
                    store(t.3, at + 3 &* plane); store(t.4, at + 4 &* plane); store(t.5, at + 5 &* plane)
                    tx &+= 4
                }
            }
        }
    }
    let padded = roundUp(l.tiles, gemmNR)
    if padded > l.tiles {
        for xi in 0..<36 {
            for c in channels {
                (v + ((xi &* l.channels &+ c) &* l.rowStride &+ l.tiles)).update(repeating: 0, count: padded &- l.tiles)
            }
        }
    }
}

/// Bᵀ applied to six input rows (row stride `stride`) at once, one vector of columns each.
@inline(__always)
private func columnTransform<V: SIMD>(_: V.Type, _ d: UnsafePointer<Float>, _ stride: Int) -> (V, V, V, V, V, V)
    where V.Scalar == Float {
    let r0 = load(V.self, d), r1 = load(V.self, d + stride), r2 = load(V.self, d + 2 &* stride)
    let r3 = load(V.self, d + 3 &* stride), r4 = load(V.self, d + 4 &* stride), r5 = load(V.self, d + 5 &* stride)
    return bTranspose(r0, r1, r2, r3, r4, r5)
}

/// Bᵀ d for six vectors d0...d5 (lane by lane).
@inline(__always)
private func bTranspose<V: SIMD>(_ d0: V, _ d1: V, _ d2: V, _ d3: V, _ d4: V, _ d5: V) -> (V, V, V, V, V, V)
    where V.Scalar == Float {
    let a = d4 - 4 * d2, b = d3 - 4 * d1          // shared by rows 1 and 2
    let c = d4 - d2, e = 2 * (d3 - d1)             // shared by rows 3 and 4
    return (4 * d0 - 5 * d2 + d4, a + b, a - b, c + e, c - e, 4 * d1 - 5 * d3 + d5)
}

@inline(__always)
private func load<V: SIMD>(_: V.Type, _ p: UnsafePointer<Float>) -> V where V.Scalar == Float {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
}

@inline(__always)
private func load4(_ p: UnsafePointer<Float>) -> SIMD4<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD4<Float>.self) }

@inline(__always)
private func store<V: SIMD>(_ value: V, _ p: UnsafeMutablePointer<Float>) where V.Scalar == Float {
    UnsafeMutableRawPointer(p).storeBytes(of: value, as: V.self)
}

/// Rows of V_ξ, one PanelVector of tiles per channel, `stride` floats apart.
private struct StridedPanel: PanelReader {
    var next: UnsafePointer<Float>
    let stride: Int
    @inline(__always) mutating func nextRow() -> PanelVector {
        let row = UnsafeRawPointer(next).loadUnaligned(as: PanelVector.self)
        next += stride
        return row
    }
}

/// For each panel of NR tiles and each run of maps of `range` within one packed block (a
/// thread's range may start or end mid-block): the 36 products M_ξ (run, NR) into scratch,
/// then Aᵀ M A + bias, the activation, and either the 2x2 tiles (scattered into output (maps,
/// OH, OW)) or their maxima (output (maps, down, across), contiguous by tile). A map's sums do
/// not depend on the run it is in.
@inline(never)
private func winogradMaps(_ v: UnsafePointer<Float>, _ l: WinogradLayout, packedWeights: UnsafePointer<Float>,
                          bias: UnsafePointer<Float>, maps: Int, range: Range<Int>, activation: ActivationFunction,
                          pool2x2: Bool, output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
    let mr = winogradBlock, nr = gemmNR
    let allBlocks = (maps &+ mr &- 1) / mr
    let products = scratch                          // (36, MR, NR)
    let outputs = scratch + 36 &* mr &* nr          // (4, MR, NR): Y[dy][dx] of each map and tile
    let plane = l.channels &* l.rowStride
    let outWidth = 2 &* l.across, outPlane = 4 &* l.tiles
    var q = 0
    while q < l.tiles {
        let cols = min(nr, l.tiles &- q)
        var first = range.lowerBound
        while first < range.upperBound {
            let block = first / mr, offset = first % mr
            let rows = min(mr &- offset, range.upperBound &- first)
            for xi in 0..<36 {
                var panel = StridedPanel(next: v + (xi &* plane &+ q), stride: l.rowStride)
                let a = packedWeights + (((xi &* allBlocks &+ block) &* l.channels) &* mr &+ offset) &* gemmBroadcast
                let aStep = mr &* gemmBroadcast
                let sums: (PanelVector, PanelVector, PanelVector, PanelVector, PanelVector, PanelVector)
                switch rows {
                case 1: sums = microSums(1, kc: l.channels, a: a, gemmBroadcast, aStep, b: &panel, rows: rows)
                case 2: sums = microSums(2, kc: l.channels, a: a, gemmBroadcast, aStep, b: &panel, rows: rows)
                case 3, 4: sums = microSums(4, kc: l.channels, a: a, gemmBroadcast, aStep, b: &panel, rows: rows)
                default: sums = microSums(6, kc: l.channels, a: a, gemmBroadcast, aStep, b: &panel, rows: rows)
                }
                let c = products + xi &* mr &* nr
                storePanel(sums.0, c); storePanel(sums.1, c + nr); storePanel(sums.2, c + 2 &* nr)
                storePanel(sums.3, c + 3 &* nr); storePanel(sums.4, c + 4 &* nr); storePanel(sums.5, c + 5 &* nr)
            }
            for row in 0..<rows {
                let y = outputTransform(products + row &* nr, stride: mr &* nr, bias: bias[first &+ row])
                storePanel(y.0, outputs + row &* nr)
                storePanel(y.1, outputs + (mr &+ row) &* nr)
                storePanel(y.2, outputs + (2 &* mr &+ row) &* nr)
                storePanel(y.3, outputs + (3 &* mr &+ row) &* nr)
            }
            CPUKernels.activationForward(activation, outputs, rows: 1, width: 4 &* mr &* nr)
            for row in 0..<rows {
                let map = first &+ row
                let y00 = loadPanel(outputs + row &* nr), y01 = loadPanel(outputs + (mr &+ row) &* nr)
                let y10 = loadPanel(outputs + (2 &* mr &+ row) &* nr), y11 = loadPanel(outputs + (3 &* mr &+ row) &* nr)
                if pool2x2 {
                    let pooled = firstMax(firstMax(firstMax(y00, y01), y10), y11)    // maxPool2dForward's order
                    let out = output + (map &* l.tiles &+ q)
                    if cols == nr {
                        storePanel(pooled, out)
                    } else {
                        for j in 0..<cols { out[j] = pooled[j] }
                    }
                } else {
                    let out = output + map &* outPlane
                    for j in 0..<cols {
                        let t = q &+ j
                        let at = out + ((2 &* (t / l.across)) &* outWidth &+ 2 &* (t % l.across))
                        at[0] = y00[j]; at[1] = y01[j]
                        at[outWidth] = y10[j]; at[outWidth &+ 1] = y11[j]
                    }
                }
            }
            first &+= rows
        }
        q &+= nr
    }
}

/// Aᵀ M A + bias for one map's 36 products (M_ξ at m + ξ*stride, one PanelVector of tiles each):
/// the tile's four outputs Y[0][0], Y[0][1], Y[1][0], Y[1][1].
@inline(__always)
private func outputTransform(_ m: UnsafePointer<Float>, stride: Int, bias: Float)
    -> (PanelVector, PanelVector, PanelVector, PanelVector) {
    // Across each row i of M: s0 = Σ_j<5 M[i][j], s1 = M[i][1] - M[i][2] + 2(M[i][3] - M[i][4]) + M[i][5].
    @inline(__always) func across(_ i: Int) -> (PanelVector, PanelVector) {
        let row = m + i &* 6 &* stride
        let m0 = loadPanel(row), m1 = loadPanel(row + stride), m2 = loadPanel(row + 2 &* stride)
        let m3 = loadPanel(row + 3 &* stride), m4 = loadPanel(row + 4 &* stride), m5 = loadPanel(row + 5 &* stride)
        return (m0 + (m1 + m2) + (m3 + m4), (m1 - m2) + 2 * (m3 - m4) + m5)
    }
    let r0 = across(0), r1 = across(1), r2 = across(2), r3 = across(3), r4 = across(4), r5 = across(5)
    let b = PanelVector(repeating: bias)
    // Down the columns, the same two rows of Aᵀ.
    @inline(__always) func down(_ s0: PanelVector, _ s1: PanelVector, _ s2: PanelVector, _ s3: PanelVector,
                                _ s4: PanelVector, _ s5: PanelVector) -> (PanelVector, PanelVector) {
        (s0 + (s1 + s2) + (s3 + s4) + b, (s1 - s2) + 2 * (s3 - s4) + s5 + b)
    }
    let (y00, y10) = down(r0.0, r1.0, r2.0, r3.0, r4.0, r5.0)
    let (y01, y11) = down(r0.1, r1.1, r2.1, r3.1, r4.1, r5.1)
    return (y00, y01, y10, y11)
}

/// `maxPool2dForward`'s rule lane by lane: b where b is strictly greater than a or is a NaN while
/// a is not, else a. A compare and a blend (the standard library's `pointwiseMax` goes lane by lane).
@inline(__always)
private func firstMax(_ a: PanelVector, _ b: PanelVector) -> PanelVector {
    a.replacing(with: b, where: (b .> a) .| ((b .!= b) .& (a .== a)))
}

@inline(__always)
private func loadPanel(_ p: UnsafePointer<Float>) -> PanelVector { UnsafeRawPointer(p).loadUnaligned(as: PanelVector.self) }

@inline(__always)
private func loadPanel(_ p: UnsafeMutablePointer<Float>) -> PanelVector { loadPanel(UnsafePointer(p)) }

@inline(__always)
private func storePanel(_ value: PanelVector, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: value, as: PanelVector.self)
}
