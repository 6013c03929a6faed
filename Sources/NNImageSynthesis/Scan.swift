// Synthetic "scans" of MNIST digits: deterministic, seeded transformations of a 28x28 digit into
// the kind of image a user would have (a scan, a phone photo, a drawing-app export), for testing
// `normalizeDigit` and for generating test-image files. Not part of libnnrt.
//
// A `ScanRecipe` says everything about one image; `renderScan` draws it (the only randomness is
// the noise, from the seed); `ScanRecipe.variant(index:seed:)` picks recipe i of a fixed mix
// (the table at `ScanKind`), and `scanVariant` does both.

import NNImaging
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Random numbers

/// SplitMix64 (Steele, Lea and Flood 2014): a small, fast, seedable generator; every value of
/// the state is valid.
public struct SplitMix64: Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in [a, b).
    public mutating func uniform(_ a: Double, _ b: Double) -> Double { a + (b - a) * unit() }

    /// Uniform integer in a...b.
    public mutating func int(_ a: Int, _ b: Int) -> Int {
        guard b > a else { return a }
        return a + Int(next() % UInt64(b - a + 1))
    }

    /// Two independent standard normal values (Box-Muller).
    public mutating func gaussianPair() -> (Double, Double) {
        let u = 1 - unit()          // (0, 1]
        let v = unit()
        let r = (-2 * log(u)).squareRoot()
        return (r * cos(2 * Double.pi * v), r * sin(2 * Double.pi * v))
    }
}

// MARK: - Recipes

/// An RGB colour, components 0...1.
public struct RGB: Sendable, Equatable {
    public var r: Double
    public var g: Double
    public var b: Double

    public init(_ r: Double, _ g: Double, _ b: Double) {
        self.r = r
        self.g = g
        self.b = b
    }

    /// ITU-R BT.601 luma.
    public var luma: Double { 0.299 * r + 0.587 * g + 0.114 * b }
}

/// Everything about one synthetic scan.
public struct ScanRecipe: Sendable, Equatable {
    /// The sample layout of the output.
    public enum Colour: Sendable, Equatable {
        /// Grey levels.
        case grey
        /// Grey ink with alpha = ink coverage, the paper fully transparent.
        case greyAlpha
        /// Paper and ink colours.
        case rgb
        /// Ink colour with alpha = ink coverage, the paper fully transparent (a drawing app's export).
        case rgba
    }

    /// Upscaling factor of the 28x28 digit (bicubic), e.g. 2...12.
    public var scale: Double
    public var canvasWidth: Int
    public var canvasHeight: Int
    /// Canvas position of the upscaled 28x28 field's top-left corner (may be negative).
    public var originX: Int
    public var originY: Int
    /// The background's colour (grey: its luma is used). For MNIST polarity it is dark.
    public var paper: RGB
    /// The ink's colour.
    public var ink: RGB
    /// Uneven lighting: the brightness falls linearly by this fraction across the canvas (0: even).
    public var lighting: Double
    /// Direction of the lighting gradient, radians.
    public var lightingAngle: Double
    /// Gaussian blur, canvas pixels (0: none).
    public var blur: Double
    /// Gaussian noise standard deviation, 0...1 units, per sample (0: none; never on alpha).
    public var noise: Double
    public var colour: Colour
    public var sixteenBit: Bool
    /// Which entry of the variant table made it (nil for hand-made recipes).
    public var kind: ScanKind?

    public init(scale: Double, canvasWidth: Int, canvasHeight: Int, originX: Int, originY: Int,
                paper: RGB, ink: RGB, lighting: Double = 0, lightingAngle: Double = 0, blur: Double = 0,
                noise: Double = 0, colour: Colour = .grey, sixteenBit: Bool = false, kind: ScanKind? = nil) {
        self.scale = scale
        self.canvasWidth = canvasWidth
        self.canvasHeight = canvasHeight
        self.originX = originX
        self.originY = originY
        self.paper = paper
        self.ink = ink
        self.lighting = lighting
        self.lightingAngle = lightingAngle
        self.blur = blur
        self.noise = noise
        self.colour = colour
        self.sixteenBit = sixteenBit
        self.kind = kind
    }

