// The seed corpus of fuzz-image: small images of a drawn digit in every form the decoders read,
// written with the project's own encoders (NNImaging, and CImageCodecs for the PNG colour types
// and bit depths the public encoder does not write): PNG of every colour type and bit depth,
// palette and tRNS, interlaced; JPEG grey, colour, progressive, CMYK, with and without EXIF
// orientation in both byte orders, and one large enough to be decoded at reduced size; PGM/PPM
// binary and ASCII, 8 and 16 bits.
import CImageCodecs
import FuzzSupport
import NNImaging

/// A "0" drawn as a ring with a stroke, `level(ink)` per pixel: ink in 0...1.
func digit(_ width: Int, _ height: Int, _ level: (Double) -> Int) -> [Int] {
    var out: [Int] = []
    out.reserveCapacity(width * height)
    let cx = Double(width) / 2, cy = Double(height) / 2
    let r = Double(min(width, height)) * 0.32
    for y in 0..<height {
        for x in 0..<width {
            let dx = (Double(x) + 0.5 - cx) / r, dy = (Double(y) + 0.5 - cy) / (r * 1.3)
            let d = abs((dx * dx + dy * dy).squareRoot() - 1)
            let ink = max(0, min(1, 1.6 - d * 6))
            out.append(level(ink))
        }
    }
    return out
}

/// Grey, light digit on dark (MNIST) or dark on light paper, 8-bit.
func grey8(_ w: Int, _ h: Int, darkOnLight: Bool = false) -> [UInt8] {
    digit(w, h) { ink in Int((darkOnLight ? 1 - ink * 0.8 : ink) * 255) }.map { UInt8($0) }
}

func pngBytes(_ samples: UnsafeRawPointer, _ w: Int, _ h: Int, colorType: Int32, bitDepth: Int32, interlaced: Bool = false,
              palette: [UInt8] = [], alpha: [UInt8] = [], key: (UInt16, UInt16, UInt16)? = nil) -> [UInt8] {
    var options = nnrt_codec_png_options()
    options.color_type = colorType
    options.bit_depth = bitDepth
    options.interlaced = interlaced ? 1 : 0
    options.palette_entries = Int32(palette.count / 3)
    options.trns_count = Int32(alpha.count)
    if let key {
        options.has_trns_color = 1
        options.trns_color = key
    }
    options.compression_level = 9
    var out: UnsafeMutablePointer<UInt8>?
    var size = 0
    let status = palette.withUnsafeBufferPointer { p in
        alpha.withUnsafeBufferPointer { a in
            options.palette = p.baseAddress
            options.trns = a.baseAddress
            return nnrt_codec_png_encode(samples, UInt32(w), UInt32(h), &options, &out, &size, nil, 0)
        }
    }
    defer { nnrt_codec_free(out) }
    guard status == NNRT_CODEC_OK, let out else { violated("PNG seed (colour type \(colorType), \(bitDepth) bits) does not encode") }
    return Array(UnsafeBufferPointer(start: out, count: size))
}

func png<T>(_ samples: [T], _ w: Int, _ h: Int, colorType: Int32, bitDepth: Int32, interlaced: Bool = false,
            palette: [UInt8] = [], alpha: [UInt8] = [], key: (UInt16, UInt16, UInt16)? = nil) -> [UInt8] {
    samples.withUnsafeBytes { pngBytes($0.baseAddress!, w, h, colorType: colorType, bitDepth: bitDepth, interlaced: interlaced,
                                       palette: palette, alpha: alpha, key: key) }
}

func jpeg(_ samples: [UInt8], _ w: Int, _ h: Int, channels: Int, quality: Int32 = 75, progressive: Int32 = 0) -> [UInt8] {
    var out: UnsafeMutablePointer<UInt8>?
    var size = 0
    let status = nnrt_codec_jpeg_encode(samples, UInt32(w), UInt32(h), UInt32(channels), quality, progressive, &out, &size, nil, 0)
    defer { nnrt_codec_free(out) }
    guard status == NNRT_CODEC_OK, let out else { violated("JPEG seed (\(channels) channels) does not encode") }
    return Array(UnsafeBufferPointer(start: out, count: size))
}

