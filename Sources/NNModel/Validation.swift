// Validation of a whole model: every count, shape and value a runtime relies on. The codec runs
// it before encoding and after decoding, so a model that passes can be run without further
// checks. All shape arithmetic is overflow-checked; nothing here traps.

/// How much memory a model may ask of a runtime, per example. A layer's shapes are not bounded by
/// the file's size (a pooling layer has no weights, a convolution's few weights slide over its
/// whole input), so without these a file of a few hundred bytes could declare activations of
/// gigabytes. `validateModel` refuses larger models with `.unsupported`.
public enum ModelLimits {
    /// The most values a layer may take or produce per example: 2^24 = 16,777,216 floats
    /// (64 MiB; MNIST's largest layer holds 11,520).
    public static let maxLayerElements = 1 << 24
    /// The most values of a convolution's unrolled input per example, (C x KH x KW) x (OH x OW)
    /// floats (the im2col matrix the runtime multiplies): 2^26 = 67,108,864 (256 MiB).
    public static let maxConvolutionPatchElements = 1 << 26
}

/// Checks that a model is complete and consistent enough to run.
///
/// Checks the format version; that there is at least one layer; each layer by kind:
/// - dense: input of any shape with `in` = product(input shape) elements, output `[out]`, weights
///   `[out, in]`, bias `[out]`, 0 <= dropout < 1, no pool shape;
/// - conv2d: input `[C, H, W]`, weights `[M, C, KH, KW]` with 1 <= KH <= H and 1 <= KW <= W,
///   bias `[M]`, output `[M, H-KH+1, W-KW+1]`, no dropout, no pool shape, not softmax;
/// - max_pool2d: input `[C, H, W]`, pool shape `[PH, PW]` with 1 <= PH <= H and 1 <= PW <= W,
///   output `[C, H/PH, W/PW]`, no weights or bias, no dropout, not softmax;
/// that every tensor holds exactly product(shape) finite floats; that each layer takes as many
/// elements as the previous one produces; that there is one class label per output; that the
/// input contract's shape has as many elements as the first layer takes (and equals a conv or
/// pool first layer's input shape) and its scale and offset are finite; that a version-1 file uses
/// no version-2 feature; and for an ensemble that it has members which agree on input size and
/// class labels. All shape arithmetic is overflow-checked. Each layer must stay within
/// `ModelLimits` (its input, its output and a convolution's unrolled input).
/// - Throws: `ModelError` with `.unsupportedVersion`, `.badModel` or
///   `.unsupported`; messages name the member and layer ("layer 2 'fc2': ...").
public func validateModel(_ file: ModelFile) throws(ModelError) {
    try checkFormatVersion(file.formatVersion)
    switch file.body {
    case .network(let n):
        try validateNetwork(n, context: "", formatVersion: file.formatVersion)
    case .ensemble(let e):
        guard !e.members.isEmpty else { throw ModelError(.badModel, "ensemble '\(e.name)' has no members") }
        for (i, member) in e.members.enumerated() {
            try validateNetwork(member, context: "member \(i + 1) '\(member.name)': ", formatVersion: file.formatVersion)
        }
        let first = e.members[0]
        for (i, member) in e.members.enumerated().dropFirst() {
            if member.inputSize != first.inputSize {
                throw ModelError(.badModel,
                                 "ensemble '\(e.name)': member \(i + 1) '\(member.name)' takes \(member.inputSize) inputs, member 1 '\(first.name)' takes \(first.inputSize)")
            }
            if member.classLabels != first.classLabels {
                throw ModelError(.badModel,
                                 "ensemble '\(e.name)': member \(i + 1) '\(member.name)' has class labels \(describe(member.classLabels)), member 1 '\(first.name)' has \(describe(first.classLabels))")
            }
        }
    }
}

