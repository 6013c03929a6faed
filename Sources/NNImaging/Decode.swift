// Reading images: the format is told by the first bytes, never by a file name.

private let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
private let jpegSignature: [UInt8] = [0xFF, 0xD8, 0xFF]

/// Decodes a PNG, JPEG, PGM or PPM image held in memory, telling the format by its first bytes
/// (`\x89PNG\r\n\x1a\n`; `FF D8 FF`; `P2`, `P5` grey, `P3`, `P6` RGB).
///
/// - PNG: any colour type and bit depth, interlaced or not. Palettes become RGB (RGBA with a
///   tRNS chunk), a tRNS colour key becomes an alpha channel, 1/2/4-bit grey is scaled to 8-bit
///   0...255, 16-bit samples stay 16-bit.
/// - JPEG: baseline, progressive or arithmetic-coded, 8-bit: grey stays grey; YCbCr, RGB, CMYK and
///   YCCK become RGB. An EXIF Orientation tag is applied, so photos come upright.
/// - PGM/PPM: binary and ASCII, maxval 1...65535 (`maxValue` keeps it), the first image of a file.
///
/// Dimensions are checked against `limits` before any pixel memory is allocated. Throws
/// `.empty` for zero bytes, `.unknownFormat` for anything else that is not one of these formats,
/// and `.truncated`, `.corrupt`, `.tooLarge`, `.unsupported` or `.outOfMemory` as the data
/// demands. Thread-safe: any number of threads may decode at once.
public func decodeImage(_ bytes: UnsafeRawBufferPointer, limits: ImageLimits = .default,
                        hints: DecodeHints = .full) throws(ImageError) -> RawImage {
    guard bytes.count > 0 else { throw ImageError(.empty, "empty: 0 bytes") }
    if startsWith(bytes, pngSignature) { return try codecDecode(.png, bytes, limits: limits, hints: hints) }
    if startsWith(bytes, jpegSignature) {
        // Photos come upright: the EXIF Orientation tag is applied (Orientation.swift).
        return try codecDecode(.jpeg, bytes, limits: limits, hints: hints).oriented(jpegExifOrientation(bytes))
    }
    if bytes.count < pngSignature.count, isPrefix(bytes, of: pngSignature) {
        throw ImageError(.truncated, "PNG: truncated: the data ends after \(bytes.count) bytes, inside the signature")
    }
    if bytes.count < jpegSignature.count, isPrefix(bytes, of: jpegSignature) {
        throw ImageError(.truncated, "JPEG: truncated: the data ends after \(bytes.count) bytes, inside the signature")
    }
    if bytes.count >= 2, bytes[0] == UInt8(ascii: "P") {
        switch bytes[1] {
        case UInt8(ascii: "2"), UInt8(ascii: "3"), UInt8(ascii: "5"), UInt8(ascii: "6"):
            return try decodeNetpbm(bytes, limits: limits)
        case UInt8(ascii: "1"), UInt8(ascii: "4"):
            throw ImageError(.unsupported, "PBM bitmaps (P1, P4) are not supported: only PGM (P2, P5) and PPM (P3, P6)")
        case UInt8(ascii: "7"):
            throw ImageError(.unsupported, "PAM (P7) is not supported: only PGM (P2, P5) and PPM (P3, P6)")
        default:
            break
        }
    }
    throw ImageError(.unknownFormat, "not a PNG, JPEG or PGM/PPM image (starts with '\(describeStart(bytes))')")
}

/// What a caller needs of an image, so that a decoder may do less: JPEG honours both (a colour
/// file decoded straight to its luma skips the chroma; a large one is decoded at 1/2, 1/4 or 1/8
/// size by libjpeg's scaled inverse DCT); PNG and PGM/PPM decode in full.
public struct DecodeHints: Sendable, Equatable {
    /// Grey levels are enough (colour images may come back as their BT.601 luma).
    public var grey: Bool
    /// 0, or the shorter side the image must keep if the decoder reduces it.
    public var minimumSide: Int

    public init(grey: Bool = false, minimumSide: Int = 0) {
        self.grey = grey
        self.minimumSide = minimumSide
    }

