import Foundation
import Testing
@testable import NNImaging

// MARK: Helpers

/// The code of the error `body` throws, or nil when it returns.
private func errorCode(_ body: () throws(ImageError) -> RawImage) -> ImageError.Code? {
    do {
        _ = try body()
        return nil
    } catch {
        return error.code
    }
}

/// The error `body` throws, or nil.
private func imageError(_ body: () throws(ImageError) -> RawImage) -> ImageError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// A small deterministic generator (64-bit LCG, top bits).
private struct LCG {
    var state: UInt64
    mutating func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
    mutating func u16() -> UInt16 { UInt16(truncatingIfNeeded: next()) }
}

private func randomImage(_ width: Int, _ height: Int, _ layout: RawImage.Layout, sixteen: Bool, seed: UInt64) -> RawImage {
    var rng = LCG(state: seed)
    let n = width * height * layout.channels
    let samples: RawImage.Samples = sixteen ? .sixteenBit((0..<n).map { _ in rng.u16() })
                                            : .eightBit((0..<n).map { _ in rng.byte() })
    return RawImage(width: width, height: height, layout: layout, maxValue: sixteen ? 65535 : 255, samples: samples)!
}

/// Smooth content that JPEG keeps well: gradients and a soft blob.
private func smoothImage(_ width: Int, _ height: Int, _ layout: RawImage.Layout) -> RawImage {
    var s = [UInt8]()
    for y in 0..<height {
        for x in 0..<width {
            let dx = Double(x - width / 2), dy = Double(y - height / 2)
            let blob = 120 * (-(dx * dx + dy * dy) / Double(width * height / 4)).exponential
            let values = [Double(x) / Double(width - 1) * 120 + blob,
                          Double(y) / Double(height - 1) * 200 + 20,
                          255 - Double(x + y) / Double(width + height) * 180]
            for c in 0..<layout.channels { s.append(UInt8(max(0, min(255, values[c].rounded())))) }
        }
    }
    return RawImage(width: width, height: height, layout: layout, maxValue: 255, samples: .eightBit(s))!
}

private extension Double {
    var exponential: Double { Foundation.exp(self) }
}

/// Largest and mean absolute difference of two 8-bit images of the same shape.
private func difference(_ a: RawImage, _ b: RawImage) -> (max: Int, mean: Double) {
    guard case .eightBit(let x) = a.samples, case .eightBit(let y) = b.samples, x.count == y.count else { return (Int.max, .infinity) }
    var worst = 0, total = 0
    for i in x.indices {
        let d = abs(Int(x[i]) - Int(y[i]))
        worst = max(worst, d)
        total += d
    }
    return (worst, Double(total) / Double(x.count))
}

private func png(_ samples: [UInt8], _ width: Int, _ height: Int, _ options: PNGWriteOptions) throws -> [UInt8] {
    try withBytes(of: samples) { b throws(ImageError) in try codecEncodePNG(b, width: width, height: height, options: options) }
}

private func png16(_ samples: [UInt16], _ width: Int, _ height: Int, _ options: PNGWriteOptions) throws -> [UInt8] {
    try withBytes(of: samples) { b throws(ImageError) in try codecEncodePNG(b, width: width, height: height, options: options) }
}

private func jpeg(_ samples: [UInt8], _ width: Int, _ height: Int, channels: Int, quality: Int = 90, scans: JPEGScans = .sequential) throws -> [UInt8] {
    try withBytes(of: samples) { b throws(ImageError) in
        try codecEncodeJPEG(b, width: width, height: height, channels: channels, quality: quality, scans: scans)
    }
}

private func eight(_ image: RawImage) -> [UInt8] {
    if case .eightBit(let s) = image.samples { return s }
    return []
}

private func sixteen(_ image: RawImage) -> [UInt16] {
    if case .sixteenBit(let s) = image.samples { return s }
    return []
}

/// PNG's CRC-32 (ISO 3309), for rewriting chunks in tests.
private func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return crc ^ 0xFFFF_FFFF
}

private func putBE32(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
    for i in 0..<4 { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (24 - 8 * i)) }
}

/// `file` with the IHDR's width and height replaced and its CRC fixed.
private func pngDeclaring(_ width: UInt32, _ height: UInt32, from file: [UInt8]) -> [UInt8] {
    var f = file
    putBE32(width, into: &f, at: 16)
    putBE32(height, into: &f, at: 20)
    putBE32(crc32(f[12..<29]), into: &f, at: 29)
    return f
}

/// The first marker segment whose marker `wanted` accepts: where it starts (its FF byte) and
/// its length field (which counts itself, not the marker).
private func markerSegment(_ file: [UInt8], _ wanted: (UInt8) -> Bool) -> (start: Int, length: Int)? {
    var i = 2
    while i + 4 < file.count {
        guard file[i] == 0xFF else { return nil }
        let length = Int(file[i + 2]) << 8 | Int(file[i + 3])
        if wanted(file[i + 1]) { return (i, length) }
        i += 2 + length
    }
    return nil
}