    /// Light ink on a darker background, as MNIST.
    public var lightOnDark: Bool { ink.luma > paper.luma }

    /// One line: kind, layout, size, placement, polarity, lighting, noise, blur.
    public var description: String {
        func f(_ v: Double, _ digits: Int = 2) -> String {
            var p = 1.0
            for _ in 0..<digits { p *= 10 }
            let r = (v * p).rounded() / p
            return "\(r)"
        }
        let layout: String
        switch colour {
        case .grey: layout = "grey"
        case .greyAlpha: layout = "grey+alpha"
        case .rgb: layout = "RGB"
        case .rgba: layout = "RGBA"
        }
        var s = (kind.map { "\($0.name): " } ?? "")
            + "\(sixteenBit ? 16 : 8)-bit \(layout) \(canvasWidth)x\(canvasHeight), digit x\(f(scale)) at (\(originX),\(originY)), "
        switch colour {
        case .grey, .rgb:
            s += (lightOnDark ? "light" : "dark") + " ink \(f(ink.luma)) on \(f(paper.luma))"
        case .greyAlpha, .rgba:
            s += "ink \(f(ink.luma)) on transparent"
        }
        if lighting > 0 { s += ", lighting -\(f(lighting))" }
        if noise > 0 { s += ", noise \(f(noise, 3))" }
        if blur > 0 { s += ", blur \(f(blur))px" }
        return s
    }
}

/// The mix `ScanRecipe.variant(index:seed:)` cycles through: image i is kind i % 10, its
/// parameters drawn from the seed. Scales are of the 28x28 field; blur is given in MNIST
/// pixels (times the scale on the canvas); noise in 0...1 units.
///
/// | kind | layout | polarity | scale | canvas | lighting | noise | blur |
/// |---|---|---|---|---|---|---|---|
/// | clean | 8-bit grey | light on dark (as MNIST) | 2-4 | digit + 0-60 px | - | - | - |
/// | paper | 8-bit grey | dark on paper 0.75-0.98 | 2-6 | + 0-200 | - | 0.01-0.04 | - |
/// | blurred | 8-bit grey | dark on paper 0.8-0.95 | 3-8 | + 0-200 | - | 0.02-0.05 | 0.2-0.45 |
/// | uneven | 8-bit grey | dark on paper 0.8-0.95 | 2-8 | + 20-300 | 0.15-0.35 | 0.01-0.03 | - |
/// | colour | 8-bit RGB | tinted paper, blue/black/red ink | 2-8 | + 0-200 | - | 0.01-0.03 | 0-0.3 |
/// | drawing | 8-bit RGBA | opaque ink, paper alpha 0 | 2-12 | + 0-400 (up to 1000) | - | - | - |
/// | large | 8-bit grey | dark on paper 0.8-0.95 | 8-12 | up to 1000x1000 | - | 0.02-0.05 | 0.2-0.4 |
/// | deep | 16-bit grey | dark on paper 0.7-0.95 | 2-10 | + 0-300 | - | 0.005-0.02 | 0-0.3 |
/// | greyAlpha | 8-bit grey+alpha | grey ink, paper alpha 0 | 2-8 | + 0-200 | - | - | - |
/// | chalkboard | 16-bit RGB | light ink on a dark board | 2-8 | + 0-200 | - | 0.02-0.05 | 0-0.3 |
public enum ScanKind: Int, Sendable, CaseIterable {
    case clean, paper, blurred, uneven, colour, drawing, large, deep, greyAlpha, chalkboard

    public var name: String {
        switch self {
        case .clean: "clean"
        case .paper: "paper"
        case .blurred: "blurred"
        case .uneven: "uneven"
        case .colour: "colour"
        case .drawing: "drawing"
        case .large: "large"
        case .deep: "deep"
        case .greyAlpha: "greyAlpha"
        case .chalkboard: "chalkboard"
        }
    }
}

