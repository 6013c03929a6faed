// Architectures: the layers of a network as network3.py composes them, written as a layer spec
// string ("convpool20x5,convpool40x5,fc100:relu,softmax10") and resolved into the shapes every
// layer sees.
//
// Grammar (comma-separated tokens, each a layer, input side first):
//   fc<units>[:<activation>][:drop<p>]        FullyConnectedLayer (input flattened)
//   softmax<units>[:drop<p>]                  SoftmaxLayer (output layer only)
//   convpool<maps>x<kernel>[p<pool>][:<act>]  ConvPoolLayer: act(maxpool(conv(x)) + b), pool 2 by default
//   conv<maps>x<kernel>[:<act>]               convolution alone: act(conv(x) + b)
//   pool<size>[:<act>]                        max-pooling alone
// Activations: sigmoid, tanh, relu, linear. A token without one gets the default activation
// (`parse`'s `defaultActivation`), except `pool`, which is linear unless told otherwise: pooling
// usually follows an already-activated convolution, and since every activation is monotone,
// "conv20x5,pool2" then computes exactly what "convpool20x5" does.

import NNModel

/// One layer of an architecture, as written in a layer spec string.
public enum LayerSpec: Sendable, Equatable {
    /// A fully connected layer of `units` neurons with `activation`, whose inputs (flattened) are
    /// dropped with probability `dropout` during training: "fc100", "fc100:relu", "fc1000:relu:drop0.5".
    case dense(units: Int, activation: Activation, dropout: Double)
    /// A softmax output layer of `units` neurons with dropout on its inputs: "softmax10",
    /// "softmax10:drop0.5".
    case softmax(units: Int, dropout: Double)
    /// network3's ConvPoolLayer: `maps` valid, stride-1 convolutions with `kernel` x `kernel`
    /// kernels, max-pooling over `pool` x `pool` windows, then `activation` of pooled + bias:
    /// "convpool20x5" (pool 2), "convpool40x5p2:relu".
    case convPool(maps: Int, kernel: Int, pool: Int, activation: Activation)
    /// A convolution without pooling: activation(conv(x) + b): "conv20x5:relu".
    case conv(maps: Int, kernel: Int, activation: Activation)
    /// Max-pooling over `size` x `size` windows, then `activation`: "pool2".
    case pool(size: Int, activation: Activation)

    /// Whether the layer has weights and biases.
    public var hasParameters: Bool {
        if case .pool = self { return false }
        return true
    }

    /// The probability with which training drops the layer's inputs (0 for convolution and pooling).
    public var dropout: Double {
        switch self {
        case .dense(_, _, let p), .softmax(_, let p): p
        default: 0
        }
    }

    /// The token for this layer in a spec string (see `Architecture.description`).
    public var token: String {
        func act(_ a: Activation, default d: Activation = .sigmoid) -> String { a == d ? "" : ":" + a.name }
        func drop(_ p: Double) -> String { p == 0 ? "" : ":drop\(formatProbability(p))" }
        switch self {
        case .dense(let units, let activation, let dropout):
            return "fc\(units)\(act(activation))\(drop(dropout))"
        case .softmax(let units, let dropout):
            return "softmax\(units)\(drop(dropout))"
        case .convPool(let maps, let kernel, let pool, let activation):
            return "convpool\(maps)x\(kernel)\(pool == 2 ? "" : "p\(pool)")\(act(activation))"
        case .conv(let maps, let kernel, let activation):
            return "conv\(maps)x\(kernel)\(act(activation))"
        case .pool(let size, let activation):
            return "pool\(size)\(act(activation, default: .linear))"
        }
    }
}

/// A probability as the shortest decimal that reads back as the same Double ("0.5", "0.25").
private func formatProbability(_ p: Double) -> String {
    var s = "\(p)"
    if s.hasSuffix(".0") { s.removeLast(2) }
    return s
}

/// The layers of a network and the shape of its input.
public struct Architecture: Sendable, Equatable, CustomStringConvertible {
    /// The shape of one example: [channels, height, width] ([1, 28, 28] for MNIST), or [n] for a
    /// network of fully connected layers only.
    public var inputShape: [Int]
    /// The layers, input side first.
    public var layers: [LayerSpec]

    /// An architecture; call `validate()` (or build a `Network`) to check that the shapes fit.
    public init(inputShape: [Int], layers: [LayerSpec]) {
        self.inputShape = inputShape
        self.layers = layers
    }