    /// Every pixel as stored.
    public static let full = DecodeHints()
    /// For recognising a digit: grey, and at least 256 pixels on the shorter side (a digit a
    /// tenth of the frame keeps 25 pixels; the normalisation brings it to 20).
    #if NNRT_FUZZ_IMAGE_LIMITS
    /// (The fuzzing build, whose images are at most 65,536 pixels, keeps 32, so that JPEG's
    /// scaled decoding, from a shorter side of 64, stays within its reach.)
    public static let recognition = DecodeHints(grey: true, minimumSide: 32)
    #else
    public static let recognition = DecodeHints(grey: true, minimumSide: 256)
    #endif
}

/// `decodeImage(_:limits:hints:)` for bytes in an array.
public func decodeImage(_ bytes: [UInt8], limits: ImageLimits = .default, hints: DecodeHints = .full) throws(ImageError) -> RawImage {
    try withBytes(of: bytes) { buffer throws(ImageError) in try decodeImage(buffer, limits: limits, hints: hints) }
}

/// Reads and decodes the image file at `path` (see `decodeImage(_:limits:)`). The file must be
/// a regular file of at most `limits.maxFileBytes` bytes: a directory or a device is `.io`, a
/// larger file `.tooLarge`, both before anything is read. Messages do not repeat the path:
/// callers prefix it ("digit.png: PNG: truncated: ...").
public func readImageFile(path: String, limits: ImageLimits = .default, hints: DecodeHints = .full) throws(ImageError) -> RawImage {
    let bytes = try readFileBytes(path: path, maxBytes: limits.maxFileBytes)
    return try decodeImage(bytes, limits: limits, hints: hints)
}

/// `readImageFile(path:limits:)` for a path given as a NUL-terminated C string, which need not be
/// valid UTF-8 (file names on Linux are bytes).
public func readImageFile(cPath: UnsafePointer<CChar>, limits: ImageLimits = .default, hints: DecodeHints = .full) throws(ImageError) -> RawImage {
    let bytes = try readFileBytes(cPath: cPath, maxBytes: limits.maxFileBytes)
    return try decodeImage(bytes, limits: limits, hints: hints)
}

/// `array.withUnsafeBytes(body)` keeping `body`'s typed error (withUnsafeBytes rethrows `any Error`).
func withBytes<T, R>(of array: [T], _ body: (UnsafeRawBufferPointer) throws(ImageError) -> R) throws(ImageError) -> R {
    try array.withUnsafeBytes { buffer in Result { () throws(ImageError) -> R in try body(buffer) } }.get()
}

/// The error for declared dimensions over `limits`.
func tooLargeError(_ format: String, width: Int, height: Int, limits: ImageLimits) -> ImageError {
    if width > limits.maxDimension || height > limits.maxDimension {
        return ImageError(.tooLarge, "\(format): \(width) x \(height) pixels is too large (at most \(limits.maxDimension) a side)")
    }
    return ImageError(.tooLarge, "\(format): \(width) x \(height) pixels is too large (at most \(limits.maxPixels) pixels)")
}

private func startsWith(_ bytes: UnsafeRawBufferPointer, _ magic: [UInt8]) -> Bool {
    bytes.count >= magic.count && magic.indices.allSatisfy { bytes[$0] == magic[$0] }
}

private func isPrefix(_ bytes: UnsafeRawBufferPointer, of magic: [UInt8]) -> Bool {
    bytes.count <= magic.count && bytes.indices.allSatisfy { bytes[$0] == magic[$0] }
}

/// The first four bytes as text: printable ASCII as it is, anything else as \xNN.
private func describeStart(_ bytes: UnsafeRawBufferPointer) -> String {
    var s = ""
    for b in bytes.prefix(4) {
        if b >= 0x20, b < 0x7F, b != UInt8(ascii: "\\"), b != UInt8(ascii: "'") {
            s.unicodeScalars.append(Unicode.Scalar(b))
        } else {
            let hex = Array("0123456789abcdef".unicodeScalars)
            s += "\\x"
            s.unicodeScalars.append(hex[Int(b >> 4)])
            s.unicodeScalars.append(hex[Int(b & 15)])
        }
    }
    return s
}
