// Artificial expansion of the training data (chapter 6): the book's one-pixel shifts
// (expand_mnist.py), and beyond the book, small random rotations and Simard-style elastic
// distortions generated afresh for every epoch from the run's seed.
//
// Images are single-channel, (height, width) row-major, pixels in 0...1 (MNIST: 28 x 28).

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Parameters of an elastic distortion (Simard, Steinkraus and Platt 2003, "Best practices for
/// convolutional neural networks applied to visual document analysis").
///
/// Each pixel gets a random displacement, uniform in [-1, 1] in x and in y; both displacement
/// fields are smoothed by a Gaussian of standard deviation `sigma` pixels and scaled by `alpha`
/// pixels, and the image is resampled bilinearly at the displaced positions. Small sigma gives
/// nearly random (noisy) fields; large sigma nearly translations. Simard et al. used sigma 4 and
/// alpha 34 on 29 x 29 images, the defaults here.
public struct ElasticParameters: Sendable, Equatable {
    /// Scale of the smoothed displacement field, in pixels.
    public var alpha: Double
    /// Standard deviation of the Gaussian smoothing, in pixels.
    public var sigma: Double

    /// Simard et al.'s alpha 34, sigma 4 unless given.
    public init(alpha: Double = 34, sigma: Double = 4) {
        self.alpha = alpha
        self.sigma = sigma
    }
}

/// How the training set is expanded, parsed from a spec string of `+`-joined parts:
///
/// - `shift1`: the book's expansion (expand_mnist.py): every training image followed by its four
///   one-pixel shifts (down, up, right, left; the vacated row or column is zero), so 50,000 images
///   become 250,000. Fixed: computed once per run.
/// - `rotate` or `rotate:D`: every epoch, each training example is rotated about the image centre
///   by an angle uniform in [-D, D] degrees (default 10), resampled bilinearly (outside = 0).
/// - `elastic`, `elastic:ALPHA` or `elastic:ALPHA:SIGMA`: every epoch, each training example is
///   elastically distorted (see `ElasticParameters`; default alpha 34, sigma 4).
///
/// Per-epoch distortions apply to the (possibly shifted) training set, replacing each example by
/// its distorted copy for that epoch; with both, an example is rotated first, then distorted. They
/// come from generators derived from the run's seed and the epoch number
/// (`Expansion.distortedForEpoch`), so a run is reproducible and a resumed run sees the same
/// images. "" or "none" means no expansion.
public struct ExpansionSpec: Sendable, Equatable, CustomStringConvertible {
    /// The book's four one-pixel shifts.
    public var shift1: Bool
    /// Largest rotation angle in degrees, or nil for no rotation.
    public var rotationDegrees: Double?
    /// Elastic distortion parameters, or nil for none.
    public var elastic: ElasticParameters?

    /// An expansion from its parts (none by default).
    public init(shift1: Bool = false, rotationDegrees: Double? = nil, elastic: ElasticParameters? = nil) {
        self.shift1 = shift1
        self.rotationDegrees = rotationDegrees
        self.elastic = elastic
    }

    /// No expansion at all.
    public var isNone: Bool { !shift1 && !hasDistortions }

    /// True if examples change from epoch to epoch (rotation or elastic distortion).
    public var hasDistortions: Bool { rotationDegrees != nil || elastic != nil }

    /// Parses "shift1", "shift1+rotate", "rotate:15", "elastic:34:4", ... ("" or "none" = none).
    /// - Throws: `TrainerError.invalidArgument` naming the bad part.
    public static func parse(_ spec: String) throws(TrainerError) -> ExpansionSpec {
        var result = ExpansionSpec()
        let trimmed = spec.trimmingSpaces
        if trimmed.isEmpty || trimmed == "none" { return result }
        for rawPart in trimmed.split(separator: "+", omittingEmptySubsequences: false) {
            let part = String(rawPart).trimmingSpaces
            let fields = part.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            func number(_ i: Int, _ what: String) throws(TrainerError) -> Double {
                guard let v = Double(fields[i]), v.isFinite, v > 0 else {
                    throw TrainerError(.invalidArgument, "expansion '\(spec)': '\(part)' needs a positive \(what), got '\(fields[i])'")
                }
                return v
            }
            switch fields[0] {
            case "shift1" where fields.count == 1:
                guard !result.shift1 else { throw TrainerError(.invalidArgument, "expansion '\(spec)': shift1 given twice") }
                result.shift1 = true
            case "rotate" where fields.count <= 2:
                guard result.rotationDegrees == nil else { throw TrainerError(.invalidArgument, "expansion '\(spec)': rotate given twice") }
                let degrees = fields.count == 2 ? try number(1, "angle in degrees") : 10
                guard degrees <= 180 else {
                    throw TrainerError(.invalidArgument, "expansion '\(spec)': rotation of at most 180 degrees, got \(degrees)")
                }
                result.rotationDegrees = degrees
            case "elastic" where fields.count <= 3:
                guard result.elastic == nil else { throw TrainerError(.invalidArgument, "expansion '\(spec)': elastic given twice") }
                var p = ElasticParameters()
                if fields.count >= 2 { p.alpha = try number(1, "alpha") }
                if fields.count == 3 { p.sigma = try number(2, "sigma") }
                result.elastic = p
            default:
                throw TrainerError(.invalidArgument,
                                   "expansion '\(spec)': unknown part '\(part)' (use shift1, rotate[:DEGREES], elastic[:ALPHA[:SIGMA]], joined by '+')")
            }
        }
        return result
    }

    /// The canonical spec string ("" for none); `parse(description) == self`.
    public var description: String {
        var parts: [String] = []
        if shift1 { parts.append("shift1") }
        if let d = rotationDegrees { parts.append(d == 10 ? "rotate" : "rotate:\(Expansion.shortNumber(d))") }
        if let e = elastic {
            if e == ElasticParameters() {
                parts.append("elastic")
            } else {
                parts.append("elastic:\(Expansion.shortNumber(e.alpha)):\(Expansion.shortNumber(e.sigma))")
            }
        }
        return parts.joined(separator: "+")
    }
}

/// The expansion functions. Images are (height, width) row-major, one channel.
public enum Expansion {
    /// The book's expand_mnist.py: each example of `data` followed by its four one-pixel shifts:
    /// down (row 0 becomes zero), up (row height-1 zero), right (column 0 zero), left (column
    /// width-1 zero), with the same label. 50,000 MNIST images give 250,000. (The book then
    /// shuffles the pairs once; training here shuffles every epoch anyway.)
    ///
    /// - Throws: `TrainerError.invalidArgument` if `data.inputSize != height * width`.
    public static func shift1(_ data: Dataset, height: Int = 28, width: Int = 28) throws(TrainerError) -> Dataset {
        try checkShape(data, height: height, width: width)
        let n = data.inputSize
        let count = data.count
        // images: (5 * count, height * width); labels: (5 * count)
        var images = [Float](repeating: 0, count: 5 &* count &* n)
        var labels = [UInt8](repeating: 0, count: 5 &* count)
        data.images.withUnsafeBufferPointer { srcBuf in
            images.withUnsafeMutableBufferPointer { dstBuf in
                guard let src = srcBuf.baseAddress, let dst = dstBuf.baseAddress else { return }
                for i in 0..<count {
                    let x = src + i &* n                      // (height, width)
                    let out = dst + (5 &* i) &* n              // 5 images of (height, width)
                    out.update(from: x, count: n)
                    // Down: row r of the new image is row r-1 of x; row 0 stays zero.
                    let down = out + n
                    (down + width).update(from: x, count: (height &- 1) &* width)
                    // Up: row r is row r+1; the last row stays zero.
                    let up = out + 2 &* n
                    up.update(from: x + width, count: (height &- 1) &* width)
                    // Right: column c is column c-1; column 0 stays zero.
                    let right = out + 3 &* n
                    // Left: column c is column c+1; the last column stays zero.
                    let left = out + 4 &* n
                    for r in 0..<height {
                        let row = r &* width
                        (right + row + 1).update(from: x + row, count: width &- 1)
                        (left + row).update(from: x + row + 1, count: width &- 1)
                    }
                }
            }
        }
        for i in 0..<count {
            let y = data.labels[i]
            for k in 0..<5 { labels[5 &* i &+ k] = y }
        }
        return try Dataset(name: data.name + "+shift1", inputSize: n, images: images, labels: labels)
    }

    /// `image` (height, width) rotated by `degrees` (counter-clockwise as displayed, with row 0 at
    /// the top) about its centre, resampled bilinearly; positions outside the image read as 0.
    /// A rotation by 0 returns the image unchanged, bit for bit.
    public static func rotate(_ image: [Float], height: Int = 28, width: Int = 28, degrees: Double) -> [Float] {
        var out = [Float](repeating: 0, count: image.count)
        guard image.count == height &* width else { return image }
        image.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                rotate(s, into: d, height: height, width: width, degrees: degrees)
            }
        }
        return out
    }

    /// `image` (height, width) elastically distorted (see `ElasticParameters`), with the
    /// displacement fields drawn from `rng`.
    public static func elastic(_ image: [Float], height: Int = 28, width: Int = 28, parameters: ElasticParameters,
                               rng: inout SeededGenerator) -> [Float] {
        guard image.count == height &* width else { return image }
        var out = [Float](repeating: 0, count: image.count)
        var scratch = ElasticScratch(height: height, width: width, sigma: parameters.sigma)
        image.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                guard let s = src.baseAddress, let d = dst.baseAddress else { return }
                scratch.distort(s, into: d, alpha: parameters.alpha, rng: &rng)
            }
        }
        return out
    }

    /// The generator for chunk `chunk` of epoch `epoch`'s distortions in a run seeded with
    /// `seed`: independent of the shuffling stream, and the same whenever that epoch is trained
    /// (also after `--resume`).
    public static func distortionGenerator(seed: UInt64, epoch: Int, chunk: Int = 0) -> SeededGenerator {
        SeededGenerator(seed: seed ^ (UInt64(truncatingIfNeeded: epoch) &* 0xD1B5_4A32_D192_ED03)
                            ^ (UInt64(truncatingIfNeeded: chunk) &* 0x9E37_79B9_7F4A_7C15) ^ 0x5851_F42D_4C95_7F2D)
    }

    /// Examples per chunk in `distortedForEpoch`.
    public static let distortionChunk = 4096

    /// Every example of `data` with the per-epoch distortions of `spec` applied (rotation, then
    /// elastic distortion), drawn from `rng` example by example. Returns `data` itself when
    /// `spec` has no distortions.
    public static func distorted(_ data: Dataset, spec: ExpansionSpec, height: Int = 28, width: Int = 28,
                                 rng: inout SeededGenerator) throws(TrainerError) -> Dataset {
        guard spec.hasDistortions else { return data }
        try checkShape(data, height: height, width: width)
        // images: (count, height * width)
        var images = [Float](repeating: 0, count: data.count &* data.inputSize)
        data.images.withUnsafeBufferPointer { srcBuf in
            images.withUnsafeMutableBufferPointer { dstBuf in
                guard let src = srcBuf.baseAddress, let dst = dstBuf.baseAddress else { return }
                distort(src, into: dst, examples: 0..<data.count, spec: spec, height: height, width: width, rng: &rng)
            }
        }
        return try Dataset(name: data.name, inputSize: data.inputSize, images: images, labels: data.labels)
    }

    /// The training examples of epoch `epoch` in a run seeded with `seed`: `data` with the
    /// distortions of `spec`, in chunks of `distortionChunk` examples, chunk c drawn from
    /// `distortionGenerator(seed:epoch:chunk:)`, the chunks spread over up to `threads` threads.
    /// The images depend on the seed and the epoch only, never on `threads`. Returns `data`
    /// itself when `spec` has no distortions.
    public static func distortedForEpoch(_ data: Dataset, spec: ExpansionSpec, seed: UInt64, epoch: Int,
                                         threads: Int = 1, height: Int = 28, width: Int = 28) throws(TrainerError) -> Dataset {
        guard spec.hasDistortions else { return data }
        try checkShape(data, height: height, width: width)
        let count = data.count
        let chunks = (count + distortionChunk - 1) / distortionChunk
        // images: (count, height * width)
        var images = [Float](repeating: 0, count: count &* data.inputSize)
        data.images.withUnsafeBufferPointer { srcBuf in
            images.withUnsafeMutableBufferPointer { dstBuf in
                guard let src = srcBuf.baseAddress, let dst = dstBuf.baseAddress else { return }
                let shared = UncheckedSendable(value: (src, dst))
                runParts(chunks, threads: threads) { c in
                    var rng = distortionGenerator(seed: seed, epoch: epoch, chunk: c)
                    let range = (c &* distortionChunk) ..< min(count, (c &+ 1) &* distortionChunk)
                    distort(shared.value.0, into: shared.value.1, examples: range, spec: spec, height: height,
                            width: width, rng: &rng)
                }
            }
        }
        return try Dataset(name: data.name, inputSize: data.inputSize, images: images, labels: data.labels)
    }

    /// Distorts examples `examples` of `src` into the same rows of `dst`, both (count, height * width).
    static func distort(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, examples: Range<Int>,
                        spec: ExpansionSpec, height: Int, width: Int, rng: inout SeededGenerator) {
        let n = height &* width
        var elasticScratch = spec.elastic.map { ElasticScratch(height: height, width: width, sigma: $0.sigma) }
        let rotated = UnsafeMutablePointer<Float>.allocate(capacity: n)   // (height, width)
        rotated.initialize(repeating: 0, count: n)
        defer { rotated.deallocate() }
        for i in examples {
            var x = src + i &* n
            let out = dst + i &* n
            if let maxDegrees = spec.rotationDegrees {
                let angle = (2 * rng.nextUniform() - 1) * maxDegrees
                let target = elasticScratch == nil ? out : rotated
                rotate(x, into: target, height: height, width: width, degrees: angle)
                x = UnsafePointer(target)
            }
            if let e = spec.elastic {
                elasticScratch?.distort(x, into: out, alpha: e.alpha, rng: &rng)
            }
        }
    }

    // MARK: Internals

    static func checkShape(_ data: Dataset, height: Int, width: Int) throws(TrainerError) {
        guard height > 1, width > 1, data.inputSize == height * width else {
            throw TrainerError(.invalidArgument,
                               "expansion needs single-channel \(height)x\(width) images; dataset '\(data.name)' has \(data.inputSize) inputs per example")
        }
    }

    /// Bilinear sample of `image` (height, width) at row y, column x; outside reads as 0.
    @inline(__always)
    static func sample(_ image: UnsafePointer<Float>, height: Int, width: Int, y: Double, x: Double) -> Float {
        let y0d = y.rounded(.down), x0d = x.rounded(.down)
        guard y0d > -2, x0d > -2, y0d < Double(height), x0d < Double(width) else { return 0 }
        let y0 = Int(y0d), x0 = Int(x0d)
        let fy = Float(y - y0d), fx = Float(x - x0d)
        @inline(__always) func pixel(_ r: Int, _ c: Int) -> Float {
            (r >= 0 && r < height && c >= 0 && c < width) ? image[r &* width &+ c] : 0
        }
        let top = pixel(y0, x0) * (1 - fx) + pixel(y0, x0 &+ 1) * fx
        let bottom = pixel(y0 &+ 1, x0) * (1 - fx) + pixel(y0 &+ 1, x0 &+ 1) * fx
        return top * (1 - fy) + bottom * fy
    }

    /// Rotation by inverse mapping: output pixel p reads the input at c + R(-angle)(p - c).
    static func rotate(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, height: Int, width: Int,
                       degrees: Double) {
        let theta = degrees * Double.pi / 180
        let c = cos(theta), s = sin(theta)
        let cy = Double(height - 1) / 2, cx = Double(width - 1) / 2
        for r in 0..<height {
            let dy = Double(r) - cy
            for col in 0..<width {
                let dx = Double(col) - cx
                // Counter-clockwise on screen (y down): source = R(+theta) in (x, -y) terms.
                let sx = cx + c * dx - s * dy
                let sy = cy + s * dx + c * dy
                dst[r &* width &+ col] = sample(src, height: height, width: width, y: sy, x: sx)
            }
        }
    }

    /// "10" for 10.0, "2.5" for 2.5.
    static func shortNumber(_ v: Double) -> String {
        v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
    }
}