private func describe(_ labels: [String]) -> String {
    let shown = labels.prefix(12).map { "'\($0)'" }.joined(separator: ", ")
    return labels.count > 12 ? "[\(shown), ... (\(labels.count))]" : "[\(shown)]"
}

/// Validates one network; `context` prefixes messages (e.g. "member 2 'b': ").
func validateNetwork(_ n: NetworkModel, context: String, formatVersion: UInt32) throws(ModelError) {
    guard !n.layers.isEmpty else {
        throw ModelError(.badModel, "\(context)network '\(n.name)' has no layers")
    }
    var previousOutput: Int?
    for (index, layer) in n.layers.enumerated() {
        let what = "\(context)layer \(index + 1) '\(layer.name)'"
        if formatVersion < 2 && layer.needsVersion2 {
            let feature = layer.kind == .dense ? "dropout \(layer.dropout)" : "a \(layer.kind.name) layer"
            throw ModelError(.badModel,
                             "\(what): \(feature) needs format version 2, but the file says version \(formatVersion)")
        }
        let (inputs, outputs) = try validateLayer(layer, what: what)
        try checkLimits(layer, inputs: inputs, outputs: outputs, what: what)
        if let previousOutput, previousOutput != inputs {
            throw ModelError(.badModel,
                             "\(what): takes \(inputs) inputs but layer \(index) '\(n.layers[index - 1].name)' produces \(previousOutput)")
        }
        try checkFinite(layer.weights.data, what: what, name: "weight", plural: "weights")
        try checkFinite(layer.bias.data, what: what, name: "bias", plural: "biases")
        previousOutput = outputs
    }
    guard let outputSize = previousOutput else {
        throw ModelError(.internal, "\(context)network '\(n.name)': no layer output")
    }
    guard n.classLabels.count == outputSize else {
        throw ModelError(.badModel,
                         "\(context)network '\(n.name)': \(n.classLabels.count) class labels for \(outputSize) outputs")
    }
    let first = n.layers[0]
    let inputSize = checkedProduct(first.inputShape) ?? 0   // validated above
    let shape = n.input.shape
    guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }), let elements = checkedProduct(shape) else {
        throw ModelError(.badModel, "\(context)input contract: shape \(shape) is not a list of positive dimensions")
    }
    guard elements == inputSize else {
        throw ModelError(.badModel,
                         "\(context)input contract: shape \(shape) has \(elements) elements, layer 1 '\(first.name)' takes \(inputSize) inputs")
    }
    if first.kind != .dense && first.inputShape != shape {
        throw ModelError(.badModel,
                         "\(context)input contract: shape \(shape) differs from the input shape \(first.inputShape) of layer 1 '\(first.name)' (\(first.kind.name))")
    }
    guard n.input.scale.isFinite, n.input.offset.isFinite else {
        throw ModelError(.badModel,
                         "\(context)input contract: scale \(n.input.scale) and offset \(n.input.offset) must be finite")
    }
    if let image = n.input.image {
        // The recipe makes one grey plane.
        guard let plane = n.input.greyPlane else {
            throw ModelError(.badModel,
                             "\(context)input contract: image normalisation needs a one-channel (1, height, width) or (height, width) shape, not \(shape)")
        }
        let side = min(plane.height, plane.width)
        guard image.boxSize >= 1, image.boxSize <= side else {
            throw ModelError(.badModel,
                             "\(context)input contract: image box size \(image.boxSize) must be between 1 and the field's smaller side \(side)")
        }
    }
}

