/// Labelled examples for a classifier: `count` input vectors of `inputSize` floats, stored
/// contiguously (example i is `images[i*inputSize ..< (i+1)*inputSize]`), and one class label
/// per example. For MNIST, inputs are 784 pixels scaled to 0...1, white digit on black, as the
/// book's `mnist_loader` gives them.
public struct Dataset: Sendable, Equatable {
    /// A short description, e.g. "mnist:train[0:50000]"; written into model provenance.
    public var name: String
    /// Number of floats in one example.
    public let inputSize: Int
    /// (count, inputSize), row-major.
    public private(set) var images: [Float]
    /// (count), each a class index.
    public private(set) var labels: [UInt8]

    /// Number of examples.
    public var count: Int { labels.count }

    /// A dataset from contiguous inputs and their labels.
    /// - Throws: `TrainerError.invalidArgument` if `images.count != labels.count * inputSize`.
    public init(name: String = "", inputSize: Int, images: [Float], labels: [UInt8]) throws(TrainerError) {
        guard inputSize > 0 else {
            throw TrainerError(.invalidArgument, "dataset '\(name)': input size must be positive, got \(inputSize)")
        }
        guard images.count == labels.count * inputSize else {
            throw TrainerError(.invalidArgument,
                               "dataset '\(name)': \(images.count) input values do not make \(labels.count) examples of \(inputSize)")
        }
        self.name = name
        self.inputSize = inputSize
        self.images = images
        self.labels = labels
    }

    /// Builds a dataset from raw 8-bit pixels (count, inputSize), scaling each by 1/255 (the
    /// book's and `InputContract.mnist`'s scaling).
    public init(name: String = "", inputSize: Int, pixels: ArraySlice<UInt8>, labels: ArraySlice<UInt8>) throws(TrainerError) {
        guard inputSize > 0, pixels.count == labels.count * inputSize else {
            throw TrainerError(.invalidArgument,
                               "dataset '\(name)': \(pixels.count) pixels do not make \(labels.count) examples of \(inputSize)")
        }
        let scale: Float = 1.0 / 255.0
        let floats = [Float](unsafeUninitializedCapacity: pixels.count) { buf, initialized in
            pixels.withUnsafeBufferPointer { src in
                for i in 0..<src.count { buf[i] = Float(src[i]) * scale }
            }
            initialized = pixels.count
        }
        try self.init(name: name, inputSize: inputSize, images: floats, labels: Array(labels))
    }

    /// The input vector of example `i`.
    public func input(_ i: Int) -> ArraySlice<Float> {
        images[i * inputSize ..< (i + 1) * inputSize]
    }

    /// The examples in `range` (clamped to the dataset), named e.g. "name[a:b]".
    public func subset(_ range: Range<Int>) -> Dataset {
        let lo = max(0, min(range.lowerBound, count))
        let hi = max(lo, min(range.upperBound, count))
        var d = self
        d.images = Array(images[lo * inputSize ..< hi * inputSize])
        d.labels = Array(labels[lo..<hi])
        d.name = Dataset.sliceName(name, lo, hi)
        return d
    }

    /// "x[a:b]" sliced by lo..<hi becomes "x[a+lo:a+hi]"; any other name gets "[lo:hi]" appended.
    static func sliceName(_ name: String, _ lo: Int, _ hi: Int) -> String {
        if name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
            let inner = name[name.index(after: open) ..< name.index(before: name.endIndex)]
            let parts = inner.split(separator: ":", omittingEmptySubsequences: false)
            if parts.count == 2, let a = Int(parts[0]), Int(parts[1]) != nil {
                return "\(name[..<open])[\(a + lo):\(a + hi)]"
            }
        }
        return "\(name)[\(lo):\(hi)]"
    }

    /// The first `n` examples (all of them if n >= count).
    public func prefix(_ n: Int) -> Dataset {
        n >= count ? self : subset(0..<max(0, n))
    }

    /// The examples at `indices`, in that order.
    /// - Throws: `TrainerError.invalidArgument` for an index out of range.
    public func subset(indices: [Int]) throws(TrainerError) -> Dataset {
        var imgs = [Float]()
        imgs.reserveCapacity(indices.count * inputSize)
        var labs = [UInt8]()
        labs.reserveCapacity(indices.count)
        for i in indices {
            guard i >= 0, i < count else {
                throw TrainerError(.invalidArgument, "dataset '\(name)': index \(i) out of range 0..<\(count)")
            }
            imgs += images[i * inputSize ..< (i + 1) * inputSize]
            labs.append(labels[i])
        }
        return try Dataset(name: "\(name)[selected \(indices.count)]", inputSize: inputSize, images: imgs, labels: labs)
    }

    /// The largest label plus one (0 for an empty dataset).
    public var classCountFromLabels: Int { labels.max().map { Int($0) + 1 } ?? 0 }
}
