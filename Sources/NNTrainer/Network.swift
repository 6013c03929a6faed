// The network of network.py / network2.py: fully connected layers of sigmoid neurons, trained by
// mini-batch stochastic gradient descent with backpropagation.
//
// Goals: the book's algorithm and results, reproducibly (one explicit seed), fast enough to run
// the book's experiments on a laptop CPU. Non-goals: other layer kinds, GPU, multithreading
// (a single thread keeps every run bit-for-bit deterministic).
//
// Parameters live in one contiguous arena of Float: for each layer l (0-based, from sizes[l]
// inputs to sizes[l+1] outputs) its weights (sizes[l+1], sizes[l]) row-major, then its biases
// (sizes[l+1]). Gradients (nablaW, nablaB) use the same layout in a second arena, so an SGD step
// is one pass over both.

import NNKernels
import NNModel

/// Where one layer's weights and biases sit in the parameter arena.
public struct LayerLayout: Sendable, Equatable {
    /// Number of inputs (sizes[l]).
    public var inFeatures: Int
    /// Number of neurons (sizes[l+1]).
    public var outFeatures: Int
    /// Offset of the (outFeatures, inFeatures) weight matrix.
    public var weightOffset: Int
    /// Offset of the (outFeatures) bias vector.
    public var biasOffset: Int

    /// Weights plus biases.
    public var parameterCount: Int { outFeatures * inFeatures + outFeatures }
}

/// A feed-forward network of sigmoid neurons, e.g. `sizes` [784, 30, 10].
public struct Network: Sendable, Equatable {
    /// Neurons per layer, input layer first, as the book writes them.
    public let sizes: [Int]
    /// The cost the network is trained with (quadratic or cross-entropy).
    public var cost: CostKind
    /// All weights and biases (see `layout`).
    public internal(set) var parameters: [Float]
    /// One entry per weight layer (sizes.count - 1 of them).
    public let layout: [LayerLayout]
    /// Metrics of every epoch trained so far, including epochs from a loaded model's provenance;
    /// further training numbers its epochs after these.
    public var history: [EpochMetrics]

    /// A network with the given parameters.
    /// - Throws: `TrainerError` if sizes has fewer than two layers or a non-positive size, the cost
    ///   is not trainable, or `parameters` has the wrong count.
    public init(sizes: [Int], cost: CostKind, parameters: [Float], history: [EpochMetrics] = []) throws(TrainerError) {
        guard sizes.count >= 2 else {
            throw TrainerError(.invalidArgument, "a network needs at least an input and an output layer, got sizes \(sizes)")
        }
        guard sizes.allSatisfy({ $0 > 0 }) else {
            throw TrainerError(.invalidArgument, "layer sizes must be positive, got \(sizes)")
        }
        guard cost.isTrainable else {
            throw TrainerError(.unsupported, "cost '\(cost.name)' needs a softmax output layer; sigmoid networks use quadratic or cross-entropy")
        }
        var layout: [LayerLayout] = []
        var offset = 0
        for l in 0..<(sizes.count - 1) {
            let w = sizes[l + 1] * sizes[l]
            layout.append(LayerLayout(inFeatures: sizes[l], outFeatures: sizes[l + 1], weightOffset: offset, biasOffset: offset + w))
            offset += w + sizes[l + 1]
        }
        guard parameters.count == offset else {
            throw TrainerError(.invalidArgument, "network \(sizes) has \(offset) parameters, got \(parameters.count)")
        }
        self.sizes = sizes
        self.cost = cost
        self.parameters = parameters
        self.layout = layout
        self.history = history
    }

