// MNIST-style preprocessing: one handwritten digit in any image (a scan, a phone photo, a
// drawing) -> the 28x28 field the book's networks were trained on, made the way MNIST was made
// (LeCun et al.): the digit size-normalised to fit a 20x20 box keeping its aspect ratio, with
// anti-aliasing, then placed in the 28x28 field so that the centre of mass of its grey levels
// sits at the centre. MNIST is light ink (1) on a dark (0) background.
//
// The steps of `normalizeDigit`, and what was chosen for each:
//
//  (a) Polarity. The paper level is the median of a border ring of the image; the ink is the side
//      of the grey scale that reaches further from it (the darkest and lightest levels held by at
//      least 1/20,000 of the pixels, so noise tails do not count). Dark ink on lighter paper is
//      inverted. `DigitNormalization.polarity` can force either reading.
//  (b) Background and contrast. Noise (sigma) is read from the lower quartile of the
//      differences between horizontally adjacent pixels (0.4506 sigma for white Gaussian noise;
//      ink edges, lighting and blur hardly reach that quartile). The image is cut into at most
//      8x8 tiles of 8 px or more a side; a tile's paper level is its 25th percentile (ink may
//      cover up to 3/4 of it), plus 0.674 sigma. A plane fitted to those levels, refitted
//      without the tiles standing more than 3/255 + sigma above it (tiles mostly covered by
//      ink), models the lighting: accepted tiles keep their level, the others take the plane's.
//      The background surface, bilinear between tile centres, is subtracted (grey paper, uneven
//      lighting). The ink's strong level L is the 95th percentile of the ink at least half as
//      strong as its robust maximum (less 1.645 sigma when noisy); ink is divided by L, so
//      strong ink reaches 1. An L within 2% of full scale is taken as full scale, so images that
//      already have full contrast keep their grey levels exactly.
//  (c) Bounding box. A pixel is ink for the box when its normalised ink reaches
//      max(inkThreshold, 3.5 sigma / L) and a 4-neighbour does too (an isolated pixel is noise;
//      if no pixel has such a neighbour, single pixels count, e.g. a one-pixel dot). Along each
//      axis the ink's mass profile is split into runs separated by empty rows (columns); runs
//      holding less than 1% of the mass are dropped (specks of dirt or noise apart from the
//      digit), the largest run is always kept, and the box spans the kept runs. The default
//      threshold 0.1 keeps the box of 99.97% of MNIST's digits at exactly 20 px (and reproduced
//      the synthetic scans slightly better than 0.2 or 0.3, which do the same for 99.9%). A digit
//      drawn larger than the output (1.5 or more source pixels per output pixel) gets
//      sub-pixel box edges: where the ink profile across each edge reaches half the edge's own
//      level, which is where the edge of the drawn shape lies.
//  (d) Size normalisation: the longer side of the box becomes `boxSize` (20) px, the aspect ratio
//      kept. Shrinking averages areas with exact coverage weights; enlarging is bilinear. Only
//      the box and a margin of 2 output pixels around it are resampled (faint anti-aliased
//      edges kept, anything further away dropped); values are clamped to 0...1 afterwards, and
//      when noisy, values under 3 sigma of the averaged noise are set to 0 (MNIST's background
//      is exactly 0).
//  (e) Placement: the box's edges are put on pixel boundaries, the centre of mass of the grey
//      levels is computed, and the digit is moved by the whole number of pixels that brings the
//      centre of mass into [c - 0.5, c + 0.5) with c = fieldSize/2 (index coordinates: pixel i
//      at i). That is what MNIST did: over all 70,000 MNIST digits the centre of mass lies in
//      [13.5, 14.5) on both axes, uniformly. With whole-pixel placement, MNIST digits put on a
//      larger canvas come back unchanged; sub-pixel placement blurs them (the tests measure
//      both), and it also reproduces scanned digits less well.
//
// A source exactly `fieldSize` x `fieldSize` is taken as already normalised: only the polarity
// applies, so an MNIST digit passes through bit for bit (p/255), and an inverted one comes back
// as the original when the grey levels are exact multiples of 1/levels (grey sources).
//
// Pure Swift, no Foundation: part of libnnrt.so. The hot loops run over unsafe buffers (eight
// pixels at a time where it pays): two full passes over the image (tile histograms, ink profile)
// plus the crop window; about 2 ms for a 1000x1000 image.

// MARK: - Grey images

/// A grey-level image, row-major, top row first, with values in 0...1 where 1 is white: the
/// picture as it looks, before polarity is decided.
public struct GreyImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    /// width * height values in 0...1 (1 = white).
    public let pixels: [Float]
    /// When every value is exactly k / levels for a whole k (grey sources, and colour sources
    /// whose every pixel is neutral and opaque): the source's maxValue, else nil. It lets the
    /// pass-through of a field-sized image invert its levels without rounding.
    public let levels: Int?

    /// Wraps grey values; nil if the count is not width * height or a side is not positive.
    /// Values are clamped to 0...1 (NaN becomes 0). `levels` is kept only if every value is
    /// exactly a multiple of 1/levels.
    public init?(width: Int, height: Int, pixels: [Float], levels: Int? = nil) {
        guard width > 0, height > 0 else { return nil }
        let (n, overflow) = width.multipliedReportingOverflow(by: height)
        guard !overflow, pixels.count == n else { return nil }
        var clean = pixels
        var exact = levels.map { $0 >= 1 && $0 <= 65535 } ?? false
        let lv = Float(levels ?? 1)
        clean.withUnsafeMutableBufferPointer { p in
            for i in 0..<p.count {
                let v = p[i]
                let c: Float = v.isNaN ? 0 : min(max(v, 0), 1)
                p[i] = c
                if exact, (c * lv).rounded() / lv != c { exact = false }
            }
        }
        self.width = width
        self.height = height
        self.pixels = clean
        self.levels = exact ? levels : nil
    }

    /// Converts decoded pixels: grey = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, as libjpeg),
    /// a neutral pixel (R = G = B) keeping its value exactly; alpha (straight) is composited over
    /// white; every sample is divided by the image's maxValue (8-bit, 16-bit or a PGM maxval).
    public init(_ raw: RawImage) {
        let n = raw.width &* raw.height
        var out = [Float](repeating: 0, count: n)
        var exact = true
        out.withUnsafeMutableBufferPointer { o in
            switch raw.samples {
            case .eightBit(let s):
                s.withUnsafeBufferPointer { exact = greyFromSamples($0, raw.layout, raw.maxValue, o) }
            case .sixteenBit(let s):
                s.withUnsafeBufferPointer { exact = greyFromSamples($0, raw.layout, raw.maxValue, o) }
            }
        }
        width = raw.width
        height = raw.height
        pixels = out
        levels = exact ? raw.maxValue : nil
    }
}