/// Scratch for elastic distortions of one image size: the two displacement fields, a temporary
/// for the separable Gaussian blur, and the Gaussian kernel.
struct ElasticScratch {
    let height: Int
    let width: Int
    /// (height, width) each: x and y displacements, and the blur's intermediate.
    var dx: [Double]
    var dy: [Double]
    var tmp: [Double]
    /// The normalised Gaussian, (2 * radius + 1), radius = ceil(3 sigma) (at least 1).
    let kernel: [Double]

    init(height: Int, width: Int, sigma: Double) {
        self.height = height
        self.width = width
        dx = [Double](repeating: 0, count: height * width)
        dy = dx
        tmp = dx
        let radius = max(1, Int((3 * sigma).rounded(.up)))
        var k = (-radius...radius).map { i in exp(-Double(i * i) / (2 * sigma * sigma)) }
        let sum = k.reduce(0, +)
        for i in k.indices { k[i] /= sum }
        kernel = k
    }

    /// Draws both fields (uniform in [-1, 1], dx then dy, row by row), blurs them (zero outside
    /// the image), scales by alpha and resamples `src` into `dst`, both (height, width).
    mutating func distort(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, alpha: Double,
                          rng: inout SeededGenerator) {
        for i in dx.indices { dx[i] = 2 * rng.nextUniform() - 1 }
        for i in dy.indices { dy[i] = 2 * rng.nextUniform() - 1 }
        ElasticScratch.blur(&dx, tmp: &tmp, kernel: kernel, height: height, width: width)
        ElasticScratch.blur(&dy, tmp: &tmp, kernel: kernel, height: height, width: width)
        for r in 0..<height {
            for c in 0..<width {
                let i = r &* width &+ c
                dst[i] = Expansion.sample(src, height: height, width: width,
                                          y: Double(r) + alpha * dy[i], x: Double(c) + alpha * dx[i])
            }
        }
    }

    /// Separable Gaussian blur of `field` (height, width) in place, zero padding.
    private static func blur(_ field: inout [Double], tmp: inout [Double], kernel: [Double], height: Int, width: Int) {
        let radius = kernel.count / 2
        // Rows into tmp.
        for r in 0..<height {
            for c in 0..<width {
                var s = 0.0
                for k in -radius...radius {
                    let cc = c &+ k
                    if cc >= 0 && cc < width { s += kernel[k &+ radius] * field[r &* width &+ cc] }
                }
                tmp[r &* width &+ c] = s
            }
        }
        // Columns back into field.
        for r in 0..<height {
            for c in 0..<width {
                var s = 0.0
                for k in -radius...radius {
                    let rr = r &+ k
                    if rr >= 0 && rr < height { s += kernel[k &+ radius] * tmp[rr &* width &+ c] }
                }
                field[r &* width &+ c] = s
            }
        }
    }
}

extension String {
    /// The string without leading and trailing spaces (no Foundation needed).
    var trimmingSpaces: String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