    /// Parses "convpool20x5,convpool40x5,fc100:relu,softmax10"; tokens without an activation
    /// suffix get `defaultActivation` (pooling tokens stay linear, see the grammar above); errors
    /// name the bad token. The result is validated (shapes fit, softmax only as the output layer).
    public static func parse(_ spec: String, inputShape: [Int] = [1, 28, 28],
                             defaultActivation: Activation = .sigmoid) throws(TrainerError) -> Architecture {
        let tokens = spec.split(separator: ",", omittingEmptySubsequences: false)
            .map { String($0.drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed()) }
        guard !spec.isEmpty, !tokens.isEmpty else {
            throw TrainerError(.invalidArgument, "layer spec is empty (e.g. \"convpool20x5,fc100,softmax10\")")
        }
        var layers: [LayerSpec] = []
        for (i, token) in tokens.enumerated() {
            layers.append(try parseToken(token, position: i + 1, defaultActivation: defaultActivation))
        }
        let a = Architecture(inputShape: inputShape, layers: layers)
        try a.validate()
        return a
    }

    /// The book's MLP: sizes [784, 30, 10] -> dense layers with `activation`.
    public static func mlp(sizes: [Int], activation: Activation = .sigmoid) -> Architecture {
        Architecture(inputShape: [sizes.first ?? 0],
                     layers: sizes.dropFirst().map { .dense(units: $0, activation: activation, dropout: 0) })
    }

    /// Canonical spec string (parse(description) == self, for the default input shape or a flat
    /// one matching `Architecture.mlp`, whose input shape `parse` cannot see). Activations equal to
    /// `parse`'s default are left out, as are pool 2 in convpool and dropout 0.
    public var description: String { layers.map(\.token).joined(separator: ",") }

    /// True for a network of sigmoid fully connected layers without dropout: network.py's and
    /// network2.py's networks (what network2.py's JSON format can hold).
    public var isSigmoidMLP: Bool {
        inputShape.count == 1 && layers.allSatisfy {
            if case .dense(_, .sigmoid, 0) = $0 { return true }
            return false
        }
    }

    /// The book's `sizes` ([784, 30, 10]): the input size, then each layer's number of outputs.
    public var sizes: [Int] {
        guard let stages = try? resolveStages() else { return [] }
        var s = [inputShape.reduce(1, *)]
        for st in stages where st.endsSpecLayer { s.append(st.outCount) }
        return s
    }

    /// The number of trainable parameters (weights and biases of every layer).
    /// - Throws: what `validate()` throws.
    public func parameterCount() throws(TrainerError) -> Int {
        var count = 0
        for st in try resolveStages() where st.parameterIndex != nil {
            let fanIn = st.kind == .conv ? st.inShape[0] * st.window * st.window : st.inCount
            count += st.outShape[0] * fanIn + st.outShape[0]
        }
        return count
    }

    /// Checks that every layer fits the shape it receives: positive sizes, kernels no larger than
    /// their input, pooling windows that fit, convolution and pooling only on [C, H, W] inputs,
    /// dropout in 0..<1, softmax only as the last layer.
    /// - Throws: `TrainerError.invalidArgument` naming the layer (1-based) and its token.
    public func validate() throws(TrainerError) {
        _ = try resolveStages()
    }