/// The offset of the first SOFn marker segment's precision byte (FF C0..C2, then length).
private func sofOffset(_ file: [UInt8]) -> Int? {
    markerSegment(file) { $0 >= 0xC0 && $0 <= 0xC2 }.map { $0.start + 4 }
}

/// The offset of the first byte after the SOS (start of scan) marker segment: where the
/// entropy-coded data begins.
private func scanDataOffset(_ file: [UInt8]) -> Int? {
    markerSegment(file) { $0 == 0xDA }.map { $0.start + 2 + $0.length }
}

/// `file` with the frame header's height and width replaced.
private func jpegDeclaring(_ width: UInt16, _ height: UInt16, from file: [UInt8]) -> [UInt8] {
    var f = file
    let p = sofOffset(f)!
    f[p + 1] = UInt8(height >> 8); f[p + 2] = UInt8(height & 0xFF)
    f[p + 3] = UInt8(width >> 8); f[p + 4] = UInt8(width & 0xFF)
    return f
}

private func withTempDir(_ body: (String) throws -> Void) rethrows {
    let dir = NSTemporaryDirectory() + "nnimaging-tests-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try body(dir)
}

private func write(_ bytes: [UInt8], to path: String) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

private let layouts: [RawImage.Layout] = [.grey, .greyAlpha, .rgb, .rgba]

// MARK: PNG

@Suite struct PNGTests {
    @Test func roundTripEveryLayoutAndDepth() throws {
        for layout in layouts {
            for isSixteen in [false, true] {
                let image = randomImage(13, 7, layout, sixteen: isSixteen, seed: UInt64(layout.rawValue * 10 + (isSixteen ? 1 : 0)))
                let file = try encodePNG(image)
                #expect(Array(file.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
                let decoded = try decodeImage(file)
                #expect(decoded == image, "\(layout) sixteen=\(isSixteen)")
            }
        }
    }

    @Test func interlacedEveryLayoutAndDepth() throws {
        for layout in layouts {
            for isSixteen in [false, true] {
                // 17 x 11: every Adam7 pass has pixels, and several passes end mid-row.
                let image = randomImage(17, 11, layout, sixteen: isSixteen, seed: 99)
                let type: PNGWriteOptions.ColorType = [.grey: .grey, .greyAlpha: .greyAlpha, .rgb: .rgb, .rgba: .rgba][layout]!
                let options = PNGWriteOptions(colorType: type, bitDepth: isSixteen ? 16 : 8, interlaced: true)
                let file = isSixteen ? try png16(sixteen(image), 17, 11, options) : try png(eight(image), 17, 11, options)
                #expect(file[28] == 1, "IHDR says Adam7")
                #expect(try decodeImage(file) == image)
            }
        }
    }

    @Test func lowBitGreyIsScaledTo8Bit() throws {
        for depth in [1, 2, 4] {
            let levels = 1 << depth
            let values = (0..<(9 * 5)).map { UInt8($0 % levels) }
            for interlaced in [false, true] {
                let file = try png(values, 9, 5, PNGWriteOptions(colorType: .grey, bitDepth: depth, interlaced: interlaced))
                let image = try decodeImage(file)
                #expect(image.layout == .grey && image.maxValue == 255)
                #expect(eight(image) == values.map { UInt8(Int($0) * 255 / (levels - 1)) }, "depth \(depth)")
            }
        }
    }

    @Test func paletteBecomesRGBOrRGBA() throws {
        for depth in [1, 2, 4, 8] {
            let entries = min(1 << depth, 200)
            var rng = LCG(state: UInt64(depth))
            let palette = (0..<(entries * 3)).map { _ in rng.byte() }
            let indices = (0..<(11 * 6)).map { i in UInt8(i * 7 % entries) }
            let rgb = indices.flatMap { Array(palette[Int($0) * 3..<Int($0) * 3 + 3]) }
            let opaque = try decodeImage(try png(indices, 11, 6, PNGWriteOptions(colorType: .palette, bitDepth: depth, palette: palette)))
            #expect(opaque.layout == .rgb)
            #expect(eight(opaque) == rgb, "depth \(depth)")

            // tRNS for the first entries only: the others are opaque.
            let alpha = (0..<max(1, entries / 2)).map { UInt8($0 * 37 % 256) }
            let options = PNGWriteOptions(colorType: .palette, bitDepth: depth, interlaced: depth == 4,
                                          palette: palette, paletteAlpha: alpha)
            let translucent = try decodeImage(try png(indices, 11, 6, options))
            #expect(translucent.layout == .rgba)
            let rgba = indices.flatMap { i in
                Array(palette[Int(i) * 3..<Int(i) * 3 + 3]) + [Int(i) < alpha.count ? alpha[Int(i)] : 255]
            }
            #expect(eight(translucent) == rgba, "depth \(depth) with tRNS")
        }
    }

