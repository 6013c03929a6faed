// Every call into C made by NNImaging: libpng and libjpeg-turbo through CImageCodecs, and the
// file system through Glibc (open, fstat, read). The rest of the module is plain Swift.
import CImageCodecs
#if canImport(Glibc)
import Glibc
#endif

/// The two formats decoded and encoded by the C libraries.
enum CodecFormat {
    case png, jpeg

    var name: String {
        switch self {
        case .png: "PNG"
        case .jpeg: "JPEG"
        }
    }
}

/// Room for the libraries' messages (libjpeg's are at most 200 bytes).
private let messageCapacity = 256

private func text(of message: [CChar]) -> String {
    let bytes = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}

private func clampedLimit(_ value: Int) -> UInt64 { value < 0 ? 0 : UInt64(value) }

// MARK: Decoding

/// Decodes a PNG or JPEG held in `bytes` (not empty) with libpng or libjpeg-turbo.
func codecDecode(_ format: CodecFormat, _ bytes: UnsafeRawBufferPointer, limits: ImageLimits,
                 hints: DecodeHints = .full) throws(ImageError) -> RawImage {
    guard let base = bytes.baseAddress, bytes.count > 0 else {
        throw ImageError(.empty, "empty: 0 bytes")
    }
    let data = base.assumingMemoryBound(to: UInt8.self)
    let maxDimension = clampedLimit(limits.maxDimension)
    let maxPixels = clampedLimit(limits.maxPixels)
    var image = nnrt_codec_image()
    var message = [CChar](repeating: 0, count: messageCapacity)
    let status = message.withUnsafeMutableBufferPointer { m in
        switch format {
        case .png: nnrt_codec_png_decode(data, bytes.count, maxDimension, maxPixels, &image, m.baseAddress, m.count)
        case .jpeg: nnrt_codec_jpeg_decode(data, bytes.count, maxDimension, maxPixels, hints.grey ? 1 : 0,
                                           UInt32(clamping: max(0, hints.minimumSide)), &image, m.baseAddress, m.count)
        }
    }
    var detail = text(of: message)
    let name = format.name
    let redundant = "Corrupt JPEG data: " // libjpeg's words for damaged data, said below already
    if detail.hasPrefix(redundant) { detail.removeFirst(redundant.count) }
    switch status {
    case NNRT_CODEC_OK:
        break
    case NNRT_CODEC_TRUNCATED:
        throw ImageError(.truncated, "\(name): truncated: the data ends after \(bytes.count) bytes, before the image does")
    case NNRT_CODEC_TOO_LARGE:
        if image.width > 0, image.height > 0 {
            throw tooLargeError(name, width: Int(image.width), height: Int(image.height), limits: limits)
        }
        throw ImageError(.tooLarge, "\(name): too large (\(detail))")
    case NNRT_CODEC_UNSUPPORTED:
        throw ImageError(.unsupported, "\(name): not supported: \(detail)")
    case NNRT_CODEC_OUT_OF_MEMORY:
        throw ImageError(.outOfMemory, "\(name): out of memory (\(detail))")
    default:
        throw ImageError(.corrupt, "\(name): corrupt data: \(detail)")
    }
    defer { nnrt_codec_free(image.pixels) }
    let width = Int(image.width), height = Int(image.height)
    guard let pixels = image.pixels, let layout = RawImage.Layout(rawValue: Int(image.channels)),
          image.bits == 8 || image.bits == 16 else {
        throw ImageError(.corrupt, "\(name): the decoder returned an unexpected layout")
    }
    let count = width * height * layout.channels
    let samples: RawImage.Samples
    let maxValue: Int
    if image.bits == 16 {
        samples = .sixteenBit([UInt16](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: pixels, byteCount: count * 2)
            initialized = count
        })
        maxValue = 65535
    } else {
        samples = .eightBit([UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: pixels, byteCount: count)
            initialized = count
        })
        maxValue = 255
    }
    guard let raw = RawImage(width: width, height: height, layout: layout, maxValue: maxValue, samples: samples) else {
        throw ImageError(.corrupt, "\(name): the decoder returned an unexpected layout")
    }
    return raw
}

