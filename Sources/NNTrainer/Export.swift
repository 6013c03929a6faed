// Conversion between the trainer's `Network` and the model format's `NetworkModel`, plus the
// provenance that records how a model was made. Files are written and read by NNModel's codec
// (`writeModelFile` / `readModelFile`).

import Foundation
import NNModel

extension Network {
    /// The network as a model. Each stage becomes one model layer, named by kind and position:
    /// dense layers "fc1", "fc2", ... (an MLP is exactly that, sigmoid), the softmax layer
    /// "softmax", convolutions "conv1", ... and pooling layers "pool1", .... A convPool layer is a
    /// conv2d layer with linear activation followed by a max_pool2d layer carrying the activation
    /// (the bias commutes with the max); dense layers keep their dropout probability, and the
    /// runtime scales W x by 1 - p as network3 does. Weights and biases are copied from the arena.
    ///
    /// - Parameters:
    ///   - name: the model's name (default "mnist-" and the sizes or architecture).
    ///   - classLabels: one per output; default "0", "1", ... (the digits for MNIST).
    ///   - input: the input contract (MNIST's by default).
    ///   - provenance: how the model was made (see `Provenance.training(...)`); its `epochs` are
    ///     replaced by this network's `history` when `history` is not empty, and an empty
    ///     hyper-parameter `architecture` is filled in for networks other than sigmoid MLPs.
    public func model(name: String = "", classLabels: [String]? = nil, input: InputContract = .mnist,
                      provenance: Provenance? = nil) -> NetworkModel {
        var layers: [Layer] = []
        var counts = (fc: 0, conv: 0, pool: 0)
        for st in stages {
            let v = st.parameterIndex.map { layout[$0] }
            let w = v.map { Array(parameters[$0.weightOffset ..< $0.weightOffset + $0.weightCount]) } ?? []
            let b = v.map { Array(parameters[$0.biasOffset ..< $0.biasOffset + $0.outFeatures]) } ?? []
            switch st.kind {
            case .dense:
                let layerName: String
                if st.activation == .softmax {
                    layerName = "softmax"
                } else {
                    counts.fc += 1
                    layerName = "fc\(counts.fc)"
                }
                layers.append(.dense(name: layerName, inputs: st.inCount, outputs: st.outCount, activation: st.activation,
                                     weights: w, bias: b, dropout: st.dropout))
            case .conv:
                counts.conv += 1
                layers.append(.conv2d(name: "conv\(counts.conv)", input: st.inShape, maps: st.outShape[0],
                                      kernel: [st.window, st.window], activation: st.activation, weights: w, bias: b))
            case .pool:
                counts.pool += 1
                layers.append(.maxPool2d(name: "pool\(counts.pool)", input: st.inShape, pool: [st.window, st.window],
                                         activation: st.activation))
            }
        }
        var prov = provenance
        if !history.isEmpty { prov?.epochs = history }
        if !isSigmoidMLP, prov?.hyperparameters?.architecture.isEmpty == true {
            prov?.hyperparameters?.architecture = architecture.description
        }
        let labels = classLabels ?? (0..<outputSize).map(String.init)
        let defaultName = isSigmoidMLP ? sizes.map(String.init).joined(separator: "-") : architecture.description
        return NetworkModel(name: name.isEmpty ? "mnist-" + defaultName : name, layers: layers, classLabels: labels,
                            input: input, cost: cost, provenance: prov)
    }

