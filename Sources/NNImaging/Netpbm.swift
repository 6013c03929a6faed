// PGM and PPM (netpbm), read and written natively. The header rules follow the netpbm
// specification as libnetpbm reads it: the magic number, then width, height and maxval as
// decimal numbers, each after at least one whitespace character (space, TAB, CR, LF, VT, FF); a
// comment runs from '#' to the next CR or LF, may stand anywhere in the header and counts as
// whitespace; exactly one whitespace character follows maxval, then the raster. Binary rasters
// (P5, P6) hold one byte per sample when maxval < 256, else two, most significant first. Plain
// rasters (P2, P3) hold decimal samples separated by whitespace (comments allowed). A file may
// hold several images one after another: the first is read.

private enum NetpbmKind {
    case plainGrey, plainRGB, rawGrey, rawRGB

    var name: String {
        switch self {
        case .plainGrey, .rawGrey: "PGM"
        case .plainRGB, .rawRGB: "PPM"
        }
    }

    var channels: Int {
        switch self {
        case .plainGrey, .rawGrey: 1
        case .plainRGB, .rawRGB: 3
        }
    }

    var isPlain: Bool {
        switch self {
        case .plainGrey, .plainRGB: true
        case .rawGrey, .rawRGB: false
        }
    }
}

@inline(__always) private func isWhitespace(_ c: UInt8) -> Bool {
    c == 0x20 || (c >= 0x09 && c <= 0x0D) // space, TAB, LF, VT, FF, CR
}

@inline(__always) private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

/// Numbers larger than this stop growing (and are then over every limit and maxval).
private let saturation = 1 << 40

private struct NetpbmReader {
    let bytes: UnsafeRawBufferPointer
    var offset: Int
    let name: String

    /// The next character, a comment read as the CR or LF that ends it; nil at the end.
    mutating func next() -> UInt8? {
        guard offset < bytes.count else { return nil }
        var c = bytes[offset]
        offset += 1
        if c == UInt8(ascii: "#") {
            repeat {
                guard offset < bytes.count else { return nil }
                c = bytes[offset]
                offset += 1
            } while c != 0x0A && c != 0x0D
        }
        return c
    }

    func truncated(_ what: String) -> ImageError {
        ImageError(.truncated, "\(name): truncated: the data ends after \(bytes.count) bytes, \(what)")
    }

    func corrupt(_ what: String) -> ImageError {
        ImageError(.corrupt, "\(name): corrupt data: \(what)")
    }

    /// Reads one decimal number after whitespace (at least one character of it unless
    /// `separated` says the previous delimiter already was). Returns the number and the
    /// character after its last digit (nil at the end of the data).
    mutating func number(_ what: String, separated: Bool) throws(ImageError) -> (value: Int, delimiter: UInt8?) {
        var sawSpace = separated
        var c: UInt8
        while true {
            guard let ch = next() else { throw truncated("before the \(what)") }
            c = ch
            if !isWhitespace(c) { break }
            sawSpace = true
        }
        guard isDigit(c) else { throw corrupt("the \(what) is not a decimal number (found \(describeByte(c)))") }
        guard sawSpace else { throw corrupt("no whitespace before the \(what)") }
        var value = 0
        while true {
            value = min(value * 10 + Int(c - 0x30), saturation)
            guard let ch = next() else { return (value, nil) }
            c = ch
            if !isDigit(c) { return (value, c) }
        }
    }
}

private func describeByte(_ c: UInt8) -> String {
    if c >= 0x21 && c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
    let hex = Array("0123456789abcdef")
    return "byte 0x\(hex[Int(c >> 4)])\(hex[Int(c & 15)])"
}