    @Test func colourKeyBecomesAlpha() throws {
        // 8-bit grey, key 7.
        let grey: [UInt8] = [0, 7, 200, 7, 255, 1]
        let g = try decodeImage(try png(grey, 3, 2, PNGWriteOptions(colorType: .grey, bitDepth: 8, transparentColor: [7])))
        #expect(g.layout == .greyAlpha)
        #expect(eight(g) == grey.flatMap { [$0, $0 == 7 ? 0 : 255] })
        // 2-bit grey, key 1: scaled to 85, alpha 0.
        let low: [UInt8] = [0, 1, 2, 3]
        let l = try decodeImage(try png(low, 2, 2, PNGWriteOptions(colorType: .grey, bitDepth: 2, transparentColor: [1])))
        #expect(eight(l) == [0, 255, 85, 0, 170, 255, 255, 255])
        // 8-bit RGB, key (1, 2, 3).
        let rgb: [UInt8] = [1, 2, 3, 1, 2, 4]
        let r = try decodeImage(try png(rgb, 2, 1, PNGWriteOptions(colorType: .rgb, bitDepth: 8, transparentColor: [1, 2, 3])))
        #expect(r.layout == .rgba && eight(r) == [1, 2, 3, 0, 1, 2, 4, 255])
        // 16-bit grey, key 1000: a 16-bit alpha channel.
        let deep: [UInt16] = [1000, 65535]
        let d = try decodeImage(try png16(deep, 2, 1, PNGWriteOptions(colorType: .grey, bitDepth: 16, transparentColor: [1000])))
        #expect(d.layout == .greyAlpha && d.maxValue == 65535 && sixteen(d) == [1000, 0, 65535, 65535])
    }

    @Test func encoderRejectsBadSamples() {
        #expect(throws: ImageError.self) { try png([0, 4], 2, 1, PNGWriteOptions(colorType: .grey, bitDepth: 2)) }
        #expect(throws: ImageError.self) { try png([0, 3], 2, 1, PNGWriteOptions(colorType: .palette, bitDepth: 8, palette: [1, 2, 3, 4, 5, 6])) }
        #expect(throws: ImageError.self) { try png([0, 3], 2, 1, PNGWriteOptions(colorType: .rgb, bitDepth: 4)) }
        #expect(throws: ImageError.self) { try png([0, 3, 5], 2, 1, PNGWriteOptions(colorType: .grey, bitDepth: 8)) }
    }

    @Test func nonStandardMaxValueIsScaled() throws {
        let image = RawImage(width: 4, height: 1, layout: .grey, maxValue: 15, samples: .eightBit([0, 5, 15, 10]))!
        let decoded = try decodeImage(try encodePNG(image))
        #expect(decoded.maxValue == 255 && eight(decoded) == [0, 85, 255, 170])
        let deep = RawImage(width: 2, height: 1, layout: .grey, maxValue: 1023, samples: .sixteenBit([0, 1023]))!
        #expect(sixteen(try decodeImage(try encodePNG(deep))) == [0, 65535])
    }

    @Test func everyTruncationThrows() throws {
        let file = try png(eight(randomImage(6, 5, .rgb, sixteen: false, seed: 5)), 6, 5,
                           PNGWriteOptions(colorType: .rgb, bitDepth: 8, interlaced: true))
        #expect(try decodeImage(file).width == 6)
        #expect(errorCode { () throws(ImageError) in try decodeImage([UInt8]()) } == .empty)
        for n in 1..<file.count {
            let prefix = Array(file.prefix(n))
            let code = errorCode { () throws(ImageError) in try decodeImage(prefix) }
            #expect(code == .truncated, "prefix of \(n) of \(file.count) bytes: \(String(describing: code))")
        }
    }

    @Test func badCRC() throws {
        let file = try encodePNG(randomImage(5, 5, .grey, sixteen: false, seed: 1))
        // IHDR's CRC (bytes 29..32), then the last byte of the first IDAT's data.
        var a = file
        a[30] ^= 0x55
        let e1 = imageError { () throws(ImageError) in try decodeImage(a) }
        #expect(e1?.code == .corrupt)
        #expect(e1?.message.contains("CRC") == true, "\(e1?.message ?? "")")
        var b = file
        b[b.count - 12 - 5] ^= 0x01 // inside IDAT's CRC (IEND is the last 12 bytes)
        #expect(errorCode { () throws(ImageError) in try decodeImage(b) } == .corrupt)
    }

    @Test func hugeHeadersFailFast() throws {
        let file = try encodePNG(randomImage(4, 4, .rgb, sixteen: false, seed: 2))
        for (w, h) in [(UInt32(100_000), UInt32(100_000)), (65535, 65535), (2_000_000, 1), (0x7fff_ffff, 0x7fff_ffff)] {
            let bomb = pngDeclaring(w, h, from: file)
            let error = imageError { () throws(ImageError) in try decodeImage(bomb) }
            #expect(error?.code == .tooLarge, "\(w) x \(h): \(String(describing: error))")
            #expect(error?.message.contains("\(w) x \(h)") == true)
            // The same with the rest of the file cut off: still too large, not truncated, so the
            // header alone decided it (no pixel data read, nothing allocated for it). No timing:
            // a wall-clock bound in a unit test fails on a busy machine.
            let head = Array(bomb.prefix(33))
            #expect(errorCode { () throws(ImageError) in try decodeImage(head) } == .tooLarge)
        }
    }