/// Checks a layer whose shapes are consistent against `ModelLimits`.
private func checkLimits(_ layer: Layer, inputs: Int, outputs: Int, what: String) throws(ModelError) {
    let limit = ModelLimits.maxLayerElements
    for (count, shape, side) in [(inputs, layer.inputShape, "input"), (outputs, layer.outputShape, "output")] where count > limit {
        throw ModelError(.unsupported,
                         "\(what): its \(side) \(shape) holds \(count) values per example, over this library's limit of \(limit) (2^24) per layer")
    }
    if layer.kind == .conv2d {
        // Shapes are validated: input [C, H, W], weights [M, C, KH, KW], output [M, OH, OW].
        let w = layer.weights.shape, o = layer.outputShape
        let patch = checkedProduct([w[1], w[2], w[3]]) ?? Int.max
        let positions = checkedProduct([o[1], o[2]]) ?? Int.max
        let (unrolled, overflow) = patch.multipliedReportingOverflow(by: positions)
        let patchLimit = ModelLimits.maxConvolutionPatchElements
        if overflow || unrolled > patchLimit {
            throw ModelError(.unsupported,
                             "\(what): its \(w[2])x\(w[3]) kernels over \(w[1]) channel\(w[1] == 1 ? "" : "s") at \(o[1])x\(o[2]) positions unroll to \(overflow ? "more than \(Int.max)" : String(unrolled)) values per example, over this library's limit of \(patchLimit) (2^26)")
        }
    }
}

private func checkFinite(_ values: [Float], what: String, name: String, plural: String) throws(ModelError) {
    if let bad = values.firstIndex(where: { !$0.isFinite }) {
        throw ModelError(.badModel, "\(what): \(name) \(bad) is \(values[bad]) (\(plural) must be finite)")
    }
}

/// Checks a tensor's shape against `expected` and its data against the shape's element count.
private func checkTensor(_ t: Tensor, expected: [Int], what: String, name: String) throws(ModelError) {
    guard t.shape == expected else {
        throw ModelError(.badModel, "\(what): \(name) shape is \(t.shape), expected \(expected)")
    }
    guard let needed = checkedProduct(t.shape) else {
        throw ModelError(.badModel, "\(what): \(name) shape \(t.shape) overflows")
    }
    guard t.data.count == needed else {
        throw ModelError(.badModel, "\(what): \(name) \(name == "bias" ? "holds" : "hold") \(t.data.count) floats, shape \(t.shape) needs \(needed)")
    }
}