/// Fills `out` with grey values of `samples`; returns true if every value is exactly k/maxValue.
private func greyFromSamples<T: FixedWidthInteger & UnsignedInteger>(
    _ samples: UnsafeBufferPointer<T>, _ layout: RawImage.Layout, _ maxValue: Int,
    _ out: UnsafeMutableBufferPointer<Float>
) -> Bool {
    let n = out.count
    guard n > 0, let s = samples.baseAddress, let o = out.baseAddress,
          samples.count >= n &* layout.channels else { return true }
    let m = Float(maxValue)
    let inverse = 1 / m
    let full = T(truncatingIfNeeded: maxValue)
    // Sample -> 0...1: a table for 8-bit samples (exactly v / m), a division otherwise.
    var table = [Float]()
    if T.bitWidth == 8 { table = (0..<256).map { min(Float($0) / m, 1) } }
    return table.withUnsafeBufferPointer { tb -> Bool in
        let lut = tb.isEmpty ? nil : tb.baseAddress
        @inline(__always) func level(_ v: T) -> Float {
            if let lut { return lut[Int(truncatingIfNeeded: v)] }
            return min(Float(v) / m, 1)
        }
        @inline(__always) func luma(_ r: T, _ g: T, _ b: T) -> Float {
            min((0.299 * Float(r) + 0.587 * Float(g) + 0.114 * Float(b)) * inverse, 1)
        }
        var mixed = 0   // pixels that are not neutral and opaque
        switch layout {
        case .grey:
            for i in 0..<n { o[i] = level(s[i]) }
        case .greyAlpha:
            for i in 0..<n {
                let c = level(s[2 &* i]), a = s[2 &* i &+ 1]
                if a >= full {
                    o[i] = c
                } else {
                    mixed &+= 1
                    let af = level(a)
                    o[i] = min(c * af + (1 - af), 1)
                }
            }
        case .rgb:
            if let lut {
                // 8-bit: the luma's three terms from tables too.
                var terms = [Float](repeating: 0, count: 768)
                for v in 0..<256 {
                    terms[v] = 0.299 * Float(v) * inverse
                    terms[256 + v] = 0.587 * Float(v) * inverse
                    terms[512 + v] = 0.114 * Float(v) * inverse
                }
                terms.withUnsafeBufferPointer { t in
                    let t = t.baseAddress!
                    for i in 0..<n {
                        let r = Int(truncatingIfNeeded: s[3 &* i]), g = Int(truncatingIfNeeded: s[3 &* i &+ 1])
                        let b = Int(truncatingIfNeeded: s[3 &* i &+ 2])
                        let neutral = (r ^ g) | (g ^ b) == 0
                        mixed &+= neutral ? 0 : 1
                        let l = min(t[r] + t[256 &+ g] + t[512 &+ b], 1)
                        o[i] = neutral ? lut[r] : l
                    }
                }
            } else {
                for i in 0..<n {
                    let r = s[3 &* i], g = s[3 &* i &+ 1], b = s[3 &* i &+ 2]
                    if r == g && g == b {
                        o[i] = level(r)
                    } else {
                        mixed &+= 1
                        o[i] = luma(r, g, b)
                    }
                }
            }
        case .rgba:
            for i in 0..<n {
                let r = s[4 &* i], g = s[4 &* i &+ 1], b = s[4 &* i &+ 2], a = s[4 &* i &+ 3]
                let neutral = r == g && g == b
                let c = neutral ? level(r) : luma(r, g, b)
                if a >= full && neutral {
                    o[i] = c
                } else {
                    mixed &+= 1
                    let af = level(a)
                    o[i] = min(c * af + (1 - af), 1)
                }
            }
        }
        return mixed == 0
    }
}

// MARK: - Options and result

/// How `normalizeDigit` makes an MNIST-style field. The defaults reproduce MNIST.
public struct DigitNormalization: Sendable, Equatable {
    /// Which way round the ink is.
    public enum Polarity: Sendable, Equatable {
        /// Decided from the image: the ink is the side of the grey scale further from the paper
        /// level (the border's median).
        case automatic
        /// Light ink on a dark background (MNIST's own polarity): never inverted.
        case lightOnDark
        /// Dark ink on light paper: always inverted.
        case darkOnLight
    }

    /// What is put at the centre of the field.
    public enum Centering: Sendable, Equatable {
        /// The centre of mass of the grey levels (MNIST).
        case centerOfMass
        /// The centre of the ink's bounding box.
        case boundingBox
    }

    /// How finely the digit is moved into place.
    public enum Placement: Sendable, Equatable {
        /// By whole pixels, to the nearest position (MNIST; no resampling blur).
        case wholePixel
        /// By the exact fractional offset (the digit is resampled at that offset).
        case subpixel
    }

    /// Side of the square output field (default 28), clamped to 1...1024.
    public var fieldSize: Int
    /// The longer side of the ink's box after size normalisation (default 20), clamped to
    /// 1...fieldSize.
    public var boxSize: Int
    /// Default `.automatic`.
    public var polarity: Polarity
    /// Normalised ink level (0...1, strong ink = 1) a pixel must reach to count for the bounding
    /// box (default 0.1). Noise raises the effective threshold to 3.5 sigma.
    public var inkThreshold: Float
    /// Default `.centerOfMass`.
    public var centering: Centering
    /// Default `.wholePixel`.
    public var placement: Placement

    public init(fieldSize: Int = 28, boxSize: Int = 20, polarity: Polarity = .automatic,
                inkThreshold: Float = 0.1, centering: Centering = .centerOfMass,
                placement: Placement = .wholePixel) {
        self.fieldSize = fieldSize
        self.boxSize = boxSize
        self.polarity = polarity
        self.inkThreshold = inkThreshold
        self.centering = centering
        self.placement = placement
    }

    /// MNIST's recipe: 28x28 field, 20x20 box, centre of mass, whole-pixel placement.
    public static let mnist = DigitNormalization()
}

/// A digit in MNIST form, and what `normalizeDigit` decided on the way.
public struct NormalizedDigit: Sendable, Equatable {
    /// A rectangle in source pixels.
    public struct Box: Sendable, Equatable {
        public var x: Int
        public var y: Int
        public var width: Int
        public var height: Int

        public init(x: Int, y: Int, width: Int, height: Int) {
            self.x = x
            self.y = y
            self.width = width
            self.height = height
        }
    }