    @Test func limitsAreExact() throws {
        let file = try encodePNG(randomImage(10, 10, .grey, sixteen: false, seed: 3))
        let exact = ImageLimits(maxPixels: 100, maxDimension: 10)
        #expect(try decodeImage(file, limits: exact).width == 10)
        #expect(errorCode { () throws(ImageError) in try decodeImage(file, limits: ImageLimits(maxPixels: 99)) } == .tooLarge)
        #expect(errorCode { () throws(ImageError) in try decodeImage(file, limits: ImageLimits(maxDimension: 9)) } == .tooLarge)
    }

    @Test func randomBytesAfterSignature() {
        var rng = LCG(state: 42)
        for trial in 0..<200 {
            let file = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + (0..<(trial + 1)).map { _ in rng.byte() }
            let code = errorCode { () throws(ImageError) in try decodeImage(file) }
            #expect(code == .corrupt || code == .truncated, "trial \(trial): \(String(describing: code))")
        }
    }

    @Test func flippedBytesNeverCrash() throws {
        let file = try png(eight(randomImage(7, 6, .rgba, sixteen: false, seed: 8)), 7, 6,
                           PNGWriteOptions(colorType: .rgba, bitDepth: 8, interlaced: true))
        for i in 8..<file.count {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var f = file
                f[i] ^= flip
                _ = errorCode { () throws(ImageError) in try decodeImage(f) }
            }
        }
    }
}

// MARK: JPEG

@Suite struct JPEGTests {
    @Test func roundTripGreyAndRGB() throws {
        for layout in [RawImage.Layout.grey, .rgb] {
            for progressive in [false, true] {
                let image = smoothImage(64, 48, layout)
                let file = try encodeJPEG(image, quality: 95, progressive: progressive)
                #expect(Array(file.prefix(3)) == [0xFF, 0xD8, 0xFF])
                #expect(sofOffset(file).map { file[$0 - 3] } == (progressive ? 0xC2 : 0xC0))
                let decoded = try decodeImage(file)
                #expect(decoded.layout == layout && decoded.width == 64 && decoded.height == 48 && decoded.maxValue == 255)
                let d = difference(decoded, image)
                #expect(d.max <= 12 && d.mean <= 1.5, "\(layout) progressive=\(progressive): \(d)")
            }
        }
    }

    @Test func qualityRange() throws {
        let image = smoothImage(16, 16, .rgb)
        let small = try encodeJPEG(image, quality: 1)
        let large = try encodeJPEG(image, quality: 100)
        #expect(small.count < large.count)
        // 4:2:0 chroma subsampling still costs a few levels at quality 100.
        let best = difference(try decodeImage(large), image)
        let worst = difference(try decodeImage(small), image)
        #expect(best.max <= 16 && best.mean < worst.mean, "\(best) \(worst)")
        for q in [0, 101] {
            #expect(throws: ImageError.self) { try encodeJPEG(image, quality: q) }
        }
    }

    @Test func encoderRejectsOtherLayouts() {
        for image in [randomImage(4, 4, .rgba, sixteen: false, seed: 1), randomImage(4, 4, .greyAlpha, sixteen: false, seed: 1),
                      randomImage(4, 4, .rgb, sixteen: true, seed: 1)] {
            do {
                _ = try encodeJPEG(image, quality: 90)
                Issue.record("encoded \(describe(image))")
            } catch {
                #expect(error.code == .unsupported)
            }
        }
    }

    @Test func adobeCMYK() throws {
        // Photoshop's convention: inverted inks. Stored C, M, Y = R, G, B and K = 255 (no ink)
        // reads back as R, G, B.
        let rgb = smoothImage(32, 16, .rgb)
        let rgbSamples = eight(rgb)
        var cmyk = [UInt8]()
        for i in stride(from: 0, to: rgbSamples.count, by: 3) { cmyk += rgbSamples[i..<i + 3] + [255] }
        let decoded = try decodeImage(try jpeg(cmyk, 32, 16, channels: 4, quality: 95))
        #expect(decoded.layout == .rgb)
        let d = difference(decoded, rgb)
        #expect(d.max <= 12 && d.mean <= 1.5, "\(d)")
    }

    @Test func everyTruncationThrows() throws {
        for progressive in [false, true] {
            let file = try encodeJPEG(smoothImage(16, 16, .rgb), quality: 80, progressive: progressive)
            #expect(try decodeImage(file).width == 16)
            for n in 1..<file.count {
                let prefix = Array(file.prefix(n))
                let code = errorCode { () throws(ImageError) in try decodeImage(prefix) }
                #expect(code == .truncated, "progressive=\(progressive), prefix of \(n) of \(file.count) bytes: \(String(describing: code))")
            }
        }
    }