extension ScanRecipe {
    /// Recipe i of the mix (kind i % 10, see `ScanKind`), its parameters drawn from (seed, i).
    public static func variant(index: Int, seed: UInt64) -> ScanRecipe {
        let kinds = ScanKind.allCases
        let kind = kinds[((index % kinds.count) + kinds.count) % kinds.count]
        var rng = SplitMix64(seed: seed ^ (UInt64(bitPattern: Int64(index)) &* 0xD1B5_4A32_D192_ED03))
        _ = rng.next()
        func canvas(_ scale: Double, extra: ClosedRange<Int>, limit: Int = 1000) -> (Int, Int, Int, Int) {
            let side = Int((28 * scale).rounded())
            let left = rng.int(extra.lowerBound, extra.upperBound) / 2, right = rng.int(extra.lowerBound, extra.upperBound) / 2
            let top = rng.int(extra.lowerBound, extra.upperBound) / 2, bottom = rng.int(extra.lowerBound, extra.upperBound) / 2
            let w = min(limit, side + left + right), h = min(limit, side + top + bottom)
            return (w, h, min(left, max(0, w - side)), min(top, max(0, h - side)))
        }
        func greyPaper(_ a: Double, _ b: Double) -> RGB { let p = rng.uniform(a, b); return RGB(p, p, p) }
        func greyInk(_ a: Double, _ b: Double) -> RGB { let p = rng.uniform(a, b); return RGB(p, p, p) }
        switch kind {
        case .clean:
            let s = rng.uniform(2, 4)
            let (w, h, x, y) = canvas(s, extra: 0...120)
            let bg = greyPaper(0, 0.1), ink = greyInk(0.85, 1)
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y, paper: bg, ink: ink, kind: kind)
        case .paper:
            let s = rng.uniform(2, 6)
            let (w, h, x, y) = canvas(s, extra: 0...400)
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y,
                              paper: greyPaper(0.75, 0.98), ink: greyInk(0, 0.25), noise: rng.uniform(0.01, 0.04), kind: kind)
        case .blurred:
            let s = rng.uniform(3, 8)
            let (w, h, x, y) = canvas(s, extra: 0...400)
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y,
                              paper: greyPaper(0.8, 0.95), ink: greyInk(0, 0.2), blur: rng.uniform(0.2, 0.45) * s,
                              noise: rng.uniform(0.02, 0.05), kind: kind)
        case .uneven:
            let s = rng.uniform(2, 8)
            let (w, h, x, y) = canvas(s, extra: 40...600)
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y,
                              paper: greyPaper(0.8, 0.95), ink: greyInk(0, 0.2), lighting: rng.uniform(0.15, 0.35),
                              lightingAngle: rng.uniform(0, 2 * Double.pi), noise: rng.uniform(0.01, 0.03), kind: kind)
        case .colour:
            let s = rng.uniform(2, 8)
            let (w, h, x, y) = canvas(s, extra: 0...400)
            let p = rng.uniform(0.8, 0.97)
            let paper = RGB(p, p * rng.uniform(0.94, 1), p * rng.uniform(0.82, 0.96))
            let inks = [RGB(0.1, 0.15, 0.5), RGB(0.08, 0.08, 0.1), RGB(0.55, 0.08, 0.1)]
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y,
                              paper: paper, ink: inks[rng.int(0, 2)], blur: rng.uniform(0, 0.3) * s,
                              noise: rng.uniform(0.01, 0.03), colour: .rgb, kind: kind)
        case .drawing:
            let s = rng.uniform(2, 12)
            let (w, h, x, y) = canvas(s, extra: 0...800)
            let inks = [RGB(0, 0, 0), RGB(0.1, 0.1, 0.6), RGB(0.2, 0.2, 0.2)]
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y,
                              paper: RGB(0, 0, 0), ink: inks[rng.int(0, 2)], colour: .rgba, kind: kind)
        case .large:
            let s = rng.uniform(8, 12)
            let (w, h, x, y) = canvas(s, extra: 200...1400)
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y,
                              paper: greyPaper(0.8, 0.95), ink: greyInk(0, 0.2), blur: rng.uniform(0.2, 0.4) * s,
                              noise: rng.uniform(0.02, 0.05), kind: kind)
        case .deep:
            let s = rng.uniform(2, 10)
            let (w, h, x, y) = canvas(s, extra: 0...600)
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y,
                              paper: greyPaper(0.7, 0.95), ink: greyInk(0, 0.25), blur: rng.uniform(0, 0.3) * s,
                              noise: rng.uniform(0.005, 0.02), sixteenBit: true, kind: kind)
        case .greyAlpha:
            let s = rng.uniform(2, 8)
            let (w, h, x, y) = canvas(s, extra: 0...400)
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y,
                              paper: RGB(0, 0, 0), ink: greyInk(0, 0.3), colour: .greyAlpha, kind: kind)
        case .chalkboard:
            let s = rng.uniform(2, 8)
            let (w, h, x, y) = canvas(s, extra: 0...400)
            let board = RGB(rng.uniform(0.05, 0.15), rng.uniform(0.15, 0.3), rng.uniform(0.1, 0.2))
            let chalk = RGB(rng.uniform(0.85, 0.97), rng.uniform(0.85, 0.97), rng.uniform(0.8, 0.95))
            return ScanRecipe(scale: s, canvasWidth: w, canvasHeight: h, originX: x, originY: y,
                              paper: board, ink: chalk, blur: rng.uniform(0, 0.3) * s, noise: rng.uniform(0.02, 0.05),
                              colour: .rgb, sixteenBit: true, kind: kind)
        }
    }
}