    /// Parses one token.
    private static func parseToken(_ token: String, position: Int,
                                   defaultActivation: Activation) throws(TrainerError) -> LayerSpec {
        func bad(_ why: String) -> TrainerError {
            TrainerError(.invalidArgument, "layer \(position) '\(token)': \(why)")
        }
        let parts = token.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let head = parts[0].lowercased()
        var activation: Activation?
        var dropout: Double?
        for part in parts.dropFirst() {
            let p = part.lowercased()
            if p.hasPrefix("drop") {
                guard dropout == nil else { throw bad("dropout given twice") }
                guard let v = Double(p.dropFirst(4)), v.isFinite, v >= 0, v < 1 else {
                    throw bad("dropout '\(part)' must be drop<p> with 0 <= p < 1, e.g. drop0.5")
                }
                dropout = v
            } else if let a = Activation.allCases.first(where: { $0.name == p && $0 != .softmax }) {
                guard activation == nil else { throw bad("activation given twice") }
                activation = a
            } else {
                throw bad("unknown suffix '\(part)' (activations: sigmoid, tanh, relu, linear; dropout: drop<p>)")
            }
        }
        func number(_ s: Substring, _ what: String) throws(TrainerError) -> Int {
            guard let v = Int(s), v > 0 else { throw bad("\(what) '\(s)' must be a positive integer") }
            return v
        }
        func noDropout() throws(TrainerError) {
            if dropout != nil { throw bad("dropout applies to fc and softmax layers only") }
        }
        /// "<maps>x<kernel>" plus an optional "p<pool>" tail.
        func geometry(_ rest: Substring, allowPool: Bool) throws(TrainerError) -> (Int, Int, Int?) {
            var body = rest
            var pool: Int?
            if allowPool, let p = body.firstIndex(of: "p") {
                pool = try number(body[body.index(after: p)...], "pool size")
                body = body[..<p]
            }
            let mk = body.split(separator: "x", omittingEmptySubsequences: false)
            guard mk.count == 2 else { throw bad("expected <maps>x<kernel>, e.g. \(allowPool ? "convpool20x5" : "conv20x5")") }
            return (try number(mk[0], "number of feature maps"), try number(mk[1], "kernel size"), pool)
        }
        if head.hasPrefix("softmax") {
            guard activation == nil else { throw bad("a softmax layer takes no activation suffix") }
            return .softmax(units: try number(head.dropFirst(7), "number of units"), dropout: dropout ?? 0)
        } else if head.hasPrefix("fc") {
            return .dense(units: try number(head.dropFirst(2), "number of units"),
                          activation: activation ?? defaultActivation, dropout: dropout ?? 0)
        } else if head.hasPrefix("convpool") {
            try noDropout()
            let (maps, kernel, pool) = try geometry(head.dropFirst(8), allowPool: true)
            return .convPool(maps: maps, kernel: kernel, pool: pool ?? 2, activation: activation ?? defaultActivation)
        } else if head.hasPrefix("conv") {
            try noDropout()
            let (maps, kernel, _) = try geometry(head.dropFirst(4), allowPool: false)
            return .conv(maps: maps, kernel: kernel, activation: activation ?? defaultActivation)
        } else if head.hasPrefix("pool") {
            try noDropout()
            return .pool(size: try number(head.dropFirst(4), "pool size"), activation: activation ?? .linear)
        }
        throw bad("unknown layer kind (use fc<units>, softmax<units>, convpool<maps>x<kernel>, conv<maps>x<kernel> or pool<size>)")
    }
}

// MARK: Resolution into stages

/// One computation step of a resolved architecture. A `convPool` layer is two stages (a linear
/// convolution with its bias, then pooling with the activation; the bias commutes with the max),
/// every other layer one. Stages correspond one to one to the model format's layers.
struct Stage: Sendable, Equatable {
    enum Kind: Sendable, Equatable { case dense, conv, pool }
    var kind: Kind
    /// Index of the `LayerSpec` this stage belongs to.
    var specIndex: Int
    /// True for the stage that produces its spec layer's output (the pool stage of a convPool).
    var endsSpecLayer: Bool
    /// [C, H, W] for convolution and pooling, the incoming shape (any rank) for dense.
    var inShape: [Int]
    /// [M, OH, OW] (conv), [C, H/P, W/P] (pool) or [units] (dense).
    var outShape: [Int]
    /// Applied to the stage's output; `.softmax` for a softmax layer.
    var activation: Activation
    /// Dense only: the probability of dropping each input during training.
    var dropout: Float
    /// Conv: kernel size; pool: window size; dense: 0.
    var window: Int
    /// Index into the network's `layout` for stages with parameters.
    var parameterIndex: Int?

    var inCount: Int { inShape.reduce(1, &*) }
    var outCount: Int { outShape.reduce(1, &*) }
    /// The activation as the kernels number it.
    var function: ActivationKernel { ActivationKernel(activation) }
}

import NNKernels

/// `NNKernels.ActivationFunction` for a model `Activation` (same numbering).
typealias ActivationKernel = ActivationFunction
extension ActivationFunction {
    init(_ a: Activation) {
        switch a {
        case .sigmoid: self = .sigmoid
        case .tanh: self = .tanh
        case .relu: self = .relu
        case .linear: self = .linear
        case .softmax: self = .softmax
        }
    }
}