    @Test func hugeHeadersFailFast() throws {
        let file = try encodeJPEG(smoothImage(8, 8, .grey), quality: 90)
        for (w, h) in [(UInt16(65535), UInt16(65535)), (60000, 60000), (65000, 1000)] {
            let bomb = jpegDeclaring(w, h, from: file)
            let error = imageError { () throws(ImageError) in try decodeImage(bomb) }
            #expect(error?.code == .tooLarge, "\(w) x \(h): \(String(describing: error))")
            #expect(error?.message.contains("\(w) x \(h)") == true, "\(error?.message ?? "")")
            // Cut off after the scan header, before any entropy-coded data: still too large, not
            // truncated, so the headers alone decided it.
            let head = Array(bomb.prefix(scanDataOffset(bomb)!))
            #expect(errorCode { () throws(ImageError) in try decodeImage(head) } == .tooLarge)
        }
    }

    @Test func twelveBitIsUnsupported() throws {
        var file = try encodeJPEG(smoothImage(8, 8, .grey), quality: 90)
        file[sofOffset(file)!] = 12
        let e = imageError { () throws(ImageError) in try decodeImage(file) }
        #expect(e?.code == .unsupported, "\(String(describing: e))")
    }

    @Test func damagedEntropyDataIsCorrupt() throws {
        // A run of 0xFF bytes inside the scan ends in a marker where entropy-coded data should
        // be: libjpeg's "premature end of data segment" warning, which is an error here.
        let file = try encodeJPEG(smoothImage(64, 64, .grey), quality: 90)
        let sos = (2..<file.count - 1).first { file[$0] == 0xFF && file[$0 + 1] == 0xDA }!
        var damaged = file
        for i in (sos + 20)..<(sos + 60) { damaged[i] = 0xFF }
        let e = imageError { () throws(ImageError) in try decodeImage(damaged) }
        #expect(e?.code == .corrupt, "\(String(describing: e))")
        #expect(e?.message == "JPEG: corrupt data: premature end of data segment")
    }

    @Test func scanLimit() throws {
        // A progressive file whose last scan (AC 1-63, full precision) is repeated: libjpeg
        // accepts each repeat without a warning and decodes it again.
        let image = smoothImage(64, 64, .grey)
        let file = try jpeg(eight(image), 64, 64, channels: 1, scans: .spectralSelection)
        let lastScan = (2..<file.count - 1).last { file[$0] == 0xFF && file[$0 + 1] == 0xDA }!
        let scan = Array(file[lastScan..<(file.count - 2)])
        let head = Array(file[..<lastScan]), eoi = Array(file.suffix(2))
        let fine = head + Array([[UInt8]](repeating: scan, count: 499).joined()) + eoi // 500 scans
        #expect(difference(try decodeImage(fine), image).max <= 16)
        let bomb = head + Array([[UInt8]](repeating: scan, count: 2000).joined()) + eoi
        let e = imageError { () throws(ImageError) in try decodeImage(bomb) }
        #expect(e?.code == .corrupt && e?.message == "JPEG: corrupt data: more than 500 scans", "\(String(describing: e))")
    }

    @Test func randomBytesAfterSignature() {
        var rng = LCG(state: 7)
        for trial in 0..<200 {
            let file = [0xFF, 0xD8, 0xFF] + (0..<(trial + 1)).map { _ in rng.byte() }
            let code = errorCode { () throws(ImageError) in try decodeImage(file) }
            #expect(code == .corrupt || code == .truncated || code == .unsupported, "trial \(trial): \(String(describing: code))")
        }
    }

    @Test func flippedBytesNeverCrash() throws {
        let file = try encodeJPEG(smoothImage(16, 16, .rgb), quality: 75, progressive: true)
        for i in 2..<file.count {
            for flip: UInt8 in [0x01, 0x80, 0xFF] {
                var f = file
                f[i] ^= flip
                _ = errorCode { () throws(ImageError) in try decodeImage(f) }
            }
        }
    }
}

// MARK: PGM / PPM

private func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

@Suite struct NetpbmTests {
    @Test func roundTripBinaryAndPlain() throws {
        for layout in [RawImage.Layout.grey, .rgb] {
            for isSixteen in [false, true] {
                let image = randomImage(9, 4, layout, sixteen: isSixteen, seed: 17)
                for binary in [true, false] {
                    let file = encodePGM(image, binary: binary)
                    let magic = String(decoding: file.prefix(2), as: UTF8.self)
                    #expect(magic == (layout == .grey ? (binary ? "P5" : "P2") : (binary ? "P6" : "P3")))
                    #expect(try decodeImage(file) == image, "\(layout) sixteen=\(isSixteen) binary=\(binary)")
                }
            }
        }
    }

