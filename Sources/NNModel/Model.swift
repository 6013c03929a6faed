// The in-memory form of an nnrt model file (Sources/CModelProto/nnrt.proto), shared by the
// trainer (which builds and exports it) and the runtime (which loads and runs it).
//
// These types mirror the .proto one to one; ModelCodec.swift converts between them and the
// protobuf encoding, and Validation.swift checks every count and shape. No Foundation here: the
// runtime library links this module.

/// The format version this code writes, and the range of versions it reads.
public enum FormatVersion {
    public static let current: UInt32 = 1
    public static let oldestReadable: UInt32 = 1
    public static let newestReadable: UInt32 = 1
    /// The value of `ModelFile.identifier` in every nnrt model file.
    public static let identifier = "nnrt-model"
}

/// The producer written into models made by this code.
public enum NNRTVersion {
    public static let major = 0
    public static let minor = 1
    public static let patch = 0
    public static let string = "\(major).\(minor).\(patch)"
}

public enum LayerKind: Int32, Sendable, CaseIterable {
    case dense = 1
}

public enum Activation: Int32, Sendable, CaseIterable {
    case sigmoid = 1, tanh = 2, relu = 3, linear = 4, softmax = 5

    public var name: String {
        switch self {
        case .sigmoid: "sigmoid"
        case .tanh: "tanh"
        case .relu: "relu"
        case .linear: "linear"
        case .softmax: "softmax"
        }
    }
}

public enum Polarity: Int32, Sendable {
    /// MNIST: white digit on black.
    case lightOnDark = 1
    /// Dark ink on light paper.
    case darkOnLight = 2
}

public enum CostKind: Int32, Sendable, CaseIterable {
    case quadratic = 1, crossEntropy = 2, logLikelihood = 3

    /// The name used on the command line and in network2.py's JSON ("QuadraticCost" there).
    public var name: String {
        switch self {
        case .quadratic: "quadratic"
        case .crossEntropy: "cross-entropy"
        case .logLikelihood: "log-likelihood"
        }
    }
}

public enum WeightInit: Int32, Sendable, CaseIterable {
    /// Weights and biases N(0, 1), as network.py and network2.py's `large_weight_initializer`.
    case standardNormal = 1
    /// Weights N(0, 1/n_in), biases N(0, 1): network2.py's `default_weight_initializer`.
    case scaledNormal = 2

    public var name: String {
        switch self {
        case .standardNormal: "standard-normal"
        case .scaledNormal: "scaled-normal"
        }
    }
}

public enum VotingRule: Int32, Sendable, CaseIterable {
    /// Majority vote of the members' labels; ties go to the tied label with the largest output
    /// summed over all members, then to the smallest class index.
    case majority = 1
    /// Argmax of the mean of the members' outputs (smallest index on ties).
    case meanProbability = 2

    public var name: String {
        switch self {
        case .majority: "majority"
        case .meanProbability: "mean-probability"
        }
    }
}

/// A dense row-major float tensor.
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }
}

/// One layer. Dense: `weights` is [out, in], `bias` is [out], output = activation(W x + b).
public struct Layer: Sendable, Equatable {
    public var name: String
    public var kind: LayerKind
    public var inputShape: [Int]
    public var outputShape: [Int]
    public var activation: Activation
    public var weights: Tensor
    public var bias: Tensor

    public init(name: String, kind: LayerKind = .dense, inputShape: [Int], outputShape: [Int],
                activation: Activation, weights: Tensor, bias: Tensor) {
        self.name = name
        self.kind = kind
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.activation = activation
        self.weights = weights
        self.bias = bias
    }

    /// A dense layer from `inputs` to `outputs` units.
    public static func dense(name: String, inputs: Int, outputs: Int, activation: Activation,
                             weights: [Float], bias: [Float]) -> Layer {
        Layer(name: name, kind: .dense, inputShape: [inputs], outputShape: [outputs],
              activation: activation,
              weights: Tensor(shape: [outputs, inputs], data: weights),
              bias: Tensor(shape: [outputs], data: bias))
    }
}

/// How raw pixels become the network's input vector.
public struct InputContract: Sendable, Equatable {
    /// Channels, height, width of one example (MNIST: [1, 28, 28]).
    public var shape: [Int]
    /// A raw 8-bit pixel p becomes p * scale + offset.
    public var scale: Float
    public var offset: Float
    public var polarity: Polarity

    public init(shape: [Int], scale: Float, offset: Float, polarity: Polarity) {
        self.shape = shape
        self.scale = scale
        self.offset = offset
        self.polarity = polarity
    }

    /// MNIST as the book feeds it: 28x28, white on black, pixels scaled to 0...1.
    public static let mnist = InputContract(shape: [1, 28, 28], scale: 1.0 / 255.0, offset: 0,
                                            polarity: .lightOnDark)

    public var elementCount: Int { shape.reduce(1, *) }
}

/// Cost and accuracy on one data split; each figure is nil when it was not measured.
public struct SplitMetrics: Sendable, Equatable {
    public var total: Int
    public var cost: Double?
    public var correct: Int?

    public init(total: Int, cost: Double? = nil, correct: Int? = nil) {
        self.total = total
        self.cost = cost
        self.correct = correct
    }

    /// correct / total, or nil.
    public var accuracy: Double? {
        guard let correct, total > 0 else { return nil }
        return Double(correct) / Double(total)
    }
}

public struct EpochMetrics: Sendable, Equatable {
    /// Counted from 1 over the model's whole history (continued training goes on counting).
    public var epoch: Int
    public var training: SplitMetrics?
    public var evaluation: SplitMetrics?
    /// Wall time of the epoch's SGD pass, excluding monitoring.
    public var seconds: Double