    /// Side of the field.
    public var fieldSize: Int
    /// fieldSize * fieldSize values in 0...1, 1 = ink (MNIST's polarity), row-major: what the
    /// book's networks read as p/255.
    public var pixels: [Float]
    /// False when no ink was found (a blank or pure-noise image): the field is all zero.
    public var inkFound: Bool
    /// True if the source was read as dark ink on light paper and inverted.
    public var inverted: Bool
    /// True if the source was already field-sized and only its polarity was applied.
    public var passedThrough: Bool
    /// The ink's bounding box in source pixels (nil when no ink was found).
    public var inkBox: Box?
    /// Field pixels per source pixel of the size normalisation (1 when passed through, 0 when
    /// no ink was found).
    public var scale: Float
    /// The move, in field pixels, that brought the centre of mass (or the box centre) to the
    /// field's centre, from the position with the scaled box centred in the field.
    public var shiftX: Float
    public var shiftY: Float
    /// The paper (background) level of the source as it looked: the median of its border ring,
    /// 0...1, 1 = white.
    public var paperLevel: Float
    /// The strong ink's level above the background, in the source's 0...1 units (what was
    /// stretched to 1).
    public var inkContrast: Float
    /// The estimated standard deviation of the source's noise, 0...1 units.
    public var noise: Float

    public init(fieldSize: Int, pixels: [Float], inkFound: Bool, inverted: Bool, passedThrough: Bool,
                inkBox: Box?, scale: Float, shiftX: Float, shiftY: Float, paperLevel: Float,
                inkContrast: Float, noise: Float) {
        self.fieldSize = fieldSize
        self.pixels = pixels
        self.inkFound = inkFound
        self.inverted = inverted
        self.passedThrough = passedThrough
        self.inkBox = inkBox
        self.scale = scale
        self.shiftX = shiftX
        self.shiftY = shiftY
        self.paperLevel = paperLevel
        self.inkContrast = inkContrast
        self.noise = noise
    }
}

// MARK: - normalizeDigit

/// Turns an image of one digit into MNIST form: polarity, background and contrast
/// normalisation, crop to the ink's bounding box, size normalisation to `boxSize` keeping the
/// aspect ratio (anti-aliased), and centring of the centre of mass in a `fieldSize` field. A
/// field-sized source is only brought to MNIST polarity. See the top of this file for the
/// choices made at each step. Never traps; a blank image gives an all-zero field with
/// `inkFound == false`.
public func normalizeDigit(_ image: GreyImage, _ options: DigitNormalization = .init()) -> NormalizedDigit {
    let field = min(max(options.fieldSize, 1), 1024)
    let box = min(max(options.boxSize, 1), field)
    let threshold: Float = options.inkThreshold.isNaN ? 0.1 : min(max(options.inkThreshold, 0), 1)
    return image.pixels.withUnsafeBufferPointer { buf -> NormalizedDigit in
        guard let base = buf.baseAddress, image.width > 0, image.height > 0,
              buf.count == image.width &* image.height else {
            return blankDigit(field: field, inverted: false, paper: 0, noise: 0)
        }
        let src = Pixels(base: base, width: image.width, height: image.height)
        let passThroughSize = image.width == field && image.height == field
        // A field-sized source needs only the polarity: no tile histograms, no noise estimate.
        let stats = TileStatistics(src, polarityOnly: passThroughSize)
        let inverted: Bool
        switch options.polarity {
        case .automatic: inverted = stats.inkIsDark
        case .lightOnDark: inverted = false
        case .darkOnLight: inverted = true
        }
        if passThroughSize {
            return passThrough(src, levels: image.levels, inverted: inverted, threshold: threshold,
                               paper: stats.paperLevel)
        }
        let model = PaperModel(stats, inverted: inverted)
        guard model.inkFound else {
            return blankDigit(field: field, inverted: inverted, paper: stats.paperLevel, noise: model.sigma)
        }
        let boxThreshold = max(threshold, 3.5 * model.sigma / model.contrast, 1.0 / 512)
        guard let inkBox = findInkBox(src, model, threshold: boxThreshold) else {
            return blankDigit(field: field, inverted: inverted, paper: stats.paperLevel, noise: model.sigma)
        }
        return placeDigit(src, model, inkBox: inkBox, field: field, box: box, options: options,
                          inverted: inverted, paper: stats.paperLevel)
    }
}

private func blankDigit(field: Int, inverted: Bool, paper: Float, noise: Float) -> NormalizedDigit {
    NormalizedDigit(fieldSize: field, pixels: [Float](repeating: 0, count: field &* field), inkFound: false,
                    inverted: inverted, passedThrough: false, inkBox: nil, scale: 0, shiftX: 0, shiftY: 0,
                    paperLevel: paper, inkContrast: 0, noise: noise)
}

/// A field-sized source: only the polarity applies.
private func passThrough(_ src: Pixels, levels: Int?, inverted: Bool, threshold: Float, paper: Float) -> NormalizedDigit {
    let n = src.width &* src.height
    var out = [Float](repeating: 0, count: n)
    var x0 = Int.max, y0 = Int.max, x1 = -1, y1 = -1
    out.withUnsafeMutableBufferPointer { o in
        let p = src.base
        if !inverted {
            for i in 0..<n { o[i] = p[i] }
        } else if let levels {
            let lv = Float(levels)
            for i in 0..<n { o[i] = (lv - (p[i] * lv).rounded()) / lv }
        } else {
            for i in 0..<n { o[i] = 1 - p[i] }
        }
        let t = max(threshold, Float.leastNonzeroMagnitude)
        for y in 0..<src.height {
            for x in 0..<src.width where o[y &* src.width &+ x] >= t {
                x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y)
            }
        }
    }
    let box = x1 >= 0 ? NormalizedDigit.Box(x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1) : nil
    return NormalizedDigit(fieldSize: src.width, pixels: out, inkFound: box != nil, inverted: inverted,
                           passedThrough: true, inkBox: box, scale: 1, shiftX: 0, shiftY: 0,
                           paperLevel: paper, inkContrast: 1, noise: 0)
}

// MARK: - Internals

/// A borrowed view of a GreyImage's values.
private struct Pixels {
    let base: UnsafePointer<Float>
    let width: Int
    let height: Int
}

/// At most 8x8 tiles of at least 8x8 pixels (the last row and column of tiles may be smaller).
private struct TileGrid {
    let width: Int
    let height: Int
    let side: Int
    let nx: Int
    let ny: Int

    init(width: Int, height: Int) {
        self.width = width
        self.height = height
        side = max(8, (max(width, height) + 7) / 8)
        nx = (width + side - 1) / side
        ny = (height + side - 1) / side
    }

    var count: Int { nx &* ny }
    /// Continuous coordinates (pixel i spans [i, i+1)) of the tile centres.
    func centreX(_ tx: Int) -> Float { Float(tx &* side + min(width, (tx &+ 1) &* side)) / 2 }
    func centreY(_ ty: Int) -> Float { Float(ty &* side + min(height, (ty &+ 1) &* side)) / 2 }
    func pixelCount(_ t: Int) -> Int {
        let tx = t % nx, ty = t / nx
        return (min(width, (tx &+ 1) &* side) - tx &* side) &* (min(height, (ty &+ 1) &* side) - ty &* side)
    }
}