    @Test func plainLinesAreShort() {
        let file = encodePGM(randomImage(40, 3, .rgb, sixteen: true, seed: 4), binary: false)
        let lines = String(decoding: file, as: UTF8.self).split(separator: "\n")
        #expect(lines.allSatisfy { $0.count <= 70 })
    }

    @Test func maxvalIsKept() throws {
        let image = RawImage(width: 3, height: 1, layout: .grey, maxValue: 15, samples: .eightBit([0, 7, 15]))!
        for binary in [true, false] {
            #expect(try decodeImage(encodePGM(image, binary: binary)) == image)
        }
        let deep = RawImage(width: 2, height: 1, layout: .rgb, maxValue: 1000, samples: .sixteenBit([0, 1, 999, 1000, 500, 256]))!
        let file = encodePGM(deep)
        #expect(file.count == bytes("P6\n2 1\n1000\n").count + 12)
        #expect(try decodeImage(file) == deep)
    }

    @Test func alphaIsDropped() throws {
        let image = RawImage(width: 2, height: 1, layout: .rgba, maxValue: 255, samples: .eightBit([1, 2, 3, 4, 5, 6, 7, 8]))!
        let decoded = try decodeImage(encodePGM(image))
        #expect(decoded.layout == .rgb && eight(decoded) == [1, 2, 3, 5, 6, 7])
    }

    @Test func commentsAndWhitespace() throws {
        let files = [
            "P2\n# a comment\n3 2\n# another\n255\n0 1 2\n3 4 255\n",
            "P2 3 2 255 0 1 2 3 4 255",
            "P2#right after the magic\n3#after the width\n2 # after the height\n255#after the maxval\n0 1 2 # in the raster\n3 4 255",
            "P2\r\n3\t2\r\n255\r\n0\t1\t2\r\n3\u{0B}4\u{0C}255\r\n",
        ]
        for f in files {
            let image = try decodeImage(bytes(f))
            #expect(image.width == 3 && image.height == 2 && image.maxValue == 255, "\(f)")
            #expect(eight(image) == [0, 1, 2, 3, 4, 255], "\(f)")
        }
        // Binary: a comment ends at its newline, which is the single whitespace before the raster.
        let raw = bytes("P5\n#c\n2 1 255#c2\n") + [0x23, 0x0A] // samples '#' and LF are data
        #expect(eight(try decodeImage(raw)) == [0x23, 0x0A])
        let ppm = bytes("P6 1 1 # colour\n255\n") + [10, 20, 30]
        #expect(eight(try decodeImage(ppm)) == [10, 20, 30])
    }

    @Test func firstOfSeveralImages() throws {
        let first = encodePGM(RawImage(width: 2, height: 1, layout: .grey, maxValue: 255, samples: .eightBit([1, 2]))!)
        let second = encodePGM(RawImage(width: 1, height: 1, layout: .grey, maxValue: 255, samples: .eightBit([9]))!)
        #expect(eight(try decodeImage(first + second)) == [1, 2])
        #expect(eight(try decodeImage(bytes("P2 1 1 255 7\nP2 1 1 255 8\n"))) == [7])
    }

    @Test func sampleOverMaxval() {
        for f in [bytes("P5 2 1 200\n") + [10, 201], bytes("P2 2 1 200\n10 201\n"),
                  bytes("P5 1 1 1000\n") + [0x03, 0xE9], bytes("P3 1 1 15 1 2 16")] {
            let e = imageError { () throws(ImageError) in try decodeImage(f) }
            #expect(e?.code == .corrupt, "\(String(decoding: f.prefix(12), as: UTF8.self)): \(String(describing: e))")
            #expect(e?.message.contains("maxval") == true)
        }
    }

    @Test func junkAndBadHeaders() {
        let cases: [(String, ImageError.Code)] = [
            ("P5 2 x 255\n..", .corrupt),
            ("P5 2 1 0\n..", .corrupt),
            ("P5 2 1 70000\n....", .corrupt),
            ("P5 0 1 255\n", .corrupt),
            ("P52 1 255\n..", .corrupt),
            ("P5 2 1 255x..", .corrupt),
            ("P2 2 1 255 1 x", .corrupt),
            ("P2 2 1 255 1 2x", .corrupt),
            ("P2 2 1 255 1 -2", .corrupt),
            ("P2 2 1 255 1", .truncated),
            ("P5 2 1 255\n.", .truncated),
            ("P5 2 1 255", .truncated),
            ("P5 2 1", .truncated),
            ("P5 # only a comment", .truncated),
            ("P1 1 1 1", .unsupported),
            ("P4 1 1\n.", .unsupported),
            ("P7\nWIDTH 1\n", .unsupported),
            ("P5 100000 100000 255\n", .tooLarge),
            ("P6 99999999999999999999999 1 255\n", .tooLarge),
        ]
        for (text, expected) in cases {
            let code = errorCode { () throws(ImageError) in try decodeImage(bytes(text)) }
            #expect(code == expected, "\(text): \(String(describing: code))")
        }
    }

