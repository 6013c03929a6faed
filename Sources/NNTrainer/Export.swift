// Conversion between the trainer's `Network` and the model format's `NetworkModel`, plus the
// provenance that records how a model was made. Files are written and read by NNModel's codec
// (`writeModelFile` / `readModelFile`).

import Foundation
import NNModel

extension Network {
    /// The network as a model: dense layers "fc1", "fc2", ... with sigmoid activation, weights
    /// (out, in) and biases (out) copied from the arena.
    ///
    /// - Parameters:
    ///   - name: the model's name.
    ///   - classLabels: one per output; default "0", "1", ... (the digits for MNIST).
    ///   - input: the input contract (MNIST's by default).
    ///   - provenance: how the model was made (see `Provenance.training(...)`); its `epochs` are
    ///     replaced by this network's `history` when `history` is not empty.
    public func model(name: String = "", classLabels: [String]? = nil, input: InputContract = .mnist,
                      provenance: Provenance? = nil) -> NetworkModel {
        var layers: [Layer] = []
        for (l, v) in layout.enumerated() {
            layers.append(.dense(name: "fc\(l + 1)", inputs: v.inFeatures, outputs: v.outFeatures,
                                 activation: .sigmoid, weights: weights(layer: l), bias: biases(layer: l)))
        }
        var prov = provenance
        if !history.isEmpty { prov?.epochs = history }
        let labels = classLabels ?? (0..<outputSize).map(String.init)
        let modelName = name.isEmpty ? "mnist-" + sizes.map(String.init).joined(separator: "-") : name
        return NetworkModel(name: modelName, layers: layers, classLabels: labels, input: input, cost: cost,
                            provenance: prov)
    }

    /// A trainable network from a model, so a loaded model can continue training (its epoch
    /// history comes along, and further epochs are numbered after it).
    ///
    /// - Throws: `TrainerError.unsupported` for a layer that is not dense or not sigmoid, or a
    ///   cost other than quadratic/cross-entropy; `TrainerError.format` for inconsistent shapes.
    public init(model: NetworkModel) throws(TrainerError) {
        guard !model.layers.isEmpty else {
            throw TrainerError(.format, "model '\(model.name)' has no layers")
        }
        var sizes: [Int] = []
        var parameters: [Float] = []
        for (i, layer) in model.layers.enumerated() {
            let where_ = "model '\(model.name)' layer \(i + 1) '\(layer.name)'"
            guard layer.kind == .dense else {
                throw TrainerError(.unsupported, "\(where_): kind \(layer.kind) is not dense; the trainer continues dense sigmoid networks only")
            }
            guard layer.activation == .sigmoid else {
                throw TrainerError(.unsupported, "\(where_): activation \(layer.activation.name) is not sigmoid; the trainer continues dense sigmoid networks only")
            }
            let inputs = layer.inputShape.reduce(1, *)
            let outputs = layer.outputShape.reduce(1, *)
            guard inputs > 0, outputs > 0 else {
                throw TrainerError(.format, "\(where_): empty input or output shape")
            }
            if i == 0 {
                sizes.append(inputs)
            } else if sizes[sizes.count - 1] != inputs {
                throw TrainerError(.format, "\(where_): takes \(inputs) inputs but the previous layer gives \(sizes[sizes.count - 1])")
            }
            guard layer.weights.shape == [outputs, inputs], layer.weights.data.count == outputs * inputs else {
                throw TrainerError(.format, "\(where_): weights have shape \(layer.weights.shape) and \(layer.weights.data.count) values, expected [\(outputs), \(inputs)]")
            }
            guard layer.bias.data.count == outputs, layer.bias.shape.reduce(1, *) == outputs else {
                throw TrainerError(.format, "\(where_): bias has shape \(layer.bias.shape) and \(layer.bias.data.count) values, expected [\(outputs)]")
            }
            sizes.append(outputs)
            parameters += layer.weights.data
            parameters += layer.bias.data
        }
        guard model.cost.isTrainable else {
            throw TrainerError(.unsupported, "model '\(model.name)': cost \(model.cost.name) is not trainable here (quadratic or cross-entropy only)")
        }
        try self.init(sizes: sizes, cost: model.cost, parameters: parameters,
                      history: model.provenance?.epochs ?? [])
    }
}

extension Provenance {
    /// The provenance of a training run on MNIST.
    ///
    /// - Parameters:
    ///   - config: the hyperparameters and seed used.
    ///   - sizes, cost: the trained network's (a continued model keeps its own).
    ///   - trainingExamples: n, the training set size.
    ///   - trainingSplit, evaluationSplit: e.g. "train[0:50000]", "t10k" ("" if none).
    ///   - history: every epoch's metrics.
    ///   - command: the command line that produced the model.
    ///   - date: the creation time, written as RFC 3339 UTC.
    public static func training(config: TrainingConfig, sizes: [Int], cost: CostKind, trainingExamples: Int,
                                trainingSplit: String, evaluationSplit: String, history: [EpochMetrics],
                                command: String = "", date: Date = Date()) -> Provenance {
        var p = Provenance()
        p.dataset = "mnist"
        p.trainingSplit = trainingSplit
        p.evaluationSplit = evaluationSplit
        p.hyperparameters = Hyperparameters(sizes: sizes, cost: cost, eta: config.eta, lambda: config.lambda,
                                            miniBatchSize: config.miniBatchSize, epochs: config.epochs,
                                            weightInit: config.weightInit, trainingExamples: trainingExamples)
        p.seed = config.seed
        p.epochs = history
        p.createdAt = rfc3339UTC(date)
        p.command = command
        p.preset = config.preset ?? ""
        return p
    }
}

/// `date` as RFC 3339 in UTC, to the second: "2026-11-29T04:23:21Z".
public func rfc3339UTC(_ date: Date) -> String {
    var t = time_t(date.timeIntervalSince1970.rounded(.down))
    var parts = tm()
    gmtime_r(&t, &parts)
    func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
    return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
}