    /// A freshly initialised network (network2.py's `__init__`): biases N(0, 1); weights N(0, 1/n_in)
    /// (`.scaledNormal`, `default_weight_initializer`) or N(0, 1) (`.standardNormal`,
    /// `large_weight_initializer`, as network.py). All biases are drawn first, then all weights,
    /// layer by layer, row by row.
    public init(sizes: [Int], cost: CostKind = .crossEntropy, weightInit: WeightInit = .scaledNormal,
                rng: inout SeededGenerator) throws(TrainerError) {
        let count = zip(sizes, sizes.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
        try self.init(sizes: sizes, cost: cost, parameters: [Float](repeating: 0, count: count))
        reinitialize(weightInit, rng: &rng)
    }

    /// Redraws every weight and bias (see `init(sizes:cost:weightInit:rng:)`) and clears `history`.
    public mutating func reinitialize(_ weightInit: WeightInit, rng: inout SeededGenerator) {
        let layout = self.layout
        parameters.withUnsafeMutableBufferPointer { p in
            for layer in layout {
                for j in 0..<layer.outFeatures {
                    p[layer.biasOffset + j] = Float(rng.nextStandardNormal())
                }
            }
            for layer in layout {
                let scale = weightInit == .scaledNormal ? 1 / Double(layer.inFeatures).squareRoot() : 1
                for i in 0..<(layer.outFeatures * layer.inFeatures) {
                    p[layer.weightOffset + i] = Float(rng.nextStandardNormal() * scale)
                }
            }
        }
        history = []
    }

    /// Number of weight layers (sizes.count - 1).
    public var layerCount: Int { layout.count }
    /// Number of inputs.
    public var inputSize: Int { sizes[0] }
    /// Number of output neurons (classes).
    public var outputSize: Int { sizes[sizes.count - 1] }

    /// The weights of layer `l` (0-based), (sizes[l+1], sizes[l]) row-major.
    public func weights(layer l: Int) -> [Float] {
        let v = layout[l]
        return Array(parameters[v.weightOffset ..< v.weightOffset + v.outFeatures * v.inFeatures])
    }

    /// The biases of layer `l` (0-based), (sizes[l+1]).
    public func biases(layer l: Int) -> [Float] {
        let v = layout[l]
        return Array(parameters[v.biasOffset ..< v.biasOffset + v.outFeatures])
    }

    /// Σ w² over every weight (not biases), in Double: the L2 term's ‖w‖².
    public var sumOfSquaredWeights: Double {
        var s = 0.0
        for v in layout {
            for i in v.weightOffset ..< v.weightOffset + v.outFeatures * v.inFeatures {
                let w = Double(parameters[i])
                s += w * w
            }
        }
        return s
    }

    /// The output a = σ(w a' + b), layer by layer, for one input vector (`feedforward`).
    /// - Throws: `TrainerError.invalidArgument` if `input.count != inputSize`.
    public func feedforward(_ input: [Float]) throws(TrainerError) -> [Float] {
        guard input.count == inputSize else {
            throw TrainerError(.invalidArgument, "network expects \(inputSize) inputs, got \(input.count)")
        }
        let ws = Workspace(sizes: sizes, batchCapacity: 1)
        input.withUnsafeBufferPointer { ws.activation(0).update(from: $0.baseAddress!, count: input.count) }
        let topology = self.topology
        parameters.withUnsafeBufferPointer { p in topology.forward(p.baseAddress!, ws, rows: 1, keepOutputZ: false) }
        return Array(UnsafeBufferPointer(start: ws.activation(layerCount), count: outputSize))
    }

    /// The gradient of the cost summed over the examples at `indices` of `data` (network2.py's
    /// `backprop` summed over a mini-batch): ∂C_x/∂w and ∂C_x/∂b, in the layout of `parameters`.
    public func gradient(on data: Dataset, indices: [Int]) throws(TrainerError) -> [Float] {
        try check(data)
        var nabla = [Float](repeating: 0, count: parameters.count)
        let ws = Workspace(sizes: sizes, batchCapacity: max(1, indices.count))
        try ws.gather(data, indices[...])
        let topology = self.topology
        parameters.withUnsafeBufferPointer { p in
            nabla.withUnsafeMutableBufferPointer { n in
                ws.labels.withUnsafeBufferPointer { lab in
                    topology.backprop(p.baseAddress!, ws, rows: indices.count, labels: lab.baseAddress!, nabla: n.baseAddress!)
                }
            }
        }
        return nabla
    }

    /// The shape and cost, without the parameters (so the hot loop can hold it while it mutates
    /// `parameters` in place, without a copy-on-write copy).
    var topology: Topology { Topology(sizes: sizes, layout: layout, cost: cost) }

    /// Checks that `data` fits this network: input size and labels below the output size.
    func check(_ data: Dataset) throws(TrainerError) {
        guard data.inputSize == inputSize else {
            throw TrainerError(.invalidArgument, "dataset '\(data.name)' has \(data.inputSize) inputs per example, the network expects \(inputSize)")
        }
        if let bad = data.labels.firstIndex(where: { Int($0) >= outputSize }) {
            throw TrainerError(.invalidArgument, "dataset '\(data.name)': label \(data.labels[bad]) of example \(bad) is not below the network's \(outputSize) outputs")
        }
    }
}

// MARK: Batched forward and backward passes (the hot loop)

/// A network's layer sizes, arena layout and cost: everything the passes need but the parameters.
struct Topology: Sendable {
    let sizes: [Int]
    let layout: [LayerLayout]
    let cost: CostKind


    /// Forward pass for `rows` examples already in `ws.activation(0)`: for each layer,
    /// z = a'·wᵀ + b, a = σ(z). With `keepOutputZ`, the output layer's z is kept in `ws.outputZ`
    /// (evaluation computes the cost from z).
    func forward(_ p: UnsafePointer<Float>, _ ws: Workspace, rows: Int, keepOutputZ: Bool) {
        for (l, v) in layout.enumerated() {
            let out = ws.activation(l + 1)
            denseForward(input: ws.activation(l), batch: rows, inFeatures: v.inFeatures,
                         weights: p + v.weightOffset, bias: p + v.biasOffset, outFeatures: v.outFeatures,
                         output: out)
            if keepOutputZ && l == layout.count - 1 {
                ws.outputZ.update(from: out, count: rows * v.outFeatures)
            }
            activationForward(.sigmoid, out, rows: rows, width: v.outFeatures)
        }
    }