    @Test func everyTruncationThrows() {
        for image in [randomImage(3, 2, .rgb, sixteen: false, seed: 1), randomImage(2, 2, .grey, sixteen: true, seed: 2)] {
            let file = encodePGM(image)
            for n in 1..<file.count {
                let prefix = Array(file.prefix(n))
                let code = errorCode { () throws(ImageError) in try decodeImage(prefix) }
                #expect(code == .truncated || code == .unknownFormat, "prefix \(n): \(String(describing: code))")
            }
        }
    }
}

// MARK: Sniffing and files

@Suite struct SniffAndFileTests {
    @Test func emptyAndUnknown() {
        #expect(errorCode { () throws(ImageError) in try decodeImage([UInt8]()) } == .empty)
        let e = imageError { () throws(ImageError) in try decodeImage(bytes("hello world\n")) }
        #expect(e?.code == .unknownFormat)
        #expect(e?.message == "not a PNG, JPEG or PGM/PPM image (starts with 'hell')")
        let binary = imageError { () throws(ImageError) in try decodeImage([0x00, 0xFF, 0x41, 0x0A, 0x42]) }
        #expect(binary?.message == "not a PNG, JPEG or PGM/PPM image (starts with '\\x00\\xffA\\x0a')")
        // Cut inside a signature: truncated.
        for prefix in [[0x89], [0x89, 0x50, 0x4E], [0xFF], [0xFF, 0xD8]] as [[UInt8]] {
            #expect(errorCode { () throws(ImageError) in try decodeImage(prefix) } == .truncated)
        }
    }

    @Test func files() throws {
        try withTempDir { dir in
            let image = randomImage(5, 3, .rgb, sixteen: false, seed: 6)
            write(try encodePNG(image), to: dir + "/a.png")
            #expect(try readImageFile(path: dir + "/a.png") == image)
            // A JPEG named .png is read by its content.
            write(try encodeJPEG(smoothImage(8, 8, .grey), quality: 90), to: dir + "/b.png")
            #expect(try readImageFile(path: dir + "/b.png").layout == .grey)
            write(bytes("hello, I am text\n"), to: dir + "/text.png")
            #expect(errorCode { () throws(ImageError) in try readImageFile(path: dir + "/text.png") } == .unknownFormat)
            write([], to: dir + "/empty.png")
            #expect(errorCode { () throws(ImageError) in try readImageFile(path: dir + "/empty.png") } == .empty)
            let directory = imageError { () throws(ImageError) in try readImageFile(path: dir) }
            #expect(directory?.code == .io && directory?.message == "is a directory")
            #expect(errorCode { () throws(ImageError) in try readImageFile(path: dir + "/missing.png") } == .io)
            #expect(errorCode { () throws(ImageError) in try readImageFile(path: "/dev/null") } == .io)
            let small = ImageLimits(maxFileBytes: 10)
            #expect(errorCode { () throws(ImageError) in try readImageFile(path: dir + "/a.png", limits: small) } == .tooLarge)
        }
    }
}

/// Decode hints: JPEG decodes colour straight to luma and reduces large images; other formats
/// ignore the hints.
@Suite struct DecodeHintTests {
    @Test func greyLumaMatchesRGBConversion() throws {
        let rgb = smoothImage(96, 64, .rgb)
        let file = try encodeJPEG(rgb, quality: 95)
        let full = try decodeImage(file)
        let grey = try decodeImage(file, hints: DecodeHints(grey: true))
        #expect(full.layout == .rgb && grey.layout == .grey)
        #expect(grey.width == 96 && grey.height == 64)
        // Y is BT.601 luma of the same colours: within a level or two of converting the decoded RGB.
        let c = eight(full), g = eight(grey)
        var worst = 0
        for i in 0..<(96 * 64) {
            let luma = (0.299 * Double(c[3 * i]) + 0.587 * Double(c[3 * i + 1]) + 0.114 * Double(c[3 * i + 2])).rounded()
            worst = max(worst, abs(Int(luma) - Int(g[i])))
        }
        #expect(worst <= 3, "largest difference \(worst)")
        // Grey files are unchanged by the hint; PNG ignores it.
        let png = try encodePNG(rgb)
        #expect(try decodeImage(png, hints: .recognition) == decodeImage(png))
    }