/// Checks one layer by kind; returns its input and output element counts.
private func validateLayer(_ layer: Layer, what: String) throws(ModelError) -> (inputs: Int, outputs: Int) {
    guard layer.dropout.isFinite, layer.dropout >= 0, layer.dropout < 1 else {
        throw ModelError(.badModel, "\(what): dropout \(layer.dropout) is outside 0 <= p < 1")
    }
    switch layer.kind {
    case .dense:
        guard !layer.inputShape.isEmpty, layer.inputShape.allSatisfy({ $0 > 0 }),
              let inputs = checkedProduct(layer.inputShape) else {
            throw ModelError(.badModel,
                             "\(what): dense input shape must be a list of positive dimensions (flattened to [in]), found \(layer.inputShape)")
        }
        guard layer.outputShape.count == 1, layer.outputShape[0] > 0 else {
            throw ModelError(.badModel, "\(what): dense output shape must be [out] with out > 0, found \(layer.outputShape)")
        }
        guard layer.poolShape.isEmpty else {
            throw ModelError(.badModel, "\(what): a dense layer has no pool shape, found \(layer.poolShape)")
        }
        let outputs = layer.outputShape[0]
        try checkTensor(layer.weights, expected: [outputs, inputs], what: what, name: "weights")
        try checkTensor(layer.bias, expected: [outputs], what: what, name: "bias")
        return (inputs, outputs)

    case .conv2d:
        let (c, h, w) = try imageShape(layer, what: what)
        guard layer.weights.shape.count == 4 else {
            throw ModelError(.badModel, "\(what): conv2d weights shape must be [maps, \(c), KH, KW], found \(layer.weights.shape)")
        }
        let maps = layer.weights.shape[0], kh = layer.weights.shape[2], kw = layer.weights.shape[3]
        guard maps > 0, layer.weights.shape[1] == c else {
            throw ModelError(.badModel,
                             "\(what): conv2d weights shape \(layer.weights.shape) must be [maps, \(c), KH, KW] with maps > 0 (the input has \(c) channels)")
        }
        guard kh >= 1, kh <= h, kw >= 1, kw <= w else {
            throw ModelError(.badModel,
                             "\(what): conv2d kernel \(kh)x\(kw) must be at least 1x1 and fit the \(h)x\(w) input")
        }
        try checkTensor(layer.weights, expected: [maps, c, kh, kw], what: what, name: "weights")
        try checkTensor(layer.bias, expected: [maps], what: what, name: "bias")
        let expected = [maps, h - kh + 1, w - kw + 1]
        guard layer.outputShape == expected else {
            throw ModelError(.badModel, "\(what): conv2d output shape is \(layer.outputShape), expected \(expected)")
        }
        guard layer.dropout == 0 else {
            throw ModelError(.badModel, "\(what): dropout \(layer.dropout) on a conv2d layer (only dense layers have dropout)")
        }
        guard layer.poolShape.isEmpty else {
            throw ModelError(.badModel, "\(what): a conv2d layer has no pool shape, found \(layer.poolShape)")
        }
        guard layer.activation != .softmax else {
            throw ModelError(.badModel, "\(what): softmax is not allowed on a conv2d layer (only on dense layers)")
        }
        return try counts(layer, what: what)

    case .maxPool2d:
        let (c, h, w) = try imageShape(layer, what: what)
        guard layer.poolShape.count == 2, layer.poolShape[0] >= 1, layer.poolShape[1] >= 1,
              layer.poolShape[0] <= h, layer.poolShape[1] <= w else {
            throw ModelError(.badModel,
                             "\(what): max_pool2d pool shape must be [PH, PW] with 1 <= PH <= \(h) and 1 <= PW <= \(w), found \(layer.poolShape)")
        }
        let expected = [c, h / layer.poolShape[0], w / layer.poolShape[1]]
        guard layer.outputShape == expected else {
            throw ModelError(.badModel, "\(what): max_pool2d output shape is \(layer.outputShape), expected \(expected)")
        }
        for (t, name) in [(layer.weights, "weights"), (layer.bias, "bias")] where !(t.shape.isEmpty && t.data.isEmpty) {
            throw ModelError(.badModel,
                             "\(what): a max_pool2d layer has no \(name), but a \(name) tensor of shape \(t.shape) with \(t.data.count) floats is stored")
        }
        guard layer.dropout == 0 else {
            throw ModelError(.badModel, "\(what): dropout \(layer.dropout) on a max_pool2d layer (only dense layers have dropout)")
        }
        guard layer.activation != .softmax else {
            throw ModelError(.badModel, "\(what): softmax is not allowed on a max_pool2d layer (only on dense layers)")
        }
        return try counts(layer, what: what)
    }
}

/// The [C, H, W] input shape of a conv2d or max_pool2d layer, each dimension positive.
private func imageShape(_ layer: Layer, what: String) throws(ModelError) -> (Int, Int, Int) {
    guard layer.inputShape.count == 3, layer.inputShape.allSatisfy({ $0 > 0 }) else {
        throw ModelError(.badModel,
                         "\(what): \(layer.kind.name) input shape must be [C, H, W] with positive dimensions, found \(layer.inputShape)")
    }
    return (layer.inputShape[0], layer.inputShape[1], layer.inputShape[2])
}

/// Input and output element counts of a layer whose shapes are already checked.
private func counts(_ layer: Layer, what: String) throws(ModelError) -> (inputs: Int, outputs: Int) {
    guard let inputs = checkedProduct(layer.inputShape), let outputs = checkedProduct(layer.outputShape) else {
        throw ModelError(.badModel, "\(what): input shape \(layer.inputShape) or output shape \(layer.outputShape) overflows")
    }
    return (inputs, outputs)
}