/// One pass over the image: a 256-level histogram per tile, and the border ring's histogram.
private struct TileStatistics {
    let grid: TileGrid
    /// grid.count * 256 counts of grey levels round(g * 255).
    let histograms: [UInt32]
    /// 256 counts over the whole image.
    let global: [UInt32]
    let pixelCount: Int
    /// The border ring's median grey level, 0...1.
    let paperLevel: Float
    /// The automatic polarity decision: true if the ink is darker than the paper.
    let inkIsDark: Bool
    /// Noise standard deviation, from the lower quartile of the differences of horizontally
    /// adjacent pixels (paper dominates that quartile; smooth lighting and blur do not count):
    /// for white Gaussian noise |a - b| has quartile 0.4506 sigma.
    let noise: Float

    /// `polarityOnly`: compute only what `paperLevel` and `inkIsDark` need (the global and border
    /// histograms); `histograms` is then empty and `noise` 0.
    init(_ src: Pixels, polarityOnly: Bool = false) {
        let w = src.width, h = src.height
        let grid = TileGrid(width: w, height: h)
        if polarityOnly {
            var global = [UInt32](repeating: 0, count: 256)
            for i in 0..<(w &* h) { global[level255(src.base[i])] &+= 1 }
            self.init(src, grid: grid, histograms: [], global: global, noiseFromDifferences: false)
            return
        }
        var hist = [UInt32](repeating: 0, count: grid.count &* 256)
        hist.withUnsafeMutableBufferPointer { hb in
            let hp = hb.baseAddress!
            for y in 0..<h {
                let row = src.base + y &* w
                let tileRow = hp + (y / grid.side) &* grid.nx &* 256
                var x = 0, tx = 0
                while x < w {
                    let end = min(w, x &+ grid.side)
                    let th = tileRow + tx &* 256
                    while x < end {
                        th[level255(row[x])] &+= 1
                        x &+= 1
                    }
                    tx &+= 1
                }
            }
        }
        var global = [UInt32](repeating: 0, count: 256)
        for t in 0..<grid.count {
            for b in 0..<256 { global[b] &+= hist[t &* 256 &+ b] }
        }
        self.init(src, grid: grid, histograms: hist, global: global, noiseFromDifferences: true)
    }

    private init(_ src: Pixels, grid: TileGrid, histograms hist: [UInt32], global: [UInt32], noiseFromDifferences: Bool) {
        let w = src.width, h = src.height
        // The border ring: 1/32 of the shorter side, at least one pixel.
        var border = [UInt32](repeating: 0, count: 256)
        let ring = max(1, min(w, h) / 32)
        for y in 0..<h {
            let row = src.base + y &* w
            if y < ring || y >= h - ring {
                for x in 0..<w { border[level255(row[x])] &+= 1 }
            } else {
                for x in 0..<min(ring, w) { border[level255(row[x])] &+= 1 }
                for x in max(ring, w - ring)..<w { border[level255(row[x])] &+= 1 }
            }
        }
        var differences = [UInt32](repeating: 0, count: 1024)
        var differenceCount = 0
        if w > 1 && noiseFromDifferences {
            differences.withUnsafeMutableBufferPointer { db in
                let dp = db.baseAddress!
                for y in stride(from: 0, to: h, by: max(1, h / 256)) {
                    let row = src.base + y &* w
                    for x in 0..<(w &- 1) {
                        // round(|difference| * 4096), the largest bin taking everything from 0.25 up.
                        let d = min(abs(row[x &+ 1] - row[x]), 0.2497)
                        dp[Int((d * 4096 + 8_388_608).bitPattern & 0x3FF)] &+= 1
                    }
                    differenceCount &+= w &- 1
                }
            }
        }
        let quartile = percentileBin(differences, count: differenceCount, fraction: 0.25)
        noise = differenceCount > 0 ? Float(quartile) / 4096 / 0.4506 : 0
        let borderCount = border.reduce(0) { $0 + Int($1) }
        let paperBin = percentileBin(border, count: borderCount, fraction: 0.5)
        // The extremes held by at least 1/20,000 of the pixels.
        let total = w &* h
        let tail = max(1, total / 20_000)
        let darkBin = rankBin(global, rank: tail - 1, fromTop: false)
        let lightBin = rankBin(global, rank: tail - 1, fromTop: true)
        let dark = paperBin - darkBin, light = lightBin - paperBin
        self.grid = grid
        histograms = hist
        self.global = global
        pixelCount = total
        paperLevel = Float(paperBin) / 255
        inkIsDark = dark > light || (dark == light && paperBin > 127)
    }
}

/// round(v * 255) for v in 0...1, without a trapping conversion: adding 2^23 leaves the rounded
/// integer in the low mantissa bits.
@inline(__always)
private func level255(_ v: Float) -> Int {
    Int((v * 255 + 8_388_608).bitPattern & 0xFF)
}

/// The bin holding the value of the given rank (0-based) counting from the bottom or the top.
private func rankBin(_ hist: [UInt32], rank: Int, fromTop: Bool) -> Int {
    var seen = 0
    for i in 0..<hist.count {
        let b = fromTop ? hist.count - 1 - i : i
        seen += Int(hist[b])
        if seen > rank { return b }
    }
    return fromTop ? 0 : hist.count - 1
}

private func percentileBin(_ hist: [UInt32], count: Int, fraction: Double) -> Int {
    guard count > 0 else { return 0 }
    return rankBin(hist, rank: Int(Double(count - 1) * fraction), fromTop: false)
}

/// Least-squares plane a + b x + c y through the accepted tiles' levels (a small ridge keeps a
/// one-row or one-column grid solvable); nil if no tile is accepted.
private func fitPlane(_ px: [Double], _ py: [Double], _ level: [Float], _ accepted: [Bool]) -> (a: Double, b: Double, c: Double)? {
    // Normal equations for (a, b, c).
    var m = [[Double]](repeating: [0, 0, 0, 0], count: 3)
    var n = 0
    for ty in 0..<py.count {
        for tx in 0..<px.count where accepted[ty * px.count + tx] {
            let v = [1, px[tx], py[ty]]
            let z = Double(level[ty * px.count + tx])
            for i in 0..<3 {
                for j in 0..<3 { m[i][j] += v[i] * v[j] }
                m[i][3] += v[i] * z
            }
            n += 1
        }
    }
    guard n > 0 else { return nil }
    for i in 0..<3 { m[i][i] += 1e-6 * Double(n) }
    // Gaussian elimination with partial pivoting.
    for col in 0..<3 {
        let pivot = (col..<3).max { abs(m[$0][col]) < abs(m[$1][col]) }!
        m.swapAt(col, pivot)
        guard abs(m[col][col]) > 1e-12 else { return nil }
        for r in 0..<3 where r != col {
            let f = m[r][col] / m[col][col]
            for k in col..<4 { m[r][k] -= f * m[col][k] }
        }
    }
    return (m[0][3] / m[0][0], m[1][3] / m[1][1], m[2][3] / m[2][2])
}

