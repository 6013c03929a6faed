// The in-memory form of an nnrt model file (Sources/CModelProto/nnrt.proto), shared by the
// trainer (which builds and exports it) and the runtime (which loads and runs it).
//
// These types mirror the .proto one to one; ModelCodec.swift converts between them and the
// protobuf encoding, and Validation.swift checks every count and shape. No Foundation here: the
// runtime library links this module.

/// The format version this code writes, and the range of versions it reads.
public enum FormatVersion {
    /// The newest version this code writes. A file is written with the lowest version that
    /// describes it (`ModelFile.minimumFormatVersion`): 1 unless it uses version-2 features.
    public static let current: UInt32 = 2
    public static let oldestReadable: UInt32 = 1
    public static let newestReadable: UInt32 = 2
    /// The value of `ModelFile.identifier` in every nnrt model file.
    public static let identifier = "nnrt-model"
}

/// The producer written into models made by this code.
public enum NNRTVersion {
    public static let major = 0
    public static let minor = 3
    public static let patch = 0
    public static let string = "\(major).\(minor).\(patch)"
}

public enum LayerKind: Int32, Sendable, CaseIterable {
    case dense = 1
    /// Valid convolution, stride 1 (format version 2).
    case conv2d = 2
    /// Max-pooling over non-overlapping windows (format version 2).
    case maxPool2d = 3

    public var name: String {
        switch self {
        case .dense: "dense"
        case .conv2d: "conv2d"
        case .maxPool2d: "max_pool2d"
        }
    }
}

/// Which norm the regularisation parameter lambda applies to.
public enum Regularization: Int32, Sendable, CaseIterable {
    /// w -> (1 - eta*lambda/n) w - ...
    case l2 = 1
    /// w -> w - (eta*lambda/n) sgn(w) - ..., with sgn(0) = 0.
    case l1 = 2

    public var name: String {
        switch self {
        case .l2: "L2"
        case .l1: "L1"
        }
    }
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

/// How an arbitrary image becomes a network's input (nnrt.proto: ImageNormalization).
public struct ImageNormalization: Sendable, Equatable {
    public enum Method: Int32, Sendable {
        /// MNIST's recipe: polarity from the image, crop to the ink, scale the longer side to
        /// `boxSize` keeping the aspect ratio (anti-aliased), centre in the field.
        case mnistDigit = 1
    }

    public enum Centring: Int32, Sendable {
        /// The grey levels' centre of mass at the field's centre (MNIST).
        case centreOfMass = 1
        /// The ink's bounding box centred.
        case boundingBox = 2
    }

    public var method: Method
    /// The scaled digit's longer side, in pixels (MNIST: 20).
    public var boxSize: Int
    public var centring: Centring

    public init(method: Method = .mnistDigit, boxSize: Int = 20, centring: Centring = .centreOfMass) {
        self.method = method
        self.boxSize = boxSize
        self.centring = centring
    }

    /// MNIST's settings: a 20x20 box, centre of mass.
    public static let mnistDigit = ImageNormalization()
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
    /// network3.py: weights N(0, 1/n_out) (conv: n_out = maps*KH*KW / pool area), biases N(0, 1),
    /// softmax layers zero.
    case network3 = 3