// MARK: Encoding

/// How `codecEncodePNG` writes a file: every PNG colour type and bit depth, for the tests and
/// the test-image generator (`encodePNG(_:)` is the everyday entry point).
struct PNGWriteOptions {
    enum ColorType: Int32 {
        case grey = 0, rgb = 2, palette = 3, greyAlpha = 4, rgba = 6

        var channels: Int {
            switch self {
            case .grey, .palette: 1
            case .greyAlpha: 2
            case .rgb: 3
            case .rgba: 4
            }
        }
    }

    var colorType: ColorType
    /// 1, 2, 4, 8 or 16, as the colour type allows.
    var bitDepth: Int
    var interlaced = false
    /// Palette images: RGB triples, and alpha values for the first entries (a tRNS chunk).
    var palette: [UInt8] = []
    var paletteAlpha: [UInt8] = []
    /// Grey or RGB images: a tRNS colour key (one value for grey, three for RGB).
    var transparentColor: [UInt16]? = nil
    /// zlib's level 0...9; nil for libpng's default.
    var compressionLevel: Int? = nil
}

private func encoderError(_ name: String, _ status: Int32, _ detail: String) -> ImageError {
    switch status {
    case NNRT_CODEC_OUT_OF_MEMORY: ImageError(.outOfMemory, "\(name) encoder: out of memory")
    case NNRT_CODEC_TOO_LARGE: ImageError(.tooLarge, "\(name) encoder: too large: \(detail)")
    default: ImageError(.unsupported, "\(name) encoder: \(detail)")
    }
}

/// Moves a buffer malloc'd by CImageCodecs into an array and frees it.
private func takeBuffer(_ pointer: UnsafeMutablePointer<UInt8>?, _ size: Int) -> [UInt8] {
    defer { nnrt_codec_free(pointer) }
    guard let pointer, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: pointer, count: size))
}

/// Encodes `samples` (one byte per sample up to 8 bits, host-order UInt16 for 16 bits; see
/// `PNGWriteOptions`) to a PNG file.
func codecEncodePNG(_ samples: UnsafeRawBufferPointer, width: Int, height: Int, options: PNGWriteOptions) throws(ImageError) -> [UInt8] {
    let bytesPerSample = options.bitDepth == 16 ? 2 : 1
    guard width > 0, height > 0, width <= Int(Int32.max), height <= Int(Int32.max),
          samples.count == width * height * options.colorType.channels * bytesPerSample,
          let base = samples.baseAddress else {
        throw ImageError(.unsupported, "PNG encoder: the samples do not match \(width) x \(height) pixels")
    }
    var c = nnrt_codec_png_options()
    c.color_type = options.colorType.rawValue
    c.bit_depth = Int32(truncatingIfNeeded: options.bitDepth)
    c.interlaced = options.interlaced ? 1 : 0
    c.palette_entries = Int32(truncatingIfNeeded: options.palette.count / 3)
    c.trns_count = Int32(truncatingIfNeeded: options.paletteAlpha.count)
    if let key = options.transparentColor {
        c.has_trns_color = 1
        c.trns_color = (key.count > 0 ? key[0] : 0, key.count > 1 ? key[1] : 0, key.count > 2 ? key[2] : 0)
    }
    c.compression_level = Int32(truncatingIfNeeded: options.compressionLevel ?? -1)
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size = 0
    var message = [CChar](repeating: 0, count: messageCapacity)
    let status = options.palette.withUnsafeBufferPointer { palette in
        options.paletteAlpha.withUnsafeBufferPointer { alpha in
            message.withUnsafeMutableBufferPointer { m in
                c.palette = palette.baseAddress
                c.trns = alpha.baseAddress
                return nnrt_codec_png_encode(base, UInt32(width), UInt32(height), &c, &out, &size, m.baseAddress, m.count)
            }
        }
    }
    guard status == NNRT_CODEC_OK else {
        nnrt_codec_free(out)
        throw encoderError("PNG", status, text(of: message))
    }
    return takeBuffer(out, size)
}

