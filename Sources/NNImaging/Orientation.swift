// EXIF orientation: cameras and phones store a photo as the sensor saw it and record how to
// turn it upright in the EXIF Orientation tag (0x0112). A digit photographed with the phone
// held sideways is stored rotated by 90 degrees; decoders that ignore the tag hand it to the
// network on its side. decodeImage reads the tag from JPEG files and applies it, as browsers and
// image viewers do.

/// The EXIF Orientation value (1...8) of a JPEG held in `bytes`, or 1 (upright) when the file has
/// no EXIF segment, no such tag or an unreadable one. Reads only the segments before the image
/// data; never traps on malformed input.
func jpegExifOrientation(_ bytes: UnsafeRawBufferPointer) -> Int {
    var i = 2                                   // after SOI
    while i + 4 <= bytes.count {
        guard bytes[i] == 0xFF else { return 1 }
        let marker = bytes[i + 1]
        if marker == 0xFF { i += 1; continue }  // fill byte
        if marker == 0xDA || marker == 0xD9 { return 1 }   // start of scan / end of image
        if (0xD0...0xD7).contains(marker) || marker == 0x01 { i += 2; continue }
        let length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        guard length >= 2, i + 2 + length <= bytes.count else { return 1 }
        if marker == 0xE1, length >= 8 {
            let start = i + 4
            let header: [UInt8] = [0x45, 0x78, 0x69, 0x66, 0, 0]   // "Exif\0\0"
            if (0..<6).allSatisfy({ bytes[start + $0] == header[$0] }) {
                return tiffOrientation(bytes, from: start + 6, to: i + 2 + length) ?? 1
            }
        }
        i += 2 + length
    }
    return 1
}

/// The Orientation tag of IFD0 of the TIFF structure in bytes[from..<to].
private func tiffOrientation(_ bytes: UnsafeRawBufferPointer, from base: Int, to end: Int) -> Int? {
    guard base + 8 <= end else { return nil }
    let little: Bool
    switch (bytes[base], bytes[base + 1]) {
    case (0x49, 0x49): little = true            // "II"
    case (0x4D, 0x4D): little = false           // "MM"
    default: return nil
    }
    func u16(_ at: Int) -> Int? {
        guard at >= base, at + 2 <= end else { return nil }
        let a = Int(bytes[at]), b = Int(bytes[at + 1])
        return little ? a | b << 8 : a << 8 | b
    }
    func u32(_ at: Int) -> Int? {
        guard let lo = u16(little ? at : at + 2), let hi = u16(little ? at + 2 : at) else { return nil }
        return lo | hi << 16
    }
    guard u16(base + 2) == 42, let ifd = u32(base + 4), let count = u16(base + ifd) else { return nil }
    for entry in 0..<min(count, 512) {
        let at = base + ifd + 2 + entry * 12
        guard let tag = u16(at) else { return nil }
        if tag == 0x0112 {
            // Type SHORT (3), count 1: the value sits in the first two bytes of the value field.
            guard u16(at + 2) == 3, let value = u16(at + 8), (1...8).contains(value) else { return nil }
            return value
        }
    }
    return nil
}

extension RawImage {
    /// This image turned upright by EXIF orientation `orientation` (1...8; anything else leaves it
    /// as it is): 2 mirrored, 3 rotated 180 degrees, 4 flipped, 5 transposed, 6 rotated 90
    /// degrees clockwise, 7 transversed, 8 rotated 90 degrees counter-clockwise.
    func oriented(_ orientation: Int) -> RawImage {
        guard (2...8).contains(orientation) else { return self }
        let w = width, h = height, c = layout.channels
        let swap = orientation >= 5
        let ow = swap ? h : w, oh = swap ? w : h
        // Source pixel for output (x, y).
        func source(_ x: Int, _ y: Int) -> Int {
            let (sx, sy): (Int, Int)
            switch orientation {
            case 2: (sx, sy) = (w - 1 - x, y)
            case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
            case 4: (sx, sy) = (x, h - 1 - y)
            case 5: (sx, sy) = (y, x)
            case 6: (sx, sy) = (y, h - 1 - x)
            case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
            default: (sx, sy) = (w - 1 - y, x)   // 8
            }
            return (sy * w + sx) * c
        }
        func remap<T>(_ s: [T]) -> [T] {
            var out = s
            s.withUnsafeBufferPointer { src in
                out.withUnsafeMutableBufferPointer { dst in
                    var o = 0
                    for y in 0..<oh {
                        for x in 0..<ow {
                            let from = source(x, y)
                            for k in 0..<c { dst[o + k] = src[from + k] }
                            o += c
                        }
                    }
                }
            }
            return out
        }
        let samples: Samples
        switch self.samples {
        case .eightBit(let s): samples = .eightBit(remap(s))
        case .sixteenBit(let s): samples = .sixteenBit(remap(s))
        }
        return RawImage(width: ow, height: oh, layout: layout, maxValue: maxValue, samples: samples) ?? self
    }
}