extension Architecture {
    /// The stages, with every shape worked out and checked (see `validate()`).
    func resolveStages() throws(TrainerError) -> [Stage] {
        guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 }) else {
            throw TrainerError(.invalidArgument, "input shape \(inputShape) must be a list of positive dimensions")
        }
        guard !layers.isEmpty else {
            throw TrainerError(.invalidArgument, "an architecture needs at least one layer")
        }
        guard inputShape.reduce(1, { $0.multipliedReportingOverflow(by: $1).partialValue }) < 1 << 31 else {
            throw TrainerError(.invalidArgument, "input shape \(inputShape) is too large")
        }
        var stages: [Stage] = []
        var shape = inputShape
        var parameterLayers = 0
        for (i, layer) in layers.enumerated() {
            func bad(_ why: String) -> TrainerError {
                TrainerError(.invalidArgument, "layer \(i + 1) '\(layer.token)': \(why)")
            }
            func image() throws(TrainerError) -> (Int, Int, Int) {
                guard shape.count == 3 else {
                    throw bad("convolution and pooling need a [channels, height, width] input, got \(shape)"
                              + (i == 0 ? " (give the input shape, e.g. [1, 28, 28])" : ""))
                }
                return (shape[0], shape[1], shape[2])
            }
            let limit = 1 << 24
            switch layer {
            case .dense, .softmax:
                let units: Int, dropout: Double, act: Activation
                switch layer {
                case .dense(let u, let a, let d): (units, act, dropout) = (u, a, d)
                case .softmax(let u, let d): (units, act, dropout) = (u, .softmax, d)
                default: (units, act, dropout) = (0, .linear, 0)
                }
                guard units > 0, units <= limit else { throw bad("number of units must be in 1...\(limit)") }
                guard dropout.isFinite, dropout >= 0, dropout < 1 else { throw bad("dropout \(dropout) must be in 0..<1") }
                if act == .softmax, case .dense = layer { throw bad("softmax is only an output layer (softmax<units>)") }
                if act == .softmax && i != layers.count - 1 { throw bad("a softmax layer must be the last layer") }
                let inCount = shape.reduce(1, *)
                guard inCount.multipliedReportingOverflow(by: units).partialValue <= 1 << 30 else {
                    throw bad("\(inCount) x \(units) weights are too many")
                }
                stages.append(Stage(kind: .dense, specIndex: i, endsSpecLayer: true, inShape: shape, outShape: [units],
                                    activation: act, dropout: Float(dropout), window: 0, parameterIndex: parameterLayers))
                parameterLayers += 1
                shape = [units]
            case .conv(let maps, let kernel, let activation), .convPool(let maps, let kernel, _, let activation):
                let (c, h, w) = try image()
                guard activation != .softmax else { throw bad("softmax is only an output layer") }
                guard maps > 0, maps <= limit else { throw bad("number of feature maps must be in 1...\(limit)") }
                guard kernel > 0, kernel <= h, kernel <= w else {
                    throw bad("a \(kernel)x\(kernel) kernel does not fit the \(h)x\(w) input")
                }
                let convOut = [maps, h - kernel + 1, w - kernel + 1]
                if case .convPool(_, _, let pool, _) = layer {
                    guard pool > 0, pool <= convOut[1], pool <= convOut[2] else {
                        throw bad("a \(pool)x\(pool) pool does not fit the \(convOut[1])x\(convOut[2]) convolution output")
                    }
                    stages.append(Stage(kind: .conv, specIndex: i, endsSpecLayer: false, inShape: [c, h, w], outShape: convOut,
                                        activation: .linear, dropout: 0, window: kernel, parameterIndex: parameterLayers))
                    shape = [maps, convOut[1] / pool, convOut[2] / pool]
                    stages.append(Stage(kind: .pool, specIndex: i, endsSpecLayer: true, inShape: convOut, outShape: shape,
                                        activation: activation, dropout: 0, window: pool, parameterIndex: nil))
                } else {
                    stages.append(Stage(kind: .conv, specIndex: i, endsSpecLayer: true, inShape: [c, h, w], outShape: convOut,
                                        activation: activation, dropout: 0, window: kernel, parameterIndex: parameterLayers))
                    shape = convOut
                }
                parameterLayers += 1
            case .pool(let size, let activation):
                let (c, h, w) = try image()
                guard activation != .softmax else { throw bad("softmax is only an output layer") }
                guard size > 0, size <= h, size <= w else { throw bad("a \(size)x\(size) pool does not fit the \(h)x\(w) input") }
                shape = [c, h / size, w / size]
                stages.append(Stage(kind: .pool, specIndex: i, endsSpecLayer: true, inShape: [c, h, w], outShape: shape,
                                    activation: activation, dropout: 0, window: size, parameterIndex: nil))
            }
        }
        guard parameterLayers > 0 else {
            throw TrainerError(.invalidArgument, "architecture '\(description)' has no layer with weights")
        }
        return stages
    }
}
