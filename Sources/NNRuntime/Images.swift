// Image input: from an image (file, encoded bytes or pixels) to the model's input vector by the
// model's own input contract, and from image files to labels. Decoding and the MNIST-style
// normalisation live in NNImaging; this file maps them onto models and sessions.

import NNImaging
import NNModel

/// What preprocessing found about an image (the C API's NNRT_IMAGE_* bits).
public struct ImageFlags: OptionSet, Sendable, Equatable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    /// Dark ink on light paper, inverted to the network's polarity.
    public static let inverted = ImageFlags(rawValue: 1)
    /// No ink found: the input is an empty field.
    public static let blank = ImageFlags(rawValue: 2)
    /// Cropped, scaled and centred (the image was not already the field's size).
    public static let resized = ImageFlags(rawValue: 4)
}

/// The outcome for one image of `Session.classifyImages`.
public struct ImageClassification: Sendable, Equatable {
    /// The predicted class index, or -1 if the image could not be read.
    public var label: Int32
    /// The label's output: its probability for a softmax output, its share of the votes for a
    /// majority ensemble; 0 on error.
    public var confidence: Float
    public var flags: ImageFlags
    /// Why the image could not be classified, or nil.
    public var error: ModelError?

    public init(label: Int32 = -1, confidence: Float = 0, flags: ImageFlags = [], error: ModelError? = nil) {
        self.label = label
        self.confidence = confidence
        self.flags = flags
        self.error = error
    }
}

extension ModelError {
    /// An image error as a runtime status and message.
    public init(_ error: ImageError) {
        let code: StatusCode = switch error.code {
        case .empty, .truncated, .corrupt: .imageDecode
        case .unknownFormat: .imageFormat
        case .tooLarge: .imageTooLarge
        case .unsupported: .unsupported
        case .io: .io
        case .outOfMemory: .outOfMemory
        }
        self.init(code, error.message)
    }
}

extension Model {
    /// How this model normalises images: its input contract's image normalisation, mapped onto
    /// NNImaging's options. Throws `.unsupported` for a model that takes no images.
    public func digitNormalization() throws(ModelError) -> DigitNormalization {
        let shape = input.shape
        guard let image = input.effectiveImage, let plane = input.greyPlane else {
            throw ModelError(.unsupported,
                             "the model's input (shape \(shape)) has no image normalisation, so it cannot classify images")
        }
        guard plane.height == plane.width else {
            throw ModelError(.unsupported,
                             "the model's input field is \(plane.height)x\(plane.width); image normalisation needs a square field")
        }
        var options = DigitNormalization(fieldSize: plane.height, boxSize: image.boxSize)
        options.centering = image.centring == .centreOfMass ? .centerOfMass : .boundingBox
        return options
    }

    /// Writes the model's input vector for `image` (inputSize floats) into `row`: the image
    /// normalised by `options` (from `digitNormalization()`), turned to the network's polarity,
    /// and scaled by the input contract as raw 8-bit pixels are. An 8-bit grey image already of
    /// the field's size gives exactly what `predict(pixels:)` computes from the same bytes.
    func writeInput(_ image: RawImage, options: DigitNormalization, into row: UnsafeMutablePointer<Float>) -> ImageFlags {
        let digit = normalizeDigit(GreyImage(image), options)
        var flags: ImageFlags = []
        if digit.inverted { flags.insert(.inverted) }
        if !digit.inkFound { flags.insert(.blank) }
        if !digit.passedThrough { flags.insert(.resized) }
        let scale = input.scale, offset = input.offset
        let darkOnLight = input.polarity == .darkOnLight
        let count = min(inputSize, digit.pixels.count)
        if digit.passedThrough, image.layout == .grey, case .eightBit(let samples) = image.samples,
           samples.count == count {
            // The raw bytes themselves, as predict(pixels:) scales them.
            let invert = digit.inverted != darkOnLight
            for i in 0..<count {
                let p = invert ? 255 &- samples[i] : samples[i]
                row[i] = Float(p) * scale + offset
            }
        } else {
            // pixels: 0...1 with 1 = ink; as an 8-bit level p in the network's polarity.
            for i in 0..<count {
                let ink = digit.pixels[i]
                let p = (darkOnLight ? 1 - ink : ink) * 255
                row[i] = p * scale + offset
            }
        }
        if count < inputSize { (row + count).update(repeating: offset, count: inputSize - count) }
        return flags
    }

    /// The input vector for `image` (inputSize floats into `row`). Thread-safe.
    public func preprocess(_ image: RawImage, into row: UnsafeMutableBufferPointer<Float>) throws(ModelError) -> ImageFlags {
        let options = try digitNormalization()
        guard row.count >= inputSize, let p = row.baseAddress else {
            throw ModelError(.bufferTooSmall, "input holds \(row.count) floats; the model's input needs \(inputSize)")
        }
        return writeInput(image, options: options, into: p)
    }