/// Test image i for `digit` (28x28, row-major, MNIST polarity, 784 bytes; missing bytes count
/// as 0): recipe `ScanRecipe.variant(index:seed:)` rendered with the same seed.
public func scanVariant(_ digit: [UInt8], index: Int, seed: UInt64) -> (RawImage, description: String) {
    let recipe = ScanRecipe.variant(index: index, seed: seed)
    return (renderScan(digit, recipe, seed: seed &+ UInt64(bitPattern: Int64(index))), "#\(index) " + recipe.description)
}

// MARK: - Rendering

/// Draws `digit` (28x28 MNIST bytes, light ink = 255) as `recipe` says: bicubic upscaling,
/// placement on the canvas, blur, paper and ink levels or colours under the lighting, noise
/// (seeded), quantisation to 8 or 16 bits. Sizes are clamped to 1...4096 a side.
public func renderScan(_ digit: [UInt8], _ recipe: ScanRecipe, seed: UInt64) -> RawImage {
    let w = min(max(recipe.canvasWidth, 1), 4096), h = min(max(recipe.canvasHeight, 1), 4096)
    let scale = recipe.scale.isFinite ? min(max(recipe.scale, 0.05), 100) : 1
    var coverage = [Float](repeating: 0, count: w &* h)
    let region = drawUpscaled(digit, scale: scale, originX: recipe.originX, originY: recipe.originY,
                              width: w, height: h, into: &coverage)
    if recipe.blur > 0, recipe.blur.isFinite, let region {
        gaussianBlur(&coverage, width: w, height: h, sigma: min(recipe.blur, 200), region: region)
    }
    let channels: Int
    switch recipe.colour {
    case .grey: channels = 1
    case .greyAlpha: channels = 2
    case .rgb: channels = 3
    case .rgba: channels = 4
    }
    // Per channel: the paper's and the ink's level (grey uses the lumas).
    let paper: [Float], ink: [Float]
    switch recipe.colour {
    case .grey:
        paper = [Float(recipe.paper.luma)]; ink = [Float(recipe.ink.luma)]
    case .greyAlpha:
        paper = [Float(recipe.ink.luma)]; ink = [Float(recipe.ink.luma)]
    case .rgb, .rgba:
        paper = [Float(recipe.paper.r), Float(recipe.paper.g), Float(recipe.paper.b)]
        ink = [Float(recipe.ink.r), Float(recipe.ink.g), Float(recipe.ink.b)]
    }
    let transparent = recipe.colour == .greyAlpha || recipe.colour == .rgba
    let lighting = recipe.lighting.isFinite ? min(max(recipe.lighting, 0), 1) : 0
    let noise = transparent ? 0 : (recipe.noise.isFinite ? Float(min(max(recipe.noise, 0), 1)) : 0)
    let cosA = cos(recipe.lightingAngle), sinA = sin(recipe.lightingAngle)
    let span = max(abs(cosA) * Double(w) + abs(sinA) * Double(h), 1)
    var values = [Float](repeating: 0, count: w &* h &* channels)
    var light = [Float](repeating: 1, count: w)
    var rng = SplitMix64(seed: seed ^ 0x5CA7_5CA7_0000_0001)
    values.withUnsafeMutableBufferPointer { vb in
    coverage.withUnsafeBufferPointer { cb in
    light.withUnsafeMutableBufferPointer { lb in
        let v = vb.baseAddress!, cov = cb.baseAddress!, lp = lb.baseAddress!
        for y in 0..<h {
            // Brightness 1 at one side of the canvas, 1 - lighting at the other.
            if lighting > 0 {
                for x in 0..<w {
                    let along = (Double(x) + 0.5 - Double(w) / 2) * cosA + (Double(y) + 0.5 - Double(h) / 2) * sinA
                    lp[x] = Float(1 - lighting * (along + span / 2) / span)
                }
            }
            let row = cov + y &* w
            let out = v + y &* w &* channels
            if transparent {
                // Ink colour where there is ink, alpha = coverage, nothing where there is none.
                for x in 0..<w {
                    let c = row[x]
                    let o = out + x &* channels
                    if c > 0 { for k in 0..<(channels - 1) { o[k] = ink[k] } }
                    o[channels - 1] = c
                }
            } else {
                for k in 0..<channels {
                    let p = paper[k], q = ink[k] - paper[k]
                    for x in 0..<w { out[x &* channels &+ k] = (p + row[x] * q) * lp[x] }
                }
            }
        }
        if noise > 0 {
            // Gaussian noise on every sample, two values per Box-Muller draw.
            let n = w &* h &* channels
            var i = 0
            while i < n {
                let (a, b) = rng.gaussianPair()
                v[i] += noise * Float(a)
                if i + 1 < n { v[i + 1] += noise * Float(b) }
                i += 2
            }
        }
    }}}
    let layout: RawImage.Layout = [.grey, .greyAlpha, .rgb, .rgba][channels - 1]
    if recipe.sixteenBit {
        var samples = [UInt16](repeating: 0, count: values.count)
        samples.withUnsafeMutableBufferPointer { sb in
            values.withUnsafeBufferPointer { vb in
                for i in 0..<vb.count { sb[i] = UInt16(min(max(vb[i], 0), 1) * 65535 + 0.5) }
            }
        }
        return RawImage(width: w, height: h, layout: layout, maxValue: 65535, samples: .sixteenBit(samples))!
    } else {
        var samples = [UInt8](repeating: 0, count: values.count)
        samples.withUnsafeMutableBufferPointer { sb in
            values.withUnsafeBufferPointer { vb in
                for i in 0..<vb.count { sb[i] = UInt8(min(max(vb[i], 0), 1) * 255 + 0.5) }
            }
        }
        return RawImage(width: w, height: h, layout: layout, maxValue: 255, samples: .eightBit(samples))!
    }
}