/// `jpeg` with an APP1 EXIF segment after SOI holding IFD0 with the Orientation tag.
func withExif(_ jpeg: [UInt8], orientation: UInt16, bigEndian: Bool, extraTag: Bool = false) -> [UInt8] {
    func u16(_ v: UInt16) -> [UInt8] { bigEndian ? [UInt8(v >> 8), UInt8(v & 0xFF)] : [UInt8(v & 0xFF), UInt8(v >> 8)] }
    func u32(_ v: UInt32) -> [UInt8] { bigEndian ? u16(UInt16(v >> 16)) + u16(UInt16(v & 0xFFFF)) : u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16)) }
    var tiff: [UInt8] = bigEndian ? [0x4D, 0x4D] : [0x49, 0x49]
    tiff += u16(42) + u32(8)
    var entries: [[UInt8]] = []
    if extraTag { entries.append(u16(0x010F) + u16(2) + u32(4) + [0x41, 0x43, 0x4D, 0x00]) }   // Make "ACM"
    entries.append(u16(0x0112) + u16(3) + u32(1) + u16(orientation) + [0, 0])
    tiff += u16(UInt16(entries.count)) + entries.flatMap { $0 } + u32(0)
    let payload: [UInt8] = Array("Exif".utf8) + [0, 0] + tiff
    let length = payload.count + 2
    let segment: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    return Array(jpeg[0..<2]) + segment + Array(jpeg[2...])
}