    /// Backpropagation for `rows` examples in `ws.activation(0)` with their `labels`: runs the
    /// forward pass, then adds ∂C_x/∂w and ∂C_x/∂b summed over the examples into `nabla` (same
    /// layout as `parameters`).
    func backprop(_ p: UnsafePointer<Float>, _ ws: Workspace, rows: Int, labels: UnsafePointer<UInt8>,
                  nabla: UnsafeMutablePointer<Float>) {
        forward(p, ws, rows: rows, keepOutputZ: false)
        let last = layout.count
        // (BP1) δ^L from the cost.
        cost.outputDelta(activations: ws.activation(last), labels: labels, rows: rows, width: sizes[last],
                         delta: ws.delta(last))
        var l = last - 1
        while l >= 0 {
            let v = layout[l]
            // (BP3) ∂C/∂b = δ, (BP4) ∂C/∂w_jk = a_k δ_j; and the first half of (BP2): (wᵀ δ).
            denseBackward(input: ws.activation(l), batch: rows, inFeatures: v.inFeatures,
                          weights: p + v.weightOffset, outFeatures: v.outFeatures,
                          delta: ws.delta(l + 1),
                          nablaW: nabla + v.weightOffset, nablaB: nabla + v.biasOffset,
                          inputDelta: l > 0 ? ws.delta(l) : nil)
            if l > 0 {
                // (BP2) δ^l = (w^{l+1}ᵀ δ^{l+1}) ⊙ σ'(z^l), with σ'(z) = a(1 − a).
                activationBackward(.sigmoid, activations: ws.activation(l), delta: ws.delta(l),
                                   count: rows * v.inFeatures)
            }
            l -= 1
        }
    }

}

/// Preallocated scratch for a batch: the inputs, every layer's activations and deltas, the
/// output layer's z and the labels. One is made per training run, so the hot loop allocates
/// nothing.
final class Workspace {
    let sizes: [Int]
    let batchCapacity: Int
    private let storage: UnsafeMutablePointer<Float>
    private let activationOffsets: [Int]
    private let deltaOffsets: [Int]
    let outputZ: UnsafeMutablePointer<Float>
    var labels: [UInt8]

    init(sizes: [Int], batchCapacity: Int) {
        self.sizes = sizes
        self.batchCapacity = batchCapacity
        var offset = 0
        var a: [Int] = []
        for s in sizes { a.append(offset); offset += s * batchCapacity }
        var d: [Int] = []
        for s in sizes { d.append(offset); offset += s * batchCapacity }
        let zOffset = offset
        offset += sizes[sizes.count - 1] * batchCapacity
        storage = .allocate(capacity: max(offset, 1))
        storage.initialize(repeating: 0, count: max(offset, 1))
        activationOffsets = a
        deltaOffsets = d
        outputZ = storage + zOffset
        labels = [UInt8](repeating: 0, count: batchCapacity)
    }

    deinit { storage.deallocate() }

    /// Activations of layer l, (batchCapacity, sizes[l]); layer 0 is the input.
    @inline(__always) func activation(_ l: Int) -> UnsafeMutablePointer<Float> { storage + activationOffsets[l] }
    /// δ of layer l, (batchCapacity, sizes[l]).
    @inline(__always) func delta(_ l: Int) -> UnsafeMutablePointer<Float> { storage + deltaOffsets[l] }

    /// Copies the examples at `indices` (at most batchCapacity) into the input rows and labels.
    func gather(_ data: Dataset, _ indices: ArraySlice<Int>) throws(TrainerError) {
        guard indices.count <= batchCapacity else {
            throw TrainerError(.invalidArgument, "batch of \(indices.count) exceeds the workspace's \(batchCapacity)")
        }
        let n = data.inputSize
        let dst = activation(0)
        try data.images.withUnsafeBufferPointer { (src) throws(TrainerError) in
            var r = 0
            for i in indices {
                guard i >= 0, i < data.count else {
                    throw TrainerError(.invalidArgument, "index \(i) out of range for dataset '\(data.name)' of \(data.count)")
                }
                (dst + r &* n).update(from: src.baseAddress! + i &* n, count: n)
                labels[r] = data.labels[i]
                r &+= 1
            }
        }
    }

    /// Copies examples start..<start+rows (contiguous) into the input rows and labels.
    func gatherContiguous(_ data: Dataset, start: Int, rows: Int) {
        let n = data.inputSize
        data.images.withUnsafeBufferPointer { src in
            activation(0).update(from: src.baseAddress! + start &* n, count: rows &* n)
        }
        for r in 0..<rows { labels[r] = data.labels[start &+ r] }
    }
}