    @Test func largeJPEGsAreReducedKeepingTheMinimumSide() throws {
        let big = smoothImage(1000, 600, .grey)
        let file = try encodeJPEG(big, quality: 90)
        let cases: [(Int, Int, Int)] = [(0, 1000, 600), (256, 500, 300), (150, 250, 150), (70, 125, 75), (10, 125, 75), (600, 1000, 600), (601, 1000, 600)]
        for (side, w, h) in cases {
            let image = try decodeImage(file, hints: DecodeHints(minimumSide: side))
            #expect(image.width == w && image.height == h, "minimum side \(side): \(image.width)x\(image.height)")
        }
        // The reduced image is the full one, averaged: close to a 2x2 box filter of it.
        let full = eight(try decodeImage(file)), half = eight(try decodeImage(file, hints: DecodeHints(minimumSide: 256)))
        var total = 0
        for y in 0..<300 {
            for x in 0..<500 {
                let a = Int(full[(2 * y) * 1000 + 2 * x]) + Int(full[(2 * y) * 1000 + 2 * x + 1])
                    + Int(full[(2 * y + 1) * 1000 + 2 * x]) + Int(full[(2 * y + 1) * 1000 + 2 * x + 1])
                total += abs((a + 2) / 4 - Int(half[y * 500 + x]))
            }
        }
        #expect(Double(total) / Double(500 * 300) < 2.0)
        // Limits apply to the full size, before any reduction.
        let limited = ImageLimits(maxPixels: 599_999)
        #expect(throws: ImageError.self) { _ = try decodeImage(file, limits: limited, hints: .recognition) }
    }
}

/// EXIF orientation: a JPEG with an Orientation tag decodes upright, in both byte orders; bad or
/// missing EXIF data leaves the image as stored.
@Suite struct ExifOrientationTests {
    /// An APP1 "Exif" segment holding IFD0 with one Orientation entry.
    func exifSegment(_ orientation: UInt16, littleEndian: Bool) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { littleEndian ? [UInt8(v & 0xFF), UInt8(v >> 8)] : [UInt8(v >> 8), UInt8(v & 0xFF)] }
        func u32(_ v: UInt32) -> [UInt8] {
            littleEndian ? [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
                         : [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
        }
        var tiff: [UInt8] = (littleEndian ? [0x49, 0x49] : [0x4D, 0x4D]) + u16(42) + u32(8)
        tiff += u16(1)                                              // one entry
        tiff += u16(0x0112) + u16(3) + u32(1) + u16(orientation) + [0, 0]
        tiff += u32(0)                                              // no next IFD
        let payload: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0] + tiff
        let length = payload.count + 2
        return [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }

    /// A grey JPEG of 3 x 2 flat 16x16 blocks at six distinct levels (JPEG keeps each block's level
    /// to well within the 50 between levels), with each orientation tag in front.
    @Test func everyOrientationDecodesUpright() throws {
        let levels: [UInt8] = [0, 50, 100, 150, 200, 250]
        var s = [UInt8](repeating: 0, count: 48 * 32)
        for y in 0..<32 { for x in 0..<48 { s[y * 48 + x] = levels[(y / 16) * 3 + x / 16] } }
        let image = RawImage(width: 48, height: 32, layout: .grey, maxValue: 255, samples: .eightBit(s))!
        let plain = try encodeJPEG(image, quality: 100)
        func blocks(_ r: RawImage) -> [Int] {
            let p = eight(r), bw = r.width / 16, bh = r.height / 16
            return (0..<(bw * bh)).map { b in Int(p[((b / bw) * 16 + 8) * r.width + (b % bw) * 16 + 8]) / 50 }
        }
        #expect(blocks(try decodeImage(plain)) == [0, 1, 2, 3, 4, 5])
        // The blocks, row by row, once the stored 3x2 arrangement is turned upright by each tag
        // (6: 90 degrees clockwise, 8: counter-clockwise, 5 and 7: the two diagonal mirrors).
        let expected: [Int: [Int]] = [
            1: [0, 1, 2, 3, 4, 5], 2: [2, 1, 0, 5, 4, 3], 3: [5, 4, 3, 2, 1, 0], 4: [3, 4, 5, 0, 1, 2],
            5: [0, 3, 1, 4, 2, 5], 6: [3, 0, 4, 1, 5, 2], 7: [5, 2, 4, 1, 3, 0], 8: [2, 5, 1, 4, 0, 3],
        ]
        for little in [true, false] {
            for orientation in 1...8 {
                let file = Array(plain[0..<2]) + exifSegment(UInt16(orientation), littleEndian: little) + Array(plain[2...])
                let decoded = try decodeImage(file)
                #expect((decoded.width, decoded.height) == (orientation >= 5 ? (32, 48) : (48, 32)))
                #expect(blocks(decoded) == expected[orientation], "orientation \(orientation), little-endian \(little)")
                // The recognition hints (grey, reduced size) keep the orientation.
                #expect(blocks(try decodeImage(file, hints: .recognition)) == expected[orientation])
            }
        }
        // Out-of-range values and truncated or foreign segments leave the image as stored.
        for bad in [exifSegment(0, littleEndian: true), exifSegment(9, littleEndian: false),
                    Array(exifSegment(6, littleEndian: true).prefix(14)) ] {
            var segment = bad
            if segment.count == 14 { segment[2] = 0; segment[3] = 12 }   // a consistent, too-short segment
            let file = Array(plain[0..<2]) + segment + Array(plain[2...])
            #expect(blocks(try decodeImage(file)) == [0, 1, 2, 3, 4, 5])
        }
    }
}