func imageSeeds() -> [(name: String, bytes: [UInt8])] {
    var seeds: [(name: String, bytes: [UInt8])] = []
    let w = 28, h = 28
    let g = grey8(w, h)
    let paper = grey8(w, h, darkOnLight: true)
    let g16 = digit(w, h) { Int($0 * 65535) }.map { UInt16($0) }
    let rgb = paper.flatMap { [UInt8(min(255, Int($0) + 10)), $0, UInt8(Int($0) * 9 / 10)] }
    let rgba = paper.enumerated().flatMap { i, v in [v, v, UInt8(Int(v) * 3 / 4), UInt8(i % 7 == 0 ? 128 : 255)] }
    let greyAlpha = g.flatMap { [$0, $0 > 128 ? 255 : 40] }

    // PNG: colour types 0, 2, 3, 4, 6; bit depths 1, 2, 4, 8, 16; palette with tRNS; colour keys;
    // Adam7 interlacing.
    seeds.append(("png-grey8.png", png(g, w, h, colorType: 0, bitDepth: 8)))
    seeds.append(("png-grey8-paper-interlaced.png", png(grey8(40, 30, darkOnLight: true), 40, 30, colorType: 0, bitDepth: 8,
                                                         interlaced: true)))
    for depth: Int32 in [1, 2, 4] {
        let levels = (1 << Int(depth)) - 1
        seeds.append(("png-grey\(depth).png", png(g.map { UInt8(Int($0) * levels / 255) }, w, h, colorType: 0, bitDepth: depth)))
    }
    seeds.append(("png-grey16.png", png(g16, w, h, colorType: 0, bitDepth: 16)))
    seeds.append(("png-grey8-key.png", png(paper, w, h, colorType: 0, bitDepth: 8, key: (255, 0, 0))))
    seeds.append(("png-rgb8.png", png(rgb, w, h, colorType: 2, bitDepth: 8)))
    seeds.append(("png-rgb8-key.png", png(rgb, w, h, colorType: 2, bitDepth: 8, key: (255, 255, 229))))
    seeds.append(("png-rgb16-interlaced.png", png(rgb.map { UInt16($0) * 257 }, w, h, colorType: 2, bitDepth: 16, interlaced: true)))
    seeds.append(("png-grey-alpha8.png", png(greyAlpha, w, h, colorType: 4, bitDepth: 8)))
    seeds.append(("png-grey-alpha16.png", png(greyAlpha.map { UInt16($0) * 257 }, w, h, colorType: 4, bitDepth: 16)))
    seeds.append(("png-rgba8.png", png(rgba, w, h, colorType: 6, bitDepth: 8)))
    seeds.append(("png-rgba16.png", png(rgba.map { UInt16($0) * 257 }, w, h, colorType: 6, bitDepth: 16)))
    let palette: [UInt8] = (0..<16).flatMap { i -> [UInt8] in let v = UInt8(i * 17); return [v, v, UInt8(255 - Int(v))] }
    seeds.append(("png-palette8-trns.png", png(g.map { $0 / 16 }, w, h, colorType: 3, bitDepth: 8, palette: palette,
                                               alpha: [0, 64, 128, 200])))
    seeds.append(("png-palette4.png", png(g.map { $0 / 16 }, w, h, colorType: 3, bitDepth: 4, palette: palette)))
    seeds.append(("png-palette2.png", png(g.map { $0 / 64 }, w, h, colorType: 3, bitDepth: 2, palette: Array(palette[0..<12]))))
    seeds.append(("png-palette1.png", png(g.map { $0 / 128 }, w, h, colorType: 3, bitDepth: 1, palette: [0, 0, 0, 255, 255, 255])))

    // JPEG: grey, colour (YCbCr 4:2:0), progressive, two-scan spectral selection, CMYK; EXIF
    // orientations in both byte orders; a 240x200 scan that recognition decodes at reduced size.
    let jGrey = jpeg(g, w, h, channels: 1)
    let jColour = jpeg(rgb, w, h, channels: 3)
    seeds.append(("jpeg-grey.jpg", jGrey))
    seeds.append(("jpeg-rgb.jpg", jColour))
    seeds.append(("jpeg-rgb-progressive.jpg", jpeg(rgb, w, h, channels: 3, progressive: 1)))
    seeds.append(("jpeg-grey-spectral.jpg", jpeg(g, w, h, channels: 1, progressive: 2)))
    seeds.append(("jpeg-cmyk.jpg", jpeg(paper.flatMap { [0, 0, 0, 255 - $0] }, w, h, channels: 4)))
    seeds.append(("jpeg-grey-exif6-le.jpg", withExif(jGrey, orientation: 6, bigEndian: false)))
    seeds.append(("jpeg-rgb-exif3-be.jpg", withExif(jColour, orientation: 3, bigEndian: true, extraTag: true)))
    seeds.append(("jpeg-grey-exif8-be.jpg", withExif(jGrey, orientation: 8, bigEndian: true)))
    seeds.append(("jpeg-rgb-exif5-le.jpg", withExif(jColour, orientation: 5, bigEndian: false, extraTag: true)))
    // Decoded at a quarter of its size for recognition in the fuzzing build (minimum side 32).
    seeds.append(("jpeg-large-paper.jpg", jpeg(grey8(240, 200, darkOnLight: true), 240, 200, channels: 1, quality: 40)))

    // PGM/PPM, binary and ASCII, 8 and 16 bits.
    func netpbm(_ name: String, _ image: RawImage?, binary: Bool) {
        guard let image else { violated("netpbm seed \(name) is inconsistent") }
        seeds.append((name, encodePGM(image, binary: binary)))
    }
    netpbm("pgm-p5.pgm", RawImage(width: w, height: h, layout: .grey, maxValue: 255, samples: .eightBit(paper)), binary: true)
    netpbm("pgm-p2.pgm", RawImage(width: 14, height: 14, layout: .grey, maxValue: 255, samples: .eightBit(grey8(14, 14))), binary: false)
    netpbm("pgm-p5-16bit.pgm", RawImage(width: w, height: h, layout: .grey, maxValue: 1000,
                                        samples: .sixteenBit(g.map { UInt16(Int($0) * 1000 / 255) })), binary: true)
    netpbm("ppm-p6.ppm", RawImage(width: w, height: h, layout: .rgb, maxValue: 255, samples: .eightBit(rgb)), binary: true)
    netpbm("ppm-p3.ppm", RawImage(width: 10, height: 12, layout: .rgb, maxValue: 15,
                                  samples: .eightBit(grey8(10, 12).flatMap { [$0 / 17, $0 / 17, $0 / 17] })), binary: false)
    seeds.append(("pgm-comments.pgm", Array("P2\n# a comment\n4 3\n# another\n15\n0 0 0 0\n0 15 15 0\n0 0 0 0\n".utf8)))
    return seeds
}