/// The background surface, the noise and the ink's strong level, in the ink domain (ink high).
private struct PaperModel {
    let grid: TileGrid
    let inverted: Bool
    /// Background level per tile (ink domain, 0...1).
    let level: [Float]
    let centresX: [Float]
    let centresY: [Float]
    /// Noise standard deviation (0...1 units).
    let sigma: Float
    /// The strong ink's level above the background (what becomes 1).
    let contrast: Float
    let inkFound: Bool

    init(_ stats: TileStatistics, inverted: Bool) {
        let grid = stats.grid
        self.grid = grid
        self.inverted = inverted
        let hist = stats.histograms
        // Ink-domain percentile of tile t, in bins.
        func tileBin(_ t: Int, _ fraction: Double) -> Int {
            let n = grid.pixelCount(t)
            let rank = Int(Double(n - 1) * fraction)
            var seen = 0
            for i in 0..<256 {
                let b = inverted ? 255 - i : i
                seen += Int(hist[t &* 256 &+ b])
                if seen > rank { return i }
            }
            return 255
        }
        let tiles = grid.count
        var paperBin = [Int](repeating: 0, count: tiles)
        // The paper level of a tile: its 25th percentile (ink-domain), so ink may cover up to 3/4
        // of it; with noise that lies 0.674 sigma under the paper's mean, which is added back.
        let lift = Int((0.674 * stats.noise * 255).rounded())
        for t in 0..<tiles { paperBin[t] = min(255, tileBin(t, 0.25) + lift) }
        let paperInk = inverted ? 1 - stats.paperLevel : stats.paperLevel
        // The lighting: a plane a + b x + c y fitted to the tile levels, refitted without the
        // tiles standing more than delta above it (tiles mostly covered by ink). Accepted tiles
        // keep their own level (lighting need not be linear); the others take the plane's.
        let delta = 3.0 / 255 + stats.noise
        var level = paperBin.map { Float($0) / 255 }
        var accepted = [Bool](repeating: true, count: tiles)
        let halfW = Double(grid.width) / 2, halfH = Double(grid.height) / 2
        let px = (0..<grid.nx).map { (Double(grid.centreX($0)) - halfW) / max(halfW, 1) }
        let py = (0..<grid.ny).map { (Double(grid.centreY($0)) - halfH) / max(halfH, 1) }
        var plane = (a: Double(paperInk), b: 0.0, c: 0.0)
        for _ in 0..<6 {
            if let fit = fitPlane(px, py, level, accepted) { plane = fit }
            var changed = false
            for ty in 0..<grid.ny {
                for tx in 0..<grid.nx {
                    let t = ty &* grid.nx &+ tx
                    let predicted = plane.a + plane.b * px[tx] + plane.c * py[ty]
                    let ok = Double(level[t]) <= predicted + Double(delta)
                    if ok != accepted[t] { accepted[t] = ok; changed = true }
                }
            }
            if !changed { break }
        }
        for ty in 0..<grid.ny {
            for tx in 0..<grid.nx where !accepted[ty &* grid.nx &+ tx] {
                level[ty &* grid.nx &+ tx] = Float(min(max(plane.a + plane.b * px[tx] + plane.c * py[ty], 0), 1))
            }
        }
        self.level = level
        centresX = (0..<grid.nx).map { grid.centreX($0) }
        centresY = (0..<grid.ny).map { grid.centreY($0) }
        let sigma = stats.noise
        self.sigma = sigma
        // The ink's strong level, from the tiles' histograms: residuals (level - the tile's
        // background) above 3 sigma, in 1/511 bins.
        var residual = [UInt32](repeating: 0, count: 512)
        let floor = max(3 * sigma, 0.5 / 255)
        var inkCount = 0
        for t in 0..<tiles {
            let bg = level[t]
            for i in 0..<256 {
                let c = hist[t &* 256 &+ (inverted ? 255 - i : i)]
                guard c > 0 else { continue }
                let r = Float(i) / 255 - bg
                guard r > floor else { continue }
                residual[min(511, Int(r * 511 + 0.5))] &+= c
                inkCount += Int(c)
            }
        }
        guard inkCount > 0 else {
            contrast = 0
            inkFound = false
            return
        }
        let robustMax = rankBin(residual, rank: max(1, inkCount / 200) - 1, fromTop: true)
        var strong = [UInt32](repeating: 0, count: 512)
        var strongCount = 0
        for b in (robustMax + 1) / 2..<512 {
            strong[b] = residual[b]
            strongCount += Int(residual[b])
        }
        var level95 = Float(percentileBin(strong, count: strongCount, fraction: 0.95)) / 511
        if sigma >= 1.0 / 255 { level95 -= 1.645 * sigma }
        let contrast = abs(level95 - 1) <= 0.02 ? 1 : level95
        self.contrast = max(contrast, 1.0 / 255)
        inkFound = contrast >= 0.05 && contrast >= 5 * sigma
    }

    /// Fills dst[0..<(xb - xa)] with the normalised ink u = (ink-domain level - background) /
    /// contrast of row y, columns xa..<xb (negative where noise dips below the background).
    @discardableResult
    func inkRow(_ src: Pixels, y: Int, xa: Int, xb: Int, into dst: UnsafeMutablePointer<Float>,
                columns: UnsafeMutablePointer<Float>) -> Float {
        // The background at this row in each tile column.
        let yc = Float(y) + 0.5
        let ny = grid.ny, nx = grid.nx
        var ty = 0
        while ty + 1 < ny && yc >= centresY[ty + 1] { ty += 1 }
        for tx in 0..<nx {
            let a = level[ty &* nx &+ tx]
            if ty + 1 < ny && yc > centresY[ty] {
                let b = level[(ty &+ 1) &* nx &+ tx]
                columns[tx] = a + (b - a) * (yc - centresY[ty]) / (centresY[ty + 1] - centresY[ty])
            } else {
                columns[tx] = a
            }
        }
        // Along the row, piecewise linear between tile centres, constant beyond the outer ones.
        let invC = 1 / contrast
        let gain: Float = inverted ? -invC : invC
        let offset: Float = inverted ? 1 : 0
        let row = src.base + y &* src.width
        let first = centresX[0], last = centresX[nx - 1]
        // The first pixel whose centre is at or beyond c.
        func firstAtOrBeyond(_ c: Float) -> Int { Int((c - 0.5).rounded(.up)) }
        var x = xa
        var k = 0
        var high: Float = -.infinity
        while x < xb {
            let xc = Float(x) + 0.5
            // This stretch of pixels shares one linear piece of the background:
            // u = g * gain + start + step * (i - x).
            let end: Int
            let start: Float, step: Float
            if nx == 1 || xc < first || xc >= last {
                end = (nx > 1 && xc < first) ? min(xb, firstAtOrBeyond(first)) : xb
                start = (offset - (nx > 1 && xc < first ? columns[0] : columns[nx - 1])) * invC
                step = 0
            } else {
                while xc >= centresX[k + 1] { k += 1 }
                end = min(xb, firstAtOrBeyond(centresX[k + 1]))
                let a = columns[k], c0 = centresX[k]
                let slope = (columns[k + 1] - a) / (centresX[k + 1] - c0)
                start = (offset - (a + slope * (xc - c0))) * invC
                step = -slope * invC
            }
            high = max(high, transformRow(row + x, dst + (x &- xa), count: max(end, x + 1) &- x,
                                          gain: gain, start: start, step: step))
            x = max(end, x + 1)
        }
        return high
    }
}

