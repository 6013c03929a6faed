// The networks of network.py, network2.py and network3.py: fully connected layers (sigmoid,
// tanh, ReLU or linear, with optional dropout), convolution with max-pooling, and a softmax
// output layer; trained by mini-batch stochastic gradient descent with backpropagation.
//
// Goals: the book's algorithms and results, reproducibly (one explicit seed: the same seed gives
// the same bits), fast enough to run the book's experiments on a laptop CPU. Heavy networks
// split each mini-batch in two parts for two threads, always the same split whatever the thread
// count (Layers.swift, `Topology.partCount`). Non-goals: layers the book does not use, GPU.
//
// Parameters live in one contiguous arena of Float: for each layer with parameters, in order,
// its weights, then its biases. Dense: weights (units, in) row-major, biases (units);
// convolution: weights (maps, channels, kernel, kernel), biases (maps). Gradients (nablaW,
// nablaB) and momentum velocities use the same layout, so an SGD step is one pass over them.

import Foundation
import NNKernels
import NNModel

/// Where one layer's weights and biases sit in the parameter arena.
public struct LayerLayout: Sendable, Equatable {
    /// Inputs per neuron: the previous layer's size for a dense layer (sizes[l]), channels *
    /// kernel * kernel for a convolution.
    public var inFeatures: Int
    /// Neurons (dense) or feature maps (convolution): the number of biases.
    public var outFeatures: Int
    /// Offset of the (outFeatures, inFeatures) weight matrix.
    public var weightOffset: Int
    /// Offset of the (outFeatures) bias vector.
    public var biasOffset: Int
    /// Index of the layer in `architecture.layers`.
    public var layer: Int = 0

    /// Weights plus biases.
    public var parameterCount: Int { outFeatures * inFeatures + outFeatures }
    /// Number of weights.
    public var weightCount: Int { outFeatures * inFeatures }
}

/// A feed-forward network: e.g. the book's sigmoid MLP with `sizes` [784, 30, 10], or network3's
/// convpool20x5,convpool40x5,fc100,softmax10.
public struct Network: Sendable, Equatable {
    /// The layers and input shape.
    public let architecture: Architecture
    /// Values per layer, input first, as the book writes them ([784, 30, 10]); for convolution
    /// and pooling layers, the number of values in their [maps, height, width] output.
    public let sizes: [Int]
    /// The cost the network is trained with.
    public var cost: CostKind
    /// All weights and biases (see `layout`).
    public internal(set) var parameters: [Float]
    /// One entry per layer with parameters, input side first.
    public let layout: [LayerLayout]
    /// Metrics of every epoch trained so far, including epochs from a loaded model's provenance;
    /// further training numbers its epochs after these.
    public var history: [EpochMetrics]
    /// The architecture resolved into computation stages (one per model-format layer).
    let stages: [Stage]
    /// How many threads training and evaluation may use (1 or 2; default 2 on a machine with two
    /// or more cores). Results never depend on it: a heavy network's batches are always split in
    /// two parts whose gradients are summed in the same order (see `Topology.partCount`). Set 1
    /// when other threads are busy, e.g. while ensemble members train in parallel.
    public var threads: Int

    /// The number of threads a new network uses: 2, or 1 on a single-core machine.
    public static var defaultThreads: Int { min(2, max(1, ProcessInfo.processInfo.activeProcessorCount)) }

    /// Equal architecture, cost, parameters (bit for bit), history; `threads` is not compared.
    public static func == (a: Network, b: Network) -> Bool {
        a.architecture == b.architecture && a.cost == b.cost && a.history == b.history
            && a.parameters.map(\.bitPattern) == b.parameters.map(\.bitPattern)
    }

    /// A network with the given architecture and parameters.
    /// - Throws: `TrainerError` if the architecture does not validate, the cost does not go with
    ///   its output layer (see `CostKind.check(outputActivation:)`), or `parameters` has the
    ///   wrong count.
    public init(architecture: Architecture, cost: CostKind, parameters: [Float],
                history: [EpochMetrics] = []) throws(TrainerError) {
        let stages = try architecture.resolveStages()
        try cost.check(outputActivation: stages[stages.count - 1].activation)
        var layout: [LayerLayout] = []
        var offset = 0
        for st in stages {
            guard st.parameterIndex != nil else { continue }
            let inFeatures = st.kind == .conv ? st.inShape[0] * st.window * st.window : st.inCount
            let outFeatures = st.outShape[0]
            let w = outFeatures * inFeatures
            layout.append(LayerLayout(inFeatures: inFeatures, outFeatures: outFeatures, weightOffset: offset,
                                      biasOffset: offset + w, layer: st.specIndex))
            offset += w + outFeatures
        }
        guard parameters.count == offset else {
            throw TrainerError(.invalidArgument, "network '\(architecture.description)' has \(offset) parameters, got \(parameters.count)")
        }
        var sizes = [architecture.inputShape.reduce(1, *)]
        for st in stages where st.endsSpecLayer { sizes.append(st.outCount) }
        self.architecture = architecture
        self.sizes = sizes
        self.cost = cost
        self.parameters = parameters
        self.layout = layout
        self.history = history
        self.stages = stages
        self.threads = Network.defaultThreads
    }