/// Bicubic (Catmull-Rom) upscaling of the 28x28 digit onto the canvas, ink coverage 0...1;
/// returns the canvas rectangle drawn (x0, y0, x1, y1), nil if it misses the canvas.
private func drawUpscaled(_ digit: [UInt8], scale: Double, originX: Int, originY: Int,
                          width: Int, height: Int, into coverage: inout [Float]) -> (Int, Int, Int, Int)? {
    let side = max(1, Int((28 * scale).rounded()))
    let x0 = max(0, originX), y0 = max(0, originY)
    let x1 = min(width, originX + side), y1 = min(height, originY + side)
    guard x0 < x1, y0 < y1 else { return nil }
    // The digit, 0...1, with a border of two zero pixels all round (so taps need no checks).
    var source = [Float](repeating: 0, count: 32 * 32)
    for y in 0..<28 {
        for x in 0..<28 where y * 28 + x < digit.count { source[(y + 2) * 32 + x + 2] = Float(digit[y * 28 + x]) / 255 }
    }
    // Catmull-Rom taps for output coordinate o: first source index (bordered) and 4 weights.
    func taps(_ o: Int) -> (Int, SIMD4<Float>) {
        let c = (Double(o) + 0.5) / scale - 0.5
        let k = Int(c.rounded(.down))
        let t = Float(c - Double(k))
        let t2 = t * t, t3 = t2 * t
        let ws = SIMD4<Float>((-t3 + 2 * t2 - t) / 2, (3 * t3 - 5 * t2 + 2) / 2, (-3 * t3 + 4 * t2 + t) / 2, (t3 - t2) / 2)
        // Taps outside the bordered digit carry zeros: clamp the window, keep the weights aligned.
        return (k - 1 + 2, ws)
    }
    let n = x1 - x0
    var colFirst = [Int](repeating: 0, count: n), colWeights = [SIMD4<Float>](repeating: .zero, count: n)
    for j in 0..<n { (colFirst[j], colWeights[j]) = taps(x0 + j - originX) }
    // Horizontal pass over the 32 bordered rows, then vertical onto the canvas.
    var rows = [Float](repeating: 0, count: 32 * n)
    source.withUnsafeBufferPointer { sp in
    rows.withUnsafeMutableBufferPointer { rp in
    coverage.withUnsafeMutableBufferPointer { cp in
        let s = sp.baseAddress!, r = rp.baseAddress!, c = cp.baseAddress!
        for j in 0..<n {
            let k = colFirst[j], ws = colWeights[j]
            guard k >= 0 && k + 4 <= 32 else { continue }
            for row in 0..<32 {
                let p = s + row * 32 + k
                r[row * n + j] = ws[0] * p[0] + ws[1] * p[1] + ws[2] * p[2] + ws[3] * p[3]
            }
        }
        for y in y0..<y1 {
            let (k, ws) = taps(y - originY)
            let out = c + y * width + x0
            guard k >= 0 && k + 4 <= 32 else { continue }
            let r0 = r + k * n, r1 = r0 + n, r2 = r1 + n, r3 = r2 + n
            for j in 0..<n {
                let v = ws[0] * r0[j] + ws[1] * r1[j] + ws[2] * r2[j] + ws[3] * r3[j]
                out[j] = min(max(v, 0), 1)
            }
        }
    }}}
    return (x0, y0, x1, y1)
}

