// Validation of a whole model: every count, shape and value a runtime relies on. The codec runs
// it before encoding and after decoding, so a model that passes can be run without further
// checks. All shape arithmetic is overflow-checked; nothing here traps.

/// Checks that a model is complete and consistent enough to run.
///
/// Checks the format version, that there is at least one layer, that every dense layer has
/// `[in]`/`[out]` shapes, `[out, in]` weights and `[out]` bias holding exactly that many finite
/// floats, that consecutive layers agree, that there is one class label per output, that the input
/// contract's shape matches the first layer and its scale and offset are finite, and for an ensemble
/// that it has members which agree on input size and class labels.
/// - Throws: `ModelError` with `.unsupportedVersion`, `.badModel` or
///   `.unsupported`; messages name the member and layer ("layer 2 'fc2': ...").
public func validateModel(_ file: ModelFile) throws(ModelError) {
    try checkFormatVersion(file.formatVersion)
    switch file.body {
    case .network(let n):
        try validateNetwork(n, context: "")
    case .ensemble(let e):
        guard !e.members.isEmpty else { throw ModelError(.badModel, "ensemble '\(e.name)' has no members") }
        for (i, member) in e.members.enumerated() {
            try validateNetwork(member, context: "member \(i + 1) '\(member.name)': ")
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
func validateNetwork(_ n: NetworkModel, context: String) throws(ModelError) {
    guard !n.layers.isEmpty else {
        throw ModelError(.badModel, "\(context)network '\(n.name)' has no layers")
    }
    var previousOutput: Int?
    for (index, layer) in n.layers.enumerated() {
        let what = "\(context)layer \(index + 1) '\(layer.name)'"
        guard layer.kind == .dense else {
            throw ModelError(.unsupported, "\(what): layer kind \(layer.kind) is not supported")
        }
        guard layer.inputShape.count == 1, layer.inputShape[0] > 0 else {
            throw ModelError(.badModel, "\(what): dense input shape must be [in] with in > 0, found \(layer.inputShape)")
        }
        guard layer.outputShape.count == 1, layer.outputShape[0] > 0 else {
            throw ModelError(.badModel, "\(what): dense output shape must be [out] with out > 0, found \(layer.outputShape)")
        }
        let inputs = layer.inputShape[0], outputs = layer.outputShape[0]
        if let previousOutput, previousOutput != inputs {
            throw ModelError(.badModel,
                             "\(what): takes \(inputs) inputs but layer \(index) '\(n.layers[index - 1].name)' produces \(previousOutput)")
        }
        guard layer.weights.shape == [outputs, inputs] else {
            throw ModelError(.badModel, "\(what): weights shape is \(layer.weights.shape), expected [\(outputs), \(inputs)]")
        }
        guard let needed = checkedProduct(layer.weights.shape) else {
            throw ModelError(.badModel, "\(what): weights shape \(layer.weights.shape) overflows")
        }
        guard layer.weights.data.count == needed else {
            throw ModelError(.badModel,
                             "\(what): weights hold \(layer.weights.data.count) floats, shape \(layer.weights.shape) needs \(needed)")
        }
        guard layer.bias.shape == [outputs] else {
            throw ModelError(.badModel, "\(what): bias shape is \(layer.bias.shape), expected [\(outputs)]")
        }
        guard layer.bias.data.count == outputs else {
            throw ModelError(.badModel,
                             "\(what): bias holds \(layer.bias.data.count) floats, shape [\(outputs)] needs \(outputs)")
        }
        if let bad = layer.weights.data.firstIndex(where: { !$0.isFinite }) {
            throw ModelError(.badModel, "\(what): weight \(bad) is \(layer.weights.data[bad]) (weights must be finite)")
        }
        if let bad = layer.bias.data.firstIndex(where: { !$0.isFinite }) {
            throw ModelError(.badModel, "\(what): bias \(bad) is \(layer.bias.data[bad]) (biases must be finite)")
        }
        previousOutput = outputs
    }
    let outputSize = n.layers[n.layers.count - 1].outputShape[0]
    guard n.classLabels.count == outputSize else {
        throw ModelError(.badModel,
                         "\(context)network '\(n.name)': \(n.classLabels.count) class labels for \(outputSize) outputs")
    }
    let inputSize = n.layers[0].inputShape[0]
    let shape = n.input.shape
    guard !shape.isEmpty, shape.allSatisfy({ $0 > 0 }), let elements = checkedProduct(shape) else {
        throw ModelError(.badModel, "\(context)input contract: shape \(shape) is not a list of positive dimensions")
    }
    guard elements == inputSize else {
        throw ModelError(.badModel,
                         "\(context)input contract: shape \(shape) has \(elements) elements, layer 1 '\(n.layers[0].name)' takes \(inputSize) inputs")
    }
    guard n.input.scale.isFinite, n.input.offset.isFinite else {
        throw ModelError(.badModel,
                         "\(context)input contract: scale \(n.input.scale) and offset \(n.input.offset) must be finite")
    }
}