    /// A sigmoid MLP (network.py / network2.py) with the given parameters.
    /// - Throws: `TrainerError` if sizes has fewer than two layers or a non-positive size, the cost
    ///   is not quadratic or cross-entropy, or `parameters` has the wrong count.
    public init(sizes: [Int], cost: CostKind, parameters: [Float], history: [EpochMetrics] = []) throws(TrainerError) {
        try Network.checkMLP(sizes: sizes, cost: cost)
        try self.init(architecture: .mlp(sizes: sizes), cost: cost, parameters: parameters, history: history)
    }

    /// A freshly initialised sigmoid MLP (network2.py's `__init__`): biases N(0, 1); weights
    /// N(0, 1/n_in) (`.scaledNormal`, `default_weight_initializer`) or N(0, 1) (`.standardNormal`,
    /// `large_weight_initializer`, as network.py). All biases are drawn first, then all weights,
    /// layer by layer, row by row.
    public init(sizes: [Int], cost: CostKind = .crossEntropy, weightInit: WeightInit = .scaledNormal,
                rng: inout SeededGenerator) throws(TrainerError) {
        try Network.checkMLP(sizes: sizes, cost: cost)
        try self.init(architecture: .mlp(sizes: sizes), cost: cost, weightInit: weightInit, rng: &rng)
    }

    /// A freshly initialised network (see `reinitialize`).
    /// - Throws: `TrainerError` if the architecture does not validate or the cost does not go with
    ///   its output layer.
    public init(architecture: Architecture, cost: CostKind, weightInit: WeightInit,
                rng: inout SeededGenerator) throws(TrainerError) {
        let stages = try architecture.resolveStages()
        var count = 0
        for st in stages where st.parameterIndex != nil {
            let fanIn = st.kind == .conv ? st.inShape[0] * st.window * st.window : st.inCount
            count += st.outShape[0] * fanIn + st.outShape[0]
        }
        try self.init(architecture: architecture, cost: cost, parameters: [Float](repeating: 0, count: count))
        reinitialize(weightInit, rng: &rng)
    }