/// Decodes the first image of a PGM (P2, P5) or PPM (P3, P6) file; `bytes` starts with the magic.
func decodeNetpbm(_ bytes: UnsafeRawBufferPointer, limits: ImageLimits) throws(ImageError) -> RawImage {
    let kind: NetpbmKind
    switch bytes[1] {
    case UInt8(ascii: "2"): kind = .plainGrey
    case UInt8(ascii: "3"): kind = .plainRGB
    case UInt8(ascii: "5"): kind = .rawGrey
    default: kind = .rawRGB
    }
    var r = NetpbmReader(bytes: bytes, offset: 2, name: kind.name)

    let (width, d1) = try r.number("width", separated: false)
    guard let d1 else { throw r.truncated("after the width") }
    guard isWhitespace(d1) else { throw r.corrupt("the width is followed by \(describeByte(d1))") }
    let (height, d2) = try r.number("height", separated: true)
    guard let d2 else { throw r.truncated("after the height") }
    guard isWhitespace(d2) else { throw r.corrupt("the height is followed by \(describeByte(d2))") }
    let (maxval, d3) = try r.number("maxval", separated: true)
    guard width > 0, height > 0 else { throw r.corrupt("\(width) x \(height) pixels") }
    guard maxval >= 1, maxval <= 65535 else { throw r.corrupt("maxval \(maxval) is not in 1...65535") }
    guard let d3 else { throw r.truncated("after the maxval") }
    guard isWhitespace(d3) else { throw r.corrupt("the maxval is followed by \(describeByte(d3))") }
    if width > limits.maxDimension || height > limits.maxDimension || width * height > limits.maxPixels {
        throw tooLargeError(kind.name, width: width, height: height, limits: limits)
    }

    let count = width * height * kind.channels
    let remaining = bytes.count - r.offset
    let sixteen = maxval > 255
    // Enough data for the raster? Checked before allocating it (plain samples take at least 2
    // bytes each, but for the last).
    if kind.isPlain {
        if remaining < 2 * count - 1 { throw r.truncated("before the last of its \(count) samples") }
    } else if remaining < count * (sixteen ? 2 : 1) {
        throw r.truncated("\(count * (sixteen ? 2 : 1) - remaining) bytes short of the raster")
    }

    let samples: RawImage.Samples
    if kind.isPlain {
        var values = [UInt16](repeating: 0, count: count)
        var separated = true // the maxval's delimiter
        for i in 0..<count {
            let (v, d) = try r.number("sample", separated: separated)
            guard v <= maxval else { throw r.corrupt("sample \(i) is \(v), over the maxval \(maxval)") }
            values[i] = UInt16(v)
            if let d {
                guard isWhitespace(d) else { throw r.corrupt("sample \(i) is followed by \(describeByte(d))") }
            } else if i < count - 1 {
                throw r.truncated("after sample \(i) of \(count)")
            }
            separated = true
        }
        samples = sixteen ? .sixteenBit(values) : .eightBit(values.map { UInt8($0) })
    } else if sixteen {
        let start = r.offset
        var values = [UInt16](repeating: 0, count: count)
        for i in 0..<count {
            let v = UInt16(bytes[start + 2 * i]) << 8 | UInt16(bytes[start + 2 * i + 1])
            guard Int(v) <= maxval else { throw r.corrupt("sample \(i) is \(v), over the maxval \(maxval)") }
            values[i] = v
        }
        samples = .sixteenBit(values)
    } else {
        let raster = UnsafeRawBufferPointer(rebasing: bytes[r.offset..<(r.offset + count)])
        let values = Array(raster)
        if maxval < 255, let i = values.firstIndex(where: { Int($0) > maxval }) {
            throw r.corrupt("sample \(i) is \(values[i]), over the maxval \(maxval)")
        }
        samples = .eightBit(values)
    }
    guard let image = RawImage(width: width, height: height, layout: kind.channels == 1 ? .grey : .rgb,
                               maxValue: maxval, samples: samples) else {
        throw r.corrupt("\(width) x \(height) pixels")
    }
    return image
}

/// Encodes `image` as a PGM (grey) or PPM (RGB) file with the image's `maxValue` as maxval:
/// binary (P5, P6; two bytes a sample, most significant first, when maxval > 255) or plain
/// ASCII (P2, P3; lines of at most 70 characters). An alpha channel is dropped (netpbm has
/// none); samples over `maxValue` are written as `maxValue`. Thread-safe.
public func encodePGM(_ image: RawImage, binary: Bool = true) -> [UInt8] {
    let colour = image.layout == .rgb || image.layout == .rgba
    let inChannels = image.layout.channels
    let outChannels = colour ? 3 : 1
    let magic = binary ? (colour ? "P6" : "P5") : (colour ? "P3" : "P2")
    let maxval = image.maxValue
    var out = Array("\(magic)\n\(image.width) \(image.height)\n\(maxval)\n".utf8)
    let pixels = image.width * image.height

    func sample(_ i: Int) -> Int {
        switch image.samples {
        case .eightBit(let s): min(Int(s[i]), maxval)
        case .sixteenBit(let s): min(Int(s[i]), maxval)
        }
    }

    if binary {
        out.reserveCapacity(out.count + pixels * outChannels * (maxval > 255 ? 2 : 1))
        for p in 0..<pixels {
            for c in 0..<outChannels {
                let v = sample(p * inChannels + c)
                if maxval > 255 { out.append(UInt8(v >> 8)) }
                out.append(UInt8(v & 0xFF))
            }
        }
    } else {
        var line = 0
        for p in 0..<pixels {
            for c in 0..<outChannels {
                let digits = Array(String(sample(p * inChannels + c)).utf8)
                if line > 0 && line + 1 + digits.count > 70 {
                    out.append(0x0A)
                    line = 0
                } else if line > 0 {
                    out.append(0x20)
                    line += 1
                }
                out += digits
                line += digits.count
            }
        }
        out.append(0x0A)
    }
    return out
}