/// dst[i] = src[i] * gain + start + step * i for i in 0..<count (eight at a time); returns the
/// largest dst[i].
@inline(__always)
private func transformRow(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int,
                          gain: Float, start: Float, step: Float) -> Float {
    var i = 0
    var high = SIMD8<Float>(repeating: -.infinity)
    let lanes = SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7)
    let gains = SIMD8<Float>(repeating: gain), steps = SIMD8<Float>(repeating: step)
    while i &+ 8 <= count {
        let g = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<Float>.self)
        let u = g * gains + (SIMD8<Float>(repeating: start) + steps * (SIMD8<Float>(repeating: Float(i)) + lanes))
        UnsafeMutableRawPointer(dst + i).storeBytes(of: u, as: SIMD8<Float>.self)
        high.replace(with: u, where: u .> high)
        i &+= 8
    }
    var top = high[0]
    for lane in 1..<8 where high[lane] > top { top = high[lane] }
    while i < count {
        let u = src[i] * gain + (start + step * Float(i))
        dst[i] = u
        top = u > top ? u : top
        i &+= 1
    }
    return top
}

/// The ink's bounding box: see step (c) at the top of the file.
private func findInkBox(_ src: Pixels, _ model: PaperModel, threshold t: Float) -> NormalizedDigit.Box? {
    let w = src.width, h = src.height
    var rowPairs = [Float](repeating: 0, count: h), colPairs = [Float](repeating: 0, count: w)
    var rowSingles = [Float](repeating: 0, count: h), colSingles = [Float](repeating: 0, count: w)
    var rows = [Float](repeating: 0, count: 3 &* w)
    var columns = [Float](repeating: 0, count: model.grid.nx)
    rows.withUnsafeMutableBufferPointer { rb in
    columns.withUnsafeMutableBufferPointer { cb in
    rowPairs.withUnsafeMutableBufferPointer { rp in
    colPairs.withUnsafeMutableBufferPointer { cp in
    rowSingles.withUnsafeMutableBufferPointer { rs in
    colSingles.withUnsafeMutableBufferPointer { cs in
        var prev = rb.baseAddress!, cur = prev + w, next = cur + w
        func load(_ y: Int, _ dst: UnsafeMutablePointer<Float>) -> Bool {
            model.inkRow(src, y: y, xa: 0, xb: w, into: dst, columns: cb.baseAddress!) >= t
        }
        var prevAny = false
        var curAny = load(0, cur)
        for y in 0..<h {
            let nextAny = y + 1 < h ? load(y + 1, next) : false
            if curAny {
                var rowPair: Float = 0, rowSingle: Float = 0
                for x in 0..<w where cur[x] >= t {
                    let v = min(cur[x], 1)
                    rowSingle += v
                    cs[x] += v
                    let paired = (x > 0 && cur[x - 1] >= t) || (x + 1 < w && cur[x + 1] >= t)
                        || (prevAny && prev[x] >= t) || (nextAny && next[x] >= t)
                    if paired {
                        rowPair += v
                        cp[x] += v
                    }
                }
                rp[y] = rowPair
                rs[y] = rowSingle
            }
            (prev, cur, next) = (cur, next, prev)
            prevAny = curAny
            curAny = nextAny
        }
    }}}}}}
    let usePairs = rowPairs.contains { $0 > 0 }
    guard let (y0, y1) = inkRange(usePairs ? rowPairs : rowSingles),
          let (x0, x1) = inkRange(usePairs ? colPairs : colSingles) else { return nil }
    return NormalizedDigit.Box(x: x0, y: y0, width: x1 - x0, height: y1 - y0)
}

/// The span [start, end) of the runs of a mass profile that hold at least 1% of its mass (the
/// largest run is always kept); nil if the profile is empty.
private func inkRange(_ mass: [Float]) -> (Int, Int)? {
    var runs: [(start: Int, end: Int, mass: Double)] = []
    var total = 0.0
    var i = 0
    while i < mass.count {
        if mass[i] > 0 {
            var m = 0.0
            let start = i
            while i < mass.count && mass[i] > 0 { m += Double(mass[i]); i += 1 }
            runs.append((start, i, m))
            total += m
        } else {
            i += 1
        }
    }
    guard let largest = runs.indices.max(by: { runs[$0].mass < runs[$1].mass }) else { return nil }
    let kept = runs.indices.filter { $0 == largest || runs[$0].mass >= 0.01 * total }
    return (runs[kept.first!].start, runs[kept.last!].end)
}

/// Resampling weights along one axis: for each output pixel, the source pixels and weights.
private struct Taps {
    var first: [Int] = []
    var weights: [[Float]] = []
    var low = Int.max
    var high = Int.min