/// Separable Gaussian blur of the coverage inside `region` grown by 3 sigma (zero outside).
private func gaussianBlur(_ image: inout [Float], width: Int, height: Int, sigma: Double, region: (Int, Int, Int, Int)) {
    let radius = max(1, Int((3 * sigma).rounded(.up)))
    var kernel = (-radius...radius).map { Float(exp(-Double($0 * $0) / (2 * sigma * sigma))) }
    let sum = kernel.reduce(0, +)
    kernel = kernel.map { $0 / sum }
    let x0 = max(0, region.0 - radius), y0 = max(0, region.1 - radius)
    let x1 = min(width, region.2 + radius), y1 = min(height, region.3 + radius)
    let taps = 2 * radius + 1
    // Padded line buffers: a row or a column with `radius` zeros each side.
    var rowLine = [Float](repeating: 0, count: x1 - x0 + 2 * radius)
    var colLine = [Float](repeating: 0, count: y1 - y0 + 2 * radius)
    kernel.withUnsafeBufferPointer { kb in
    rowLine.withUnsafeMutableBufferPointer { rb in
    colLine.withUnsafeMutableBufferPointer { cb in
    image.withUnsafeMutableBufferPointer { ib in
        let k = kb.baseAddress!, rl = rb.baseAddress!, cl = cb.baseAddress!, img = ib.baseAddress!
        for y in y0..<y1 {
            let row = img + y * width
            for x in x0..<x1 { rl[radius + x - x0] = row[x] }
            for x in x0..<x1 {
                let p = rl + (x - x0)
                var acc: Float = 0
                for t in 0..<taps { acc += k[t] * p[t] }
                row[x] = acc
            }
        }
        for x in x0..<x1 {
            for y in y0..<y1 { cl[radius + y - y0] = img[y * width + x] }
            for y in y0..<y1 {
                let p = cl + (y - y0)
                var acc: Float = 0
                for t in 0..<taps { acc += k[t] * p[t] }
                img[y * width + x] = acc
            }
        }
    }}}}
}
