// The types every part of image input shares: decoded pixels and decode errors.
// NNImaging holds the decoders (PNG and JPEG through CImageCodecs, PGM/PPM natively) and the
// MNIST-style preprocessing; libnnrt, the CLI and the tests all go through it, so every caller
// sees the same pixels. No Foundation: this module is part of libnnrt.so.

/// Decoded pixels as they came from a file or a caller's buffer: row-major, top row first,
/// channels interleaved (grey; grey, alpha; R, G, B; R, G, B, A). Alpha is straight (not
/// premultiplied).
public struct RawImage: Sendable, Equatable {
    public enum Layout: Int, Sendable {
        case grey = 1, greyAlpha = 2, rgb = 3, rgba = 4
        /// Samples per pixel.
        public var channels: Int { rawValue }
    }

    /// The samples, 8 bits when the source had at most 8 bits per sample, else 16.
    public enum Samples: Sendable, Equatable {
        case eightBit([UInt8])
        case sixteenBit([UInt16])

        public var count: Int {
            switch self {
            case .eightBit(let s): s.count
            case .sixteenBit(let s): s.count
            }
        }
    }

    public let width: Int
    public let height: Int
    public let layout: Layout
    /// The sample value of full intensity: 255 for 8-bit data, 65535 for 16-bit, or a PGM/PPM
    /// file's maxval (1...65535). Samples never exceed it.
    public let maxValue: Int
    /// width * height * layout.channels samples.
    public let samples: Samples

    /// Checks the sample count against the dimensions; nil if they disagree.
    public init?(width: Int, height: Int, layout: Layout, maxValue: Int, samples: Samples) {
        guard width > 0, height > 0, maxValue > 0, maxValue <= 65535 else { return nil }
        let (pixels, o1) = width.multipliedReportingOverflow(by: height)
        let (count, o2) = pixels.multipliedReportingOverflow(by: layout.channels)
        guard !o1, !o2, samples.count == count else { return nil }
        if case .eightBit = samples, maxValue > 255 { return nil }
        self.width = width
        self.height = height
        self.layout = layout
        self.maxValue = maxValue
        self.samples = samples
    }
}

/// Limits checked before any pixel memory is allocated (decompression bombs, hostile headers).
public struct ImageLimits: Sendable, Equatable {
    /// Largest width * height accepted (default 40 million pixels, e.g. 8000 x 5000).
    public var maxPixels: Int
    /// Largest width or height accepted (default 65,535).
    public var maxDimension: Int
    /// Largest encoded file accepted, in bytes (default 256 MiB).
    public var maxFileBytes: Int

    public init(maxPixels: Int = 40_000_000, maxDimension: Int = 65_535, maxFileBytes: Int = 256 << 20) {
        self.maxPixels = maxPixels
        self.maxDimension = maxDimension
        self.maxFileBytes = maxFileBytes
    }

    #if NNRT_FUZZ_IMAGE_LIMITS
    /// The fuzzing build's limits (scripts/fuzz.sh): 65,536 pixels (256 x 256), so that every
    /// input runs in milliseconds under AddressSanitizer and coverage (an image near 1 megapixel
    /// took 100-300 ms there; libwebp's fuzzers cap ASan builds at 1 MP / 18 for the same reason).
    /// The checks and the paths past them are the same; larger images are tested outside the fuzzer.
    public static let `default` = ImageLimits(maxPixels: 1 << 16)
    #else
    public static let `default` = ImageLimits()
    #endif
}

/// Why an image could not be read. `message` is a full sentence for the user, naming what was
/// wrong ("PNG: truncated after 812 of 2048 bytes" style); callers prefix the file name.
public struct ImageError: Error, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        /// The file or buffer holds zero bytes.
        case empty
        /// Not PNG, JPEG or PGM/PPM by its first bytes (e.g. a text file named .png).
        case unknownFormat
        /// The data ends before the image does.
        case truncated
        /// The data is damaged or violates its format (bad CRC, bad Huffman code, bad header).
        case corrupt
        /// Declared dimensions exceed ImageLimits (checked before allocation).
        case tooLarge
        /// A valid file using something this decoder does not handle (e.g. 12-bit JPEG).
        case unsupported
        /// The file cannot be opened or read (missing, a directory, permissions).
        case io
        /// Memory for the pixels could not be allocated.
        case outOfMemory
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