    /// A trainable network from a model, so a loaded model can continue training (its epoch
    /// history comes along, and further epochs are numbered after it). The inverse of `model`:
    /// dense layers become fc (softmax activation: the softmax output layer), a conv2d layer with
    /// linear activation followed by a max_pool2d layer becomes one convPool layer with the pooling
    /// layer's activation, other conv2d and max_pool2d layers become conv and pool layers. A network
    /// whose first layer is dense gets the flat input shape [n].
    ///
    /// - Throws: `TrainerError.unsupported` for non-square kernels or pooling windows, dropout on a
    ///   convolution or pooling layer, or a cost that does not go with the output layer;
    ///   `TrainerError.format` for inconsistent shapes or counts.
    public init(model: NetworkModel) throws(TrainerError) {
        guard !model.layers.isEmpty else {
            throw TrainerError(.format, "model '\(model.name)' has no layers")
        }
        var specs: [LayerSpec] = []
        var parameters: [Float] = []
        /// Per spec layer: the model layers it came from.
        var sources: [[Int]] = []
        var i = 0
        let layers = model.layers
        while i < layers.count {
            let layer = layers[i]
            let where_ = "model '\(model.name)' layer \(i + 1) '\(layer.name)'"
            guard layer.inputShape.allSatisfy({ $0 > 0 }), layer.outputShape.allSatisfy({ $0 > 0 }),
                  !layer.inputShape.isEmpty, !layer.outputShape.isEmpty,
                  layer.inputShape.count <= 3, layer.outputShape.count <= 3,
                  layer.inputShape.allSatisfy({ $0 < 1 << 24 }), layer.outputShape.allSatisfy({ $0 < 1 << 24 }) else {
                throw TrainerError(.format, "\(where_): input shape \(layer.inputShape) or output shape \(layer.outputShape) is empty or out of range")
            }
            guard layer.dropout.isFinite, layer.dropout >= 0, layer.dropout < 1 else {
                throw TrainerError(.format, "\(where_): dropout \(layer.dropout) is not in 0..<1")
            }
            if layer.kind != .dense && layer.dropout != 0 {
                throw TrainerError(.unsupported, "\(where_): dropout on a \(layer.kind.name) layer; the trainer drops the inputs of dense layers only")
            }
            func checkTensor(_ t: Tensor, _ shape: [Int], _ what: String) throws(TrainerError) {
                let count = shape.reduce(1, *)
                guard t.shape == shape, t.data.count == count else {
                    throw TrainerError(.format, "\(where_): \(what) have shape \(t.shape) and \(t.data.count) values, expected \(shape)")
                }
            }
            switch layer.kind {
            case .dense:
                let inputs = layer.inputShape.reduce(1, *), outputs = layer.outputShape.reduce(1, *)
                try checkTensor(layer.weights, [outputs, inputs], "weights")
                try checkTensor(layer.bias, [outputs], "bias")
                if layer.activation == .softmax {
                    guard i == layers.count - 1 else {
                        throw TrainerError(.unsupported, "\(where_): a softmax layer must be the last layer")
                    }
                    specs.append(.softmax(units: outputs, dropout: Double(layer.dropout)))
                } else {
                    specs.append(.dense(units: outputs, activation: layer.activation, dropout: Double(layer.dropout)))
                }
                parameters += layer.weights.data
                parameters += layer.bias.data
                sources.append([i])
            case .conv2d:
                guard layer.inputShape.count == 3, layer.weights.shape.count == 4 else {
                    throw TrainerError(.format, "\(where_): conv2d needs a [C, H, W] input and [M, C, KH, KW] weights, got \(layer.inputShape) and \(layer.weights.shape)")
                }
                let ws = layer.weights.shape
                guard ws[2] == ws[3] else {
                    throw TrainerError(.unsupported, "\(where_): kernel \(ws[2])x\(ws[3]) is not square; the trainer uses square kernels")
                }
                guard ws.allSatisfy({ $0 > 0 && $0 < 1 << 24 }), ws[1] == layer.inputShape[0] else {
                    throw TrainerError(.format, "\(where_): weights shape \(ws) does not fit the input \(layer.inputShape)")
                }
                try checkTensor(layer.weights, ws, "weights")
                try checkTensor(layer.bias, [ws[0]], "bias")
                guard layer.activation != .softmax else {
                    throw TrainerError(.unsupported, "\(where_): softmax on a convolution; softmax is only an output layer")
                }
                if layer.activation == .linear, i + 1 < layers.count, layers[i + 1].kind == .maxPool2d,
                   layers[i + 1].poolShape.count == 2, layers[i + 1].poolShape[0] == layers[i + 1].poolShape[1],
                   layers[i + 1].poolShape[0] > 0, layers[i + 1].dropout == 0, layers[i + 1].activation != .softmax {
                    specs.append(.convPool(maps: ws[0], kernel: ws[2], pool: layers[i + 1].poolShape[0],
                                           activation: layers[i + 1].activation))
                    sources.append([i, i + 1])
                    i += 1
                } else {
                    specs.append(.conv(maps: ws[0], kernel: ws[2], activation: layer.activation))
                    sources.append([i])
                }
                parameters += layer.weights.data
                parameters += layer.bias.data
            case .maxPool2d:
                guard layer.poolShape.count == 2, layer.poolShape[0] > 0 else {
                    throw TrainerError(.format, "\(where_): pool shape \(layer.poolShape) is not [PH, PW]")
                }
                guard layer.poolShape[0] == layer.poolShape[1] else {
                    throw TrainerError(.unsupported, "\(where_): pool \(layer.poolShape[0])x\(layer.poolShape[1]) is not square; the trainer uses square windows")
                }
                guard layer.activation != .softmax else {
                    throw TrainerError(.unsupported, "\(where_): softmax on a pooling layer; softmax is only an output layer")
                }
                guard layer.weights.data.isEmpty, layer.bias.data.isEmpty else {
                    throw TrainerError(.format, "\(where_): a max_pool2d layer has no weights or bias")
                }
                specs.append(.pool(size: layer.poolShape[0], activation: layer.activation))
                sources.append([i])
            }
            i += 1
        }
        let architecture = Architecture(inputShape: layers[0].inputShape, layers: specs)
        let stages: [Stage]
        do throws(TrainerError) {
            stages = try architecture.resolveStages()
        } catch {
            throw TrainerError(.format, "model '\(model.name)': \(error.message)")
        }
        // Every model layer's declared shapes must be the ones the architecture gives.
        let flat = sources.flatMap { $0 }
        for (s, st) in stages.enumerated() {
            let layer = layers[flat[s]]
            let where_ = "model '\(model.name)' layer \(flat[s] + 1) '\(layer.name)'"
            let inputOK = st.kind == .dense ? layer.inputShape.reduce(1, *) == st.inCount : layer.inputShape == st.inShape
            guard inputOK else {
                throw TrainerError(.format, "\(where_): takes input \(layer.inputShape) but the previous layer gives \(st.inShape)")
            }
            guard layer.outputShape == st.outShape else {
                throw TrainerError(.format, "\(where_): output shape \(layer.outputShape) should be \(st.outShape)")
            }
        }
        do throws(TrainerError) {
            try self.init(architecture: architecture, cost: model.cost, parameters: parameters,
                          history: model.provenance?.epochs ?? [])
        } catch {
            throw TrainerError(error.kind == .invalidArgument ? .format : error.kind, "model '\(model.name)': \(error.message)")
        }
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
    ///   - architecture: the network's architecture; written as the hyper-parameter `architecture`
    ///     unless it is a sigmoid MLP (whose `sizes` say it all).
    public static func training(config: TrainingConfig, sizes: [Int], cost: CostKind, trainingExamples: Int,
                                trainingSplit: String, evaluationSplit: String, history: [EpochMetrics],
                                command: String = "", date: Date = Date(),
                                architecture: Architecture? = nil) -> Provenance {
        var p = Provenance()
        p.dataset = "mnist"
        p.trainingSplit = trainingSplit
        p.evaluationSplit = evaluationSplit
        p.hyperparameters = Hyperparameters(sizes: sizes, cost: cost, eta: config.eta, lambda: config.lambda,
                                            miniBatchSize: config.miniBatchSize, epochs: config.epochs,
                                            weightInit: config.weightInit, trainingExamples: trainingExamples)
        if let architecture, !architecture.isSigmoidMLP {
            p.hyperparameters?.architecture = architecture.description
        }
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