    /// Output pixels outStart..<outEnd; output coordinate u = (x - origin) * scale + offset
    /// (continuous, pixel j spans [j, j+1)); only source pixels in `window` contribute.
    init(outStart: Int, outEnd: Int, origin: Double, scale: Double, offset: Double, window: Range<Int>) {
        for j in outStart..<outEnd {
            var ws: [Float] = []
            var start = 0
            if scale <= 1 {
                // Area averaging: the source interval [a, b) that output pixel j covers.
                let a = max(origin + (Double(j) - offset) / scale, Double(window.lowerBound))
                let b = min(origin + (Double(j + 1) - offset) / scale, Double(window.upperBound))
                if b > a {
                    start = Int(a.rounded(.down))
                    let end = Int(b.rounded(.up))
                    for k in start..<end {
                        ws.append(Float((min(b, Double(k + 1)) - max(a, Double(k))) * scale))
                    }
                }
            } else {
                // Bilinear: the source position of the output pixel's centre (pixel k's centre at k).
                let c = origin + (Double(j) + 0.5 - offset) / scale - 0.5
                let k = Int(c.rounded(.down))
                let f = Float(c - Double(k))
                start = k
                ws = [1 - f, f]
                // Clip to the window.
                if k + 1 >= window.upperBound { ws[1] = 0 }
                if k < window.lowerBound { ws[0] = 0 }
                if k + 1 < window.lowerBound || k >= window.upperBound { ws = [] }
                while let last = ws.last, last == 0 { ws.removeLast() }
                while let firstW = ws.first, firstW == 0 { ws.removeFirst(); start += 1 }
            }
            first.append(start)
            weights.append(ws)
            if !ws.isEmpty {
                low = min(low, start)
                high = max(high, start + ws.count)
            }
        }
    }
}

/// Resamples the ink of `window` (source pixels) into output rows and columns, clamped to 0...1
/// with values under `floor` set to 0.
private func resample(_ src: Pixels, _ model: PaperModel, windowX: Range<Int>, windowY: Range<Int>,
                      originX: Double, originY: Double, scale: Double, offsetX: Double, offsetY: Double,
                      cols: Range<Int>, rows: Range<Int>, floor: Float) -> [Float] {
    let nc = cols.count, nr = rows.count
    var out = [Float](repeating: 0, count: nr &* nc)
    let tx = Taps(outStart: cols.lowerBound, outEnd: cols.upperBound, origin: originX, scale: scale,
                  offset: offsetX, window: windowX)
    let ty = Taps(outStart: rows.lowerBound, outEnd: rows.upperBound, origin: originY, scale: scale,
                  offset: offsetY, window: windowY)
    guard tx.low < tx.high, ty.low < ty.high else { return out }
    let xa = tx.low, xb = tx.high, ya = ty.low, yb = ty.high
    // Horizontal pass: one row of nc values per source row.
    var horizontal = [Float](repeating: 0, count: (yb - ya) &* nc)
    var line = [Float](repeating: 0, count: xb - xa)
    var columns = [Float](repeating: 0, count: model.grid.nx)
    horizontal.withUnsafeMutableBufferPointer { hb in
    line.withUnsafeMutableBufferPointer { lb in
    columns.withUnsafeMutableBufferPointer { cb in
        let hp = hb.baseAddress!, lp = lb.baseAddress!
        for y in ya..<yb {
            model.inkRow(src, y: y, xa: xa, xb: xb, into: lp, columns: cb.baseAddress!)
            let dst = hp + (y &- ya) &* nc
            for j in 0..<nc {
                let ws = tx.weights[j]
                guard !ws.isEmpty else { continue }
                let s = lp + (tx.first[j] &- xa)
                var acc: Float = 0
                for k in 0..<ws.count { acc += ws[k] * s[k] }
                dst[j] = acc
            }
        }
    }}}
    // Vertical pass, then clamp and floor.
    out.withUnsafeMutableBufferPointer { ob in
    horizontal.withUnsafeBufferPointer { hb in
        let hp = hb.baseAddress!
        for i in 0..<nr {
            let ws = ty.weights[i]
            guard !ws.isEmpty else { continue }
            for j in 0..<nc {
                var acc: Float = 0
                for k in 0..<ws.count { acc += ws[k] * hp[(ty.first[i] &+ k &- ya) &* nc &+ j] }
                let v = min(max(acc, 0), 1)
                ob[i &* nc &+ j] = v < floor ? 0 : v
            }
        }
    }}
    return out
}

/// The ink box with sub-pixel edges, in continuous source coordinates (pixel i spans [i, i+1)).
private struct EdgeBox {
    var left: Double
    var top: Double
    var right: Double
    var bottom: Double
    var width: Double { right - left }
    var height: Double { bottom - top }
}

/// Sub-pixel edges for a digit drawn larger than the box (more than 1.5 source pixels per
/// output pixel): on each side, the ink profile across the edge (the largest normalised ink of
/// each row or column within the box) is followed from outside to where it first reaches half
/// the edge's own level (its largest value within one output pixel's width inside the
/// threshold box), interpolating between pixel centres. For an anti-aliased or blurred
/// digit that is where the edge of the drawn shape lies; a digit at about the output scale
/// keeps whole-pixel edges (so MNIST digits pass unchanged).
private func refineEdges(_ src: Pixels, _ model: PaperModel, _ box: NormalizedDigit.Box, outputBox: Int) -> EdgeBox {
    let whole = EdgeBox(left: Double(box.x), top: Double(box.y), right: Double(box.x + box.width),
                        bottom: Double(box.y + box.height))
    let perOutput = Double(max(box.width, box.height)) / Double(outputBox)
    guard perOutput >= 1.5 else { return whole }
    let reach = Int(perOutput.rounded(.up)) + 1
    let w = src.width, h = src.height
    // Profiles across the four edges, over bands of +-reach pixels, clamped to the image.
    let rowBands = [max(0, box.y - reach)..<min(h, box.y + reach),
                    max(0, box.y + box.height - reach)..<min(h, box.y + box.height + reach)]
    let colBands = [max(0, box.x - reach)..<min(w, box.x + reach),
                    max(0, box.x + box.width - reach)..<min(w, box.x + box.width + reach)]
    var rowProfile = [[Float]](repeating: [], count: 2), colProfile = [[Float]](repeating: [], count: 2)
    for b in 0..<2 {
        rowProfile[b] = [Float](repeating: 0, count: rowBands[b].count)
        colProfile[b] = [Float](repeating: 0, count: colBands[b].count)
    }
    var line = [Float](repeating: 0, count: w)
    var columns = [Float](repeating: 0, count: model.grid.nx)
    line.withUnsafeMutableBufferPointer { lb in
    columns.withUnsafeMutableBufferPointer { cb in
        let lp = lb.baseAddress!, cp = cb.baseAddress!
        for b in 0..<2 {
            for y in rowBands[b] {
                model.inkRow(src, y: y, xa: box.x, xb: box.x + box.width, into: lp, columns: cp)
                var m: Float = 0
                for i in 0..<box.width { m = max(m, lp[i]) }
                rowProfile[b][y - rowBands[b].lowerBound] = min(m, 1)
            }
        }
        let xa = max(0, box.x - reach), xb = min(w, box.x + box.width + reach)
        for y in box.y..<(box.y + box.height) {
            model.inkRow(src, y: y, xa: xa, xb: xb, into: lp, columns: cp)
            for b in 0..<2 {
                for x in colBands[b] {
                    let i = x - colBands[b].lowerBound
                    colProfile[b][i] = max(colProfile[b][i], min(lp[x - xa], 1))
                }
            }
        }
    }}
    let span = Int(perOutput.rounded())
    // The edge where `profile` (pixel centres at start + i + 0.5) rises, walking in `direction`
    // from the outside; `edge` is the threshold box's whole-pixel edge.
    func subpixelEdge(_ profile: [Float], start: Int, edge: Int, inward: Int) -> Double {
        guard !profile.isEmpty else { return Double(edge) }
        // The first inked pixel of the threshold box on this side.
        let firstInk = inward > 0 ? edge : edge - 1
        var level: Float = 0
        for k in 0..<span {
            let i = firstInk + inward * k - start
            if i >= 0 && i < profile.count { level = max(level, profile[i]) }
        }
        let half = level / 2
        guard half > 0 else { return Double(edge) }
        // Walk inward from the band's outer end.
        var i = inward > 0 ? 0 : profile.count - 1
        var previous: Float? = nil
        while i >= 0 && i < profile.count {
            let v = profile[i]
            if v >= half {
                guard let p = previous, v > p else {
                    // Already at the level at the band's outer end: its outer pixel boundary.
                    return Double(start + i + (inward > 0 ? 0 : 1))
                }
                // Between the centres of pixel i - inward (value p) and pixel i (value v).
                let f = Double((half - p) / (v - p))
                let outerCentre = Double(start + i - inward) + 0.5
                return outerCentre + Double(inward) * f
            }
            previous = v
            i += inward
        }
        return Double(edge)
    }
    var edges = whole
    edges.top = subpixelEdge(rowProfile[0], start: rowBands[0].lowerBound, edge: box.y, inward: 1)
    edges.bottom = subpixelEdge(rowProfile[1], start: rowBands[1].lowerBound, edge: box.y + box.height, inward: -1)
    edges.left = subpixelEdge(colProfile[0], start: colBands[0].lowerBound, edge: box.x, inward: 1)
    edges.right = subpixelEdge(colProfile[1], start: colBands[1].lowerBound, edge: box.x + box.width, inward: -1)
    // Never turn a box inside out or move an edge by more than the band.
    if !(edges.right - edges.left >= 1) { edges.left = whole.left; edges.right = whole.right }
    if !(edges.bottom - edges.top >= 1) { edges.top = whole.top; edges.bottom = whole.bottom }
    return edges
}

