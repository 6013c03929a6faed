// Writing images: PNG and JPEG through CImageCodecs (PGM/PPM are in Netpbm.swift). Used by the
// tests, the test-image generator and `nnrt classify --show`.

/// Encodes `image` as a PNG file: grey, grey + alpha, RGB or RGBA, 8-bit samples as an 8-bit
/// PNG and 16-bit samples as a 16-bit PNG. A `maxValue` other than 255 or 65535 (from a PGM/PPM
/// file) is scaled to the full range, since PNG has no maxval. Thread-safe.
public func encodePNG(_ image: RawImage) throws(ImageError) -> [UInt8] {
    let colorType: PNGWriteOptions.ColorType = switch image.layout {
    case .grey: .grey
    case .greyAlpha: .greyAlpha
    case .rgb: .rgb
    case .rgba: .rgba
    }
    switch image.samples {
    case .eightBit(let samples):
        let full = fullRange8(samples, maxValue: image.maxValue)
        return try withBytes(of: full) { bytes throws(ImageError) in
            try codecEncodePNG(bytes, width: image.width, height: image.height,
                               options: PNGWriteOptions(colorType: colorType, bitDepth: 8))
        }
    case .sixteenBit(let samples):
        let full = image.maxValue == 65535 ? samples : samples.map { scaled($0, from: image.maxValue, to: 65535) }
        return try withBytes(of: full) { bytes throws(ImageError) in
            try codecEncodePNG(bytes, width: image.width, height: image.height,
                               options: PNGWriteOptions(colorType: colorType, bitDepth: 16))
        }
    }
}

/// Encodes `image` as a JPEG (JFIF) file: 8-bit grey stays grey, 8-bit RGB is stored as YCbCr
/// 4:2:0. `quality` is libjpeg's 1...100; `progressive` writes a progressive file. Other
/// layouts (alpha, 16-bit samples) throw `.unsupported`; a `maxValue` other than 255 is scaled
/// to 0...255. Thread-safe.
public func encodeJPEG(_ image: RawImage, quality: Int, progressive: Bool = false) throws(ImageError) -> [UInt8] {
    guard image.layout == .grey || image.layout == .rgb, case .eightBit(let samples) = image.samples else {
        throw ImageError(.unsupported, "JPEG encoder: only 8-bit grey or RGB images can be written, not \(describe(image))")
    }
    let full = fullRange8(samples, maxValue: image.maxValue)
    return try withBytes(of: full) { bytes throws(ImageError) in
        try codecEncodeJPEG(bytes, width: image.width, height: image.height, channels: image.layout.channels,
                            quality: quality, scans: progressive ? .progressive : .sequential)
    }
}

/// "16-bit RGBA" style.
func describe(_ image: RawImage) -> String {
    let bits = if case .sixteenBit = image.samples { "16-bit" } else { "8-bit" }
    let layout = switch image.layout {
    case .grey: "grey"
    case .greyAlpha: "grey + alpha"
    case .rgb: "RGB"
    case .rgba: "RGBA"
    }
    return "\(bits) \(layout)"
}

private func fullRange8(_ samples: [UInt8], maxValue: Int) -> [UInt8] {
    maxValue == 255 ? samples : samples.map { UInt8(scaled(UInt16($0), from: maxValue, to: 255)) }
}

/// `value` (clamped to 0...maxValue) scaled from 0...maxValue to 0...target, rounded.
private func scaled(_ value: UInt16, from maxValue: Int, to target: Int) -> UInt16 {
    let v = min(Int(value), maxValue)
    return UInt16((v * target + maxValue / 2) / maxValue)
}