    public init(epoch: Int, training: SplitMetrics? = nil, evaluation: SplitMetrics? = nil,
                seconds: Double) {
        self.epoch = epoch
        self.training = training
        self.evaluation = evaluation
        self.seconds = seconds
    }
}

public struct Hyperparameters: Sendable, Equatable {
    public var sizes: [Int]
    public var cost: CostKind
    public var eta: Double
    public var lambda: Double
    public var miniBatchSize: Int
    public var epochs: Int
    public var weightInit: WeightInit
    /// n in the L2 weight decay (1 - eta*lambda/n): the training set size.
    public var trainingExamples: Int

    public init(sizes: [Int], cost: CostKind, eta: Double, lambda: Double, miniBatchSize: Int,
                epochs: Int, weightInit: WeightInit, trainingExamples: Int) {
        self.sizes = sizes
        self.cost = cost
        self.eta = eta
        self.lambda = lambda
        self.miniBatchSize = miniBatchSize
        self.epochs = epochs
        self.weightInit = weightInit
        self.trainingExamples = trainingExamples
    }
}

public struct Provenance: Sendable, Equatable {
    public var dataset: String = ""
    public var trainingSplit: String = ""
    public var evaluationSplit: String = ""
    public var hyperparameters: Hyperparameters?
    public var seed: UInt64 = 0
    public var epochs: [EpochMetrics] = []
    /// RFC 3339, UTC.
    public var createdAt: String = ""
    public var command: String = ""
    public var preset: String = ""
    public var importedFrom: String = ""

    public init() {}
}

public struct Evaluation: Sendable, Equatable {
    /// e.g. "mnist:t10k".
    public var dataset: String
    public var metrics: SplitMetrics

    public init(dataset: String, metrics: SplitMetrics) {
        self.dataset = dataset
        self.metrics = metrics
    }
}

/// One feed-forward network with everything needed to run and describe it.
public struct NetworkModel: Sendable, Equatable {
    public var name: String
    public var layers: [Layer]
    public var classLabels: [String]
    public var input: InputContract
    public var cost: CostKind
    public var provenance: Provenance?
    public var evaluations: [Evaluation]

    public init(name: String, layers: [Layer], classLabels: [String], input: InputContract,
                cost: CostKind, provenance: Provenance? = nil, evaluations: [Evaluation] = []) {
        self.name = name
        self.layers = layers
        self.classLabels = classLabels
        self.input = input
        self.cost = cost
        self.provenance = provenance
        self.evaluations = evaluations
    }

    /// Number of inputs of the first layer.
    public var inputSize: Int { layers.first?.inputShape.reduce(1, *) ?? 0 }
    /// Number of outputs of the last layer.
    public var outputSize: Int { layers.last?.outputShape.reduce(1, *) ?? 0 }
    /// Layer sizes as the book writes them, e.g. [784, 30, 10] (dense networks).
    public var sizes: [Int] { [inputSize] + layers.map { $0.outputShape.reduce(1, *) } }
    /// Weights plus biases.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.weights.data.count + $1.bias.data.count } }
}

/// Several networks that vote.
public struct EnsembleModel: Sendable, Equatable {
    public var name: String
    public var members: [NetworkModel]
    public var voting: VotingRule
    public var evaluations: [Evaluation]

    public init(name: String, members: [NetworkModel], voting: VotingRule, evaluations: [Evaluation] = []) {
        self.name = name
        self.members = members
        self.voting = voting
        self.evaluations = evaluations
    }
}

public enum ModelBody: Sendable, Equatable {
    case network(NetworkModel)
    case ensemble(EnsembleModel)
}

public struct Producer: Sendable, Equatable {
    public var name: String
    public var version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    public static let nnrt = Producer(name: "nnrt", version: NNRTVersion.string)
}

/// A whole model file.
public struct ModelFile: Sendable, Equatable {
    public var formatVersion: UInt32
    public var producer: Producer
    /// Free-form key/value pairs, in file order.
    public var metadata: [(key: String, value: String)]
    public var body: ModelBody

    public init(formatVersion: UInt32 = FormatVersion.current, producer: Producer = .nnrt,
                metadata: [(key: String, value: String)] = [], body: ModelBody) {
        self.formatVersion = formatVersion
        self.producer = producer
        self.metadata = metadata
        self.body = body
    }

    public static func == (a: ModelFile, b: ModelFile) -> Bool {
        a.formatVersion == b.formatVersion && a.producer == b.producer && a.body == b.body
            && a.metadata.map(\.key) == b.metadata.map(\.key)
            && a.metadata.map(\.value) == b.metadata.map(\.value)
    }

    /// The member networks: one for a network, all members for an ensemble.
    public var networks: [NetworkModel] {
        switch body {
        case .network(let n): [n]
        case .ensemble(let e): e.members
        }
    }
}

/// Status codes shared by the model codec, the runtime and the C ABI (Include/nnrt.h). Values
/// never change meaning.
public enum StatusCode: Int32, Sendable {
    case ok = 0
    case invalidArgument = 1
    case io = 2
    case badModel = 3
    case unsupportedVersion = 4
    case shapeMismatch = 5
    case bufferTooSmall = 6
    case outOfMemory = 7
    case imageDecode = 8
    case `internal` = 9
    case unsupported = 10
    case notFound = 11
}

/// An error with a status code and a one-line message a user can act on.
public struct ModelError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String

    public init(_ code: StatusCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