/// The scans of a JPEG file written by `codecEncodeJPEG`.
enum JPEGScans: Int32 {
    /// One scan (baseline).
    case sequential = 0
    /// libjpeg's standard progressive script.
    case progressive = 1
    /// Grey only, for tests: DC, then AC 1-63 at full precision.
    case spectralSelection = 2
}

/// Encodes 8-bit samples with 1 (grey), 3 (RGB) or 4 (CMYK, for tests) channels to a JPEG file.
func codecEncodeJPEG(_ samples: UnsafeRawBufferPointer, width: Int, height: Int, channels: Int,
                     quality: Int, scans: JPEGScans) throws(ImageError) -> [UInt8] {
    guard width > 0, height > 0, width <= Int(UInt32.max), height <= Int(UInt32.max),
          channels == 1 || channels == 3 || channels == 4,
          samples.count == width * height * channels, let base = samples.baseAddress else {
        throw ImageError(.unsupported, "JPEG encoder: the samples do not match \(width) x \(height) pixels")
    }
    guard (1...100).contains(quality) else {
        throw ImageError(.unsupported, "JPEG encoder: quality must be 1...100, not \(quality)")
    }
    var out: UnsafeMutablePointer<UInt8>? = nil
    var size = 0
    var message = [CChar](repeating: 0, count: messageCapacity)
    let status = message.withUnsafeMutableBufferPointer { m in
        nnrt_codec_jpeg_encode(base.assumingMemoryBound(to: UInt8.self), UInt32(width), UInt32(height), UInt32(channels),
                               Int32(quality), scans.rawValue, &out, &size, m.baseAddress, m.count)
    }
    guard status == NNRT_CODEC_OK else {
        nnrt_codec_free(out)
        throw encoderError("JPEG", status, text(of: message))
    }
    return takeBuffer(out, size)
}

// MARK: Files

private func errnoText(_ code: Int32) -> String {
    guard let s = strerror(code) else { return "error \(code)" }
    return String(cString: s)
}

/// The whole content of the regular file at `path`, which may hold at most `maxBytes` bytes.
func readFileBytes(path: String, maxBytes: Int) throws(ImageError) -> [UInt8] {
    try path.withCString { p in Result { () throws(ImageError) in try readFileBytes(cPath: p, maxBytes: maxBytes) } }.get()
}

/// As `readFileBytes(path:maxBytes:)` for a path given as C bytes (which need not be UTF-8).
func readFileBytes(cPath path: UnsafePointer<CChar>, maxBytes: Int) throws(ImageError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 {
        throw ImageError(.io, "cannot open: \(errnoText(errno))")
    }
    defer { close(fd) }
    var info = stat()
    if fstat(fd, &info) != 0 {
        throw ImageError(.io, "cannot read its attributes: \(errnoText(errno))")
    }
    switch info.st_mode & S_IFMT {
    case S_IFREG: break
    case S_IFDIR: throw ImageError(.io, "is a directory")
    default: throw ImageError(.io, "not a regular file")
    }
    let size = Int(info.st_size)
    if size > maxBytes {
        throw ImageError(.tooLarge, "the file holds \(size) bytes, over the limit of \(maxBytes)")
    }
    if size == 0 { return [] }
    var bytes = [UInt8](repeating: 0, count: size)
    var total = 0
    var failure: Int32 = 0
    bytes.withUnsafeMutableBytes { buffer in
        while total < size {
            let n = read(fd, buffer.baseAddress! + total, size - total)
            if n > 0 {
                total += n
            } else if n == 0 {
                break // the file shrank while we read it
            } else if errno != EINTR {
                failure = errno
                break
            }
        }
    }
    if failure != 0 {
        throw ImageError(.io, "cannot read: \(errnoText(failure))")
    }
    if total < size { bytes.removeSubrange(total...) }
    return bytes
}