/// Steps (d) and (e): size normalisation and placement.
private func placeDigit(_ src: Pixels, _ model: PaperModel, inkBox: NormalizedDigit.Box, field: Int, box: Int,
                        options: DigitNormalization, inverted: Bool, paper: Float) -> NormalizedDigit {
    let edges = refineEdges(src, model, inkBox, outputBox: box)
    let scale = Double(box) / max(edges.width, edges.height)
    // The crop window: the box and 2 output pixels around it.
    let margin = max(1, Int((2 / scale).rounded(.up)))
    let windowX = max(0, Int(edges.left.rounded(.down)) - margin)..<min(src.width, Int(edges.right.rounded(.up)) + margin)
    let windowY = max(0, Int(edges.top.rounded(.down)) - margin)..<min(src.height, Int(edges.bottom.rounded(.up)) + margin)
    // The box centred in the field, its edges on pixel boundaries.
    let boxW = edges.width * scale, boxH = edges.height * scale
    let ox = ((Double(field) - boxW) / 2).rounded(), oy = ((Double(field) - boxH) / 2).rounded()
    // Noise left after resampling: averaging 1/scale^2 pixels divides it by 1/scale.
    let noiseOut = model.sigma / model.contrast * Float(min(1, scale))
    let floor = model.sigma >= 1.0 / 255 ? 3 * noiseOut : 0
    // The digit at that position, over every field pixel the window can reach.
    let colLow = Int(((Double(windowX.lowerBound) - edges.left) * scale + ox).rounded(.down))
    let colHigh = Int(((Double(windowX.upperBound) - edges.left) * scale + ox).rounded(.up))
    let rowLow = Int(((Double(windowY.lowerBound) - edges.top) * scale + oy).rounded(.down))
    let rowHigh = Int(((Double(windowY.upperBound) - edges.top) * scale + oy).rounded(.up))
    let cols = colLow..<max(colLow + 1, colHigh), rows = rowLow..<max(rowLow + 1, rowHigh)
    let local = resample(src, model, windowX: windowX, windowY: windowY, originX: edges.left, originY: edges.top,
                         scale: scale, offsetX: ox, offsetY: oy, cols: cols, rows: rows, floor: floor)
    // Where to move it.
    let target = Double(field / 2)
    var dx = 0.0, dy = 0.0
    switch options.centering {
    case .centerOfMass:
        var mass = 0.0, mx = 0.0, my = 0.0
        for i in 0..<rows.count {
            for j in 0..<cols.count {
                let v = Double(local[i &* cols.count &+ j])
                mass += v
                mx += v * Double(cols.lowerBound + j)
                my += v * Double(rows.lowerBound + i)
            }
        }
        if mass > 0 {
            dx = target - mx / mass
            dy = target - my / mass
        }
    case .boundingBox:
        dx = Double(field) / 2 - (ox + boxW / 2)
        dy = Double(field) / 2 - (oy + boxH / 2)
    }
    var pixels = [Float](repeating: 0, count: field &* field)
    switch options.placement {
    case .wholePixel:
        // Whole pixels, leaving the centre of mass in [target - 0.5, target + 0.5) as MNIST has it.
        dx = -(-dx + 0.5).rounded(.down) + 0
        dy = -(-dy + 0.5).rounded(.down) + 0
        let sx = Int(dx), sy = Int(dy)
        for i in 0..<rows.count {
            let fy = rows.lowerBound + i + sy
            guard fy >= 0 && fy < field else { continue }
            for j in 0..<cols.count {
                let fx = cols.lowerBound + j + sx
                guard fx >= 0 && fx < field else { continue }
                pixels[fy &* field &+ fx] = local[i &* cols.count &+ j]
            }
        }
    case .subpixel:
        pixels = resample(src, model, windowX: windowX, windowY: windowY, originX: edges.left, originY: edges.top,
                          scale: scale, offsetX: ox + dx, offsetY: oy + dy, cols: 0..<field, rows: 0..<field,
                          floor: floor)
    }
    let found = pixels.contains { $0 > 0 }
    return NormalizedDigit(fieldSize: field, pixels: pixels, inkFound: found, inverted: inverted,
                           passedThrough: false, inkBox: found ? inkBox : nil, scale: found ? Float(scale) : 0,
                           shiftX: Float(dx), shiftY: Float(dy), paperLevel: paper,
                           inkContrast: model.contrast, noise: model.sigma)
}