    public var name: String {
        switch self {
        case .standardNormal: "standard-normal"
        case .scaledNormal: "scaled-normal"
        case .network3: "network3"
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

/// One layer (shapes per example; see nnrt.proto for the exact semantics):
/// - dense: `weights` [out, in], `bias` [out]; output = activation((1 - dropout) W x + b);
/// - conv2d: input [C, H, W], `weights` [M, C, KH, KW], `bias` [M], output [M, H-KH+1, W-KW+1];
/// - maxPool2d: input [C, H, W], `poolShape` [PH, PW], output [C, H/PH, W/PW]; no weights.
public struct Layer: Sendable, Equatable {
    public var name: String
    public var kind: LayerKind
    public var inputShape: [Int]
    public var outputShape: [Int]
    public var activation: Activation
    public var weights: Tensor
    public var bias: Tensor
    /// maxPool2d: the window [PH, PW]; empty otherwise.
    public var poolShape: [Int]
    /// Dense: the probability with which training dropped this layer's inputs (inference scales
    /// W x by 1 - dropout, as network3). 0 = none.
    public var dropout: Float

    public init(name: String, kind: LayerKind = .dense, inputShape: [Int], outputShape: [Int],
                activation: Activation, weights: Tensor, bias: Tensor, poolShape: [Int] = [],
                dropout: Float = 0) {
        self.name = name
        self.kind = kind
        self.inputShape = inputShape
        self.outputShape = outputShape
        self.activation = activation
        self.weights = weights
        self.bias = bias
        self.poolShape = poolShape
        self.dropout = dropout
    }

    /// A valid, stride-1 convolution of `input` [C, H, W] with `maps` kernels of `kernel` [KH, KW].
    public static func conv2d(name: String, input: [Int], maps: Int, kernel: [Int], activation: Activation,
                              weights: [Float], bias: [Float]) -> Layer {
        let c = input.count == 3 ? input[0] : 0, h = input.count == 3 ? input[1] : 0, w = input.count == 3 ? input[2] : 0
        let kh = kernel.count == 2 ? kernel[0] : 0, kw = kernel.count == 2 ? kernel[1] : 0
        return Layer(name: name, kind: .conv2d, inputShape: input, outputShape: [maps, h - kh + 1, w - kw + 1],
                     activation: activation,
                     weights: Tensor(shape: [maps, c, kh, kw], data: weights),
                     bias: Tensor(shape: [maps], data: bias))
    }

    /// Max-pooling of `input` [C, H, W] over non-overlapping `pool` [PH, PW] windows.
    public static func maxPool2d(name: String, input: [Int], pool: [Int], activation: Activation = .linear) -> Layer {
        let c = input.count == 3 ? input[0] : 0, h = input.count == 3 ? input[1] : 0, w = input.count == 3 ? input[2] : 0
        let ph = pool.count == 2 ? max(pool[0], 1) : 1, pw = pool.count == 2 ? max(pool[1], 1) : 1
        return Layer(name: name, kind: .maxPool2d, inputShape: input, outputShape: [c, h / ph, w / pw],
                     activation: activation, weights: Tensor(shape: [], data: []), bias: Tensor(shape: [], data: []),
                     poolShape: pool)
    }

    /// True if this layer needs format version 2.
    public var needsVersion2: Bool { kind != .dense || dropout != 0 }

    /// A dense layer from `inputs` to `outputs` units.
    public static func dense(name: String, inputs: Int, outputs: Int, activation: Activation,
                             weights: [Float], bias: [Float], dropout: Float = 0) -> Layer {
        Layer(name: name, kind: .dense, inputShape: [inputs], outputShape: [outputs],
              activation: activation,
              weights: Tensor(shape: [outputs, inputs], data: weights),
              bias: Tensor(shape: [outputs], data: bias), dropout: dropout)
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
    /// How an image of any size becomes `shape` (nil: not stated; see `effectiveImage`).
    public var image: ImageNormalization?

    public init(shape: [Int], scale: Float, offset: Float, polarity: Polarity, image: ImageNormalization? = nil) {
        self.shape = shape
        self.scale = scale
        self.offset = offset
        self.polarity = polarity
        self.image = image
    }

    /// MNIST as the book feeds it: 28x28, white on black, pixels scaled to 0...1, and images of
    /// any size normalised as MNIST's digits were.
    public static let mnist = InputContract(shape: [1, 28, 28], scale: 1.0 / 255.0, offset: 0,
                                            polarity: .lightOnDark, image: .mnistDigit)

    /// The image normalisation to apply: the stated one, or for files that state none, MNIST's
    /// when the shape is one channel of 28x28 (files written before nnrt 0.3), else nil (image
    /// input unsupported).
    public var effectiveImage: ImageNormalization? {
        if let image { return image }
        guard let plane = greyPlane, plane.height == 28, plane.width == 28 else { return nil }
        return .mnistDigit
    }

    /// The size of the one grey plane an image is normalised into: the shape (1, H, W) or (H, W);
    /// nil for other shapes (several channels, a flat vector), which take no images.
    public var greyPlane: (height: Int, width: Int)? {
        if shape.count == 3 && shape[0] == 1 { return (shape[1], shape[2]) }
        if shape.count == 2 { return (shape[0], shape[1]) }
        return nil
    }

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
    /// The learning rate used in this epoch (after any schedule); nil if not recorded.
    public var eta: Double?
    /// ||∂C/∂b|| per layer with parameters, input side first, at the end of the epoch (chapter 5).
    public var gradientNorms: [Double]
    /// The test set, when it is monitored alongside validation data.
    public var test: SplitMetrics?

    public init(epoch: Int, training: SplitMetrics? = nil, evaluation: SplitMetrics? = nil,
                seconds: Double, eta: Double? = nil, gradientNorms: [Double] = [], test: SplitMetrics? = nil) {
        self.epoch = epoch
        self.training = training
        self.evaluation = evaluation
        self.seconds = seconds
        self.eta = eta
        self.gradientNorms = gradientNorms
        self.test = test
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
    /// The norm lambda applies to.
    public var regularization: Regularization
    /// mu in v -> mu v - eta grad; 0 = plain SGD.
    public var momentum: Double
    /// Divide eta by `scheduleFactor` after `schedulePatience` epochs without improvement; stop
    /// below eta * `scheduleStopFraction`. Patience 0 = constant eta.
    public var schedulePatience: Int
    public var scheduleFactor: Double
    public var scheduleStopFraction: Double
    /// Stop after this many epochs without improvement; 0 = off.
    public var earlyStoppingPatience: Int
    /// Training-set expansion ("" = none, "shift1" = the book's one-pixel shifts, ...).
    public var expansion: String
    /// The layer spec trained, e.g. "conv20x5,pool2,fc100,softmax10" ("" for plain `sizes`).
    public var architecture: String

    public init(sizes: [Int], cost: CostKind, eta: Double, lambda: Double, miniBatchSize: Int,
                epochs: Int, weightInit: WeightInit, trainingExamples: Int,
                regularization: Regularization = .l2, momentum: Double = 0, schedulePatience: Int = 0,
                scheduleFactor: Double = 2, scheduleStopFraction: Double = 0, earlyStoppingPatience: Int = 0,
                expansion: String = "", architecture: String = "") {
        self.sizes = sizes
        self.cost = cost
        self.eta = eta
        self.lambda = lambda
        self.miniBatchSize = miniBatchSize
        self.epochs = epochs
        self.weightInit = weightInit
        self.trainingExamples = trainingExamples
        self.regularization = regularization
        self.momentum = momentum
        self.schedulePatience = schedulePatience
        self.scheduleFactor = scheduleFactor
        self.scheduleStopFraction = scheduleStopFraction
        self.earlyStoppingPatience = earlyStoppingPatience
        self.expansion = expansion
        self.architecture = architecture
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
    /// ||∂C/∂b|| per layer with parameters before training (chapter 5).
    public var initialGradientNorms: [Double] = []
    /// The epoch whose weights the file holds, when training kept the best epoch; nil = the last.
    public var selectedEpoch: Int?

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

    /// The lowest format version that describes this file exactly: 2 if any layer is a
    /// convolution or pooling layer or has dropout, else 1. Writers store this version.
    public var minimumFormatVersion: UInt32 {
        networks.contains { $0.layers.contains(where: \.needsVersion2) } ? 2 : 1
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
    /// Not an image format the runtime reads (by the file's contents).
    case imageFormat = 12
    /// An image or image file over the size limits.
    case imageTooLarge = 13
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