    /// Classifies one decoded image: its label, and its output row into `outputs` (classCount
    /// floats) if given. Thread-safe.
    public func classify(_ image: RawImage, outputs: UnsafeMutableBufferPointer<Float>?) throws(ModelError) -> (label: Int32, flags: ImageFlags) {
        let options = try digitNormalization()
        if let outputs, outputs.count < classCount {
            throw ModelError(.bufferTooSmall, "outputs holds \(outputs.count) floats; one image needs \(classCount)")
        }
        var row = [Float](repeating: 0, count: inputSize)
        var label: Int32 = -1
        let flags = row.withUnsafeMutableBufferPointer { r in writeInput(image, options: options, into: r.baseAddress!) }
        try row.withUnsafeBufferPointer { r throws(ModelError) in
            try withUnsafeMutablePointer(to: &label) { l throws(ModelError) in
                try predict(r, count: 1, labels: UnsafeMutableBufferPointer(start: l, count: 1),
                            outputs: outputs.map { UnsafeMutableBufferPointer(rebasing: $0[0..<classCount]) })
            }
        }
        return (label, flags)
    }
}

extension Session {
    /// Images per block of `classifyImages`: decoded and preprocessed in parallel, then predicted
    /// as one batch. Bounds the memory of a long list (256 * 784 floats = 784 KiB for MNIST).
    static let imageBlock = 256

    /// The images of `count` that one block holds: at most `imageBlock`, and no more rows than
    /// `scratchBudget` floats hold (at least one), so a model with a large input field (up to
    /// `ModelLimits.maxLayerElements` values) does not make a block of gigabytes.
    static func imageBlockRows(count: Int, inputSize: Int) -> Int {
        max(1, min(count, imageBlock, scratchBudget / max(inputSize, 1)))
    }

    /// Classifies `count` images, image i produced by `load(i)` (reading and decoding a file,
    /// typically). Loading and preprocessing run on the session's threads in parallel, each
    /// thread taking the next image as it finishes one, so slow files do not hold up the
    /// others; then each block of images is predicted as a batch. A failing image gets its error
    /// in its result and a zero output row, and never stops the others. `outputs`, if given,
    /// holds count * classCount floats; `inputs`, if given, receives the count * inputSize floats
    /// the network saw (zero rows for failed images), e.g. to show them.
    /// - Throws: only for the call itself: `.unsupported` if the model takes no images,
    ///   `.bufferTooSmall` for short buffers (nothing written then).
    public func classifyImages(count: Int, load: (Int) throws(ImageError) -> RawImage,
                               results: UnsafeMutableBufferPointer<ImageClassification>,
                               outputs: UnsafeMutableBufferPointer<Float>?,
                               inputs: UnsafeMutableBufferPointer<Float>? = nil) throws(ModelError) {
        let options = try model.digitNormalization()
        let classes = model.classCount, inputSize = model.inputSize
        guard results.count >= count else {
            throw ModelError(.bufferTooSmall, "results holds \(results.count) entries; \(count) images need \(count)")
        }
        let (needed, overflow) = count.multipliedReportingOverflow(by: classes)
        if let outputs, overflow || outputs.count < needed {
            throw ModelError(.bufferTooSmall, "outputs holds \(outputs.count) floats; \(count) images need \(count) x \(classes)")
        }
        let (inputFloats, inputOverflow) = count.multipliedReportingOverflow(by: inputSize)
        if let inputs, inputOverflow || inputs.count < inputFloats {
            throw ModelError(.bufferTooSmall, "inputs holds \(inputs.count) floats; \(count) images need \(count) x \(inputSize)")
        }
        guard count > 0 else { return }
        let block = Self.imageBlockRows(count: count, inputSize: inputSize)
        var rows = [Float](repeating: 0, count: block * inputSize)
        var labels = [Int32](repeating: 0, count: block)
        var blockOutputs = [Float](repeating: 0, count: block * classes)
        let model = self.model
        var start = 0
        while start < count {
            let n = min(block, count - start)
            let base = start
            rows.withUnsafeMutableBufferPointer { r in
                let rowsBase = r.baseAddress!
                let slots = results
                forEachItem(n) { i, _ in
                    let row = rowsBase + i * inputSize
                    do throws(ImageError) {
                        let image = try load(base + i)
                        let flags = model.writeInput(image, options: options, into: row)
                        slots[base + i] = ImageClassification(flags: flags)
                    } catch {
                        row.update(repeating: 0, count: inputSize)
                        slots[base + i] = ImageClassification(error: ModelError(error))
                    }
                }
            }
            try rows.withUnsafeBufferPointer { r throws(ModelError) in
                try labels.withUnsafeMutableBufferPointer { l throws(ModelError) in
                    try blockOutputs.withUnsafeMutableBufferPointer { o throws(ModelError) in
                        try predict(UnsafeBufferPointer(rebasing: r[0..<(n * inputSize)]), count: n,
                                    labels: UnsafeMutableBufferPointer(rebasing: l[0..<n]),
                                    outputs: UnsafeMutableBufferPointer(rebasing: o[0..<(n * classes)]))
                    }
                }
            }
            if let inputs, let target = inputs.baseAddress {
                rows.withUnsafeBufferPointer { r in
                    (target + base * inputSize).update(from: r.baseAddress!, count: n * inputSize)
                }
            }
            for i in 0..<n {
                let out = blockOutputs[(i * classes)..<((i + 1) * classes)]
                if results[base + i].error == nil {
                    let label = labels[i]
                    results[base + i].label = label
                    results[base + i].confidence = label >= 0 && Int(label) < classes ? out[out.startIndex + Int(label)] : 0
                    if let outputs { for c in 0..<classes { outputs[(base + i) * classes + c] = out[out.startIndex + c] } }
                } else if let outputs {
                    for c in 0..<classes { outputs[(base + i) * classes + c] = 0 }
                }
            }
            start += n
        }
    }
}