    private static func checkMLP(sizes: [Int], cost: CostKind) throws(TrainerError) {
        guard sizes.count >= 2 else {
            throw TrainerError(.invalidArgument, "a network needs at least an input and an output layer, got sizes \(sizes)")
        }
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw TrainerError(.invalidArgument, "layer sizes must be positive, got \(sizes)")
        }
        guard cost.isTrainable else {
            throw TrainerError(.unsupported, "cost '\(cost.name)' needs a softmax output layer; sigmoid networks use quadratic or cross-entropy")
        }
    }

    /// Redraws every weight and bias and clears `history`. All biases are drawn first, layer by
    /// layer, then all weights, row by row:
    /// - `.standardNormal`: weights and biases N(0, 1) (network.py);
    /// - `.scaledNormal`: weights N(0, 1/n_in), n_in = inputs per neuron (channels * kernel² for
    ///   a convolution), biases N(0, 1) (network2.py's default);
    /// - `.network3`: weights N(0, 1/n_out), n_out = units for a dense layer and maps * kernel² /
    ///   pool area for a convolution, biases N(0, 1); a softmax layer's weights and biases are 0
    ///   (network3.py exactly).
    public mutating func reinitialize(_ weightInit: WeightInit, rng: inout SeededGenerator) {
        let layout = self.layout
        let specs = architecture.layers
        parameters.withUnsafeMutableBufferPointer { p in
            func zeroed(_ v: LayerLayout) -> Bool {
                if weightInit == .network3, case .softmax = specs[v.layer] { return true }
                return false
            }
            for v in layout {
                for j in 0..<v.outFeatures {
                    p[v.biasOffset + j] = zeroed(v) ? 0 : Float(rng.nextStandardNormal())
                }
            }
            for v in layout {
                let scale: Double
                switch weightInit {
                case .standardNormal:
                    scale = 1
                case .scaledNormal:
                    scale = 1 / Double(v.inFeatures).squareRoot()
                case .network3:
                    var nOut = Double(v.outFeatures)
                    switch specs[v.layer] {
                    case .convPool(let maps, let kernel, let pool, _):
                        nOut = Double(maps * kernel * kernel) / Double(pool * pool)
                    case .conv(let maps, let kernel, _):
                        nOut = Double(maps * kernel * kernel)
                    default:
                        break
                    }
                    scale = 1 / nOut.squareRoot()
                }
                for i in 0..<v.weightCount {
                    p[v.weightOffset + i] = zeroed(v) ? 0 : Float(rng.nextStandardNormal() * scale)
                }
            }
        }
        history = []
    }

    /// Number of layers with weights (sizes.count - 1 for an MLP).
    public var layerCount: Int { layout.count }
    /// Number of inputs.
    public var inputSize: Int { sizes[0] }
    /// Number of output neurons (classes).
    public var outputSize: Int { sizes[sizes.count - 1] }

    /// The weights of the `l`-th layer with parameters (0-based), (outFeatures, inFeatures) row-major.
    public func weights(layer l: Int) -> [Float] {
        let v = layout[l]
        return Array(parameters[v.weightOffset ..< v.weightOffset + v.weightCount])
    }

    /// The biases of the `l`-th layer with parameters (0-based), (outFeatures).
    public func biases(layer l: Int) -> [Float] {
        let v = layout[l]
        return Array(parameters[v.biasOffset ..< v.biasOffset + v.outFeatures])
    }

    /// Σ w² over every weight (not biases), in Double: the L2 term's ‖w‖².
    public var sumOfSquaredWeights: Double {
        var s = 0.0
        for v in layout {
            for i in v.weightOffset ..< v.weightOffset + v.weightCount {
                let w = Double(parameters[i])
                s += w * w
            }
        }
        return s
    }

    /// Σ |w| over every weight (not biases), in Double: the L1 term's ‖w‖₁.
    public var sumOfAbsoluteWeights: Double {
        var s = 0.0
        for v in layout {
            for i in v.weightOffset ..< v.weightOffset + v.weightCount { s += abs(Double(parameters[i])) }
        }
        return s
    }

    /// The output for one input vector (network.py's `feedforward`; dropout layers scale their
    /// input by 1 - p, as network3 does at inference).
    /// - Throws: `TrainerError.invalidArgument` if `input.count != inputSize`.
    public func feedforward(_ input: [Float]) throws(TrainerError) -> [Float] {
        guard input.count == inputSize else {
            throw TrainerError(.invalidArgument, "network expects \(inputSize) inputs, got \(input.count)")
        }
        let ws = try Workspace(stages: stages, inputCount: inputSize, batchCapacity: 1)
        input.withUnsafeBufferPointer { x in
            guard let base = x.baseAddress else { return }
            ws.input.update(from: base, count: x.count)
        }
        let topology = self.topology
        parameters.withUnsafeBufferPointer { p in
            guard let base = p.baseAddress else { return }
            topology.forward(base, ws, rows: 1, training: false, keepOutputZ: false)
        }
        // The workspace owns the memory the pointer points into: keep it alive until the copy is
        // made (Swift may release an object right after its last use, here `ws.output`).
        return withExtendedLifetime(ws) {
            Array(UnsafeBufferPointer(start: ws.output(stages.count - 1), count: outputSize))
        }
    }

    /// The gradient of the cost summed over the examples at `indices` of `data` (network2.py's
    /// `backprop` summed over a mini-batch): ∂C_x/∂w and ∂C_x/∂b, in the layout of `parameters`.
    /// Dropout layers are taken at inference (inputs scaled by 1 - p, no masks).
    public func gradient(on data: Dataset, indices: [Int]) throws(TrainerError) -> [Float] {
        try check(data)
        var nabla = [Float](repeating: 0, count: parameters.count)
        let ws = try Workspace(stages: stages, inputCount: inputSize, batchCapacity: max(1, indices.count))
        try ws.gather(data, indices[...])
        let topology = self.topology
        parameters.withUnsafeBufferPointer { p in
            nabla.withUnsafeMutableBufferPointer { n in
                guard let pb = p.baseAddress, let nb = n.baseAddress else { return }
                topology.backprop(pb, ws, rows: indices.count, training: false, nabla: nb)
            }
        }
        return nabla
    }

    /// True for network.py's and network2.py's networks: sigmoid fully connected layers without
    /// dropout (what network2.py's JSON format can hold).
    public var isSigmoidMLP: Bool { architecture.isSigmoidMLP }

    /// The stages, layout and cost, without the parameters.
    var topology: Topology { Topology(stages: stages, layout: layout, cost: cost) }

    /// Checks that `data` fits this network (input size, labels below the output size) and that
    /// the cost goes with the output layer (`cost` is settable).
    func check(_ data: Dataset) throws(TrainerError) {
        try cost.check(outputActivation: stages[stages.count - 1].activation)
        guard data.inputSize == inputSize else {
            throw TrainerError(.invalidArgument, "dataset '\(data.name)' has \(data.inputSize) inputs per example, the network expects \(inputSize)")
        }
        if let bad = data.labels.firstIndex(where: { Int($0) >= outputSize }) {
            throw TrainerError(.invalidArgument, "dataset '\(data.name)': label \(data.labels[bad]) of example \(bad) is not below the network's \(outputSize) outputs")
        }
    }
}
