// Training configurations and the book's named experiments (chapters 1 and 3).

import NNModel

/// Which MNIST split the evaluation monitors use.
public enum EvaluationSet: String, Sendable, CaseIterable {
    /// train[50000:60000], the book's validation_data.
    case validation
    /// t10k, the book's test_data (what chapters 1 and 3 report).
    case test
    /// No evaluation data.
    case none
}

/// Everything a training run needs. All fields are `var`, so the CLI can start from a preset and
/// override fields from its flags.
public struct TrainingConfig: Sendable, Equatable {
    /// Neurons per layer, e.g. [784, 30, 10].
    public var sizes: [Int]
    public var cost: CostKind
    /// η, the learning rate.
    public var eta: Double
    /// λ, the L2 regularisation parameter.
    public var lambda: Double
    public var miniBatchSize: Int
    public var epochs: Int
    public var weightInit: WeightInit
    /// Seed of the generator for initial weights and shuffling.
    public var seed: UInt64
    /// The network2.py monitoring flags.
    public var monitor: Monitor
    /// Train on only the first `trainingLimit` training images (e.g. 1,000 in chapter 3's
    /// overfitting experiment); nil for all 50,000.
    public var trainingLimit: Int?
    /// The data the evaluation monitors use.
    public var evaluationSet: EvaluationSet
    /// The name of the preset this came from, if any (written into the provenance).
    public var preset: String?

    public init(sizes: [Int] = [784, 30, 10], cost: CostKind = .crossEntropy, eta: Double = 0.5,
                lambda: Double = 0, miniBatchSize: Int = 10, epochs: Int = 30,
                weightInit: WeightInit = .scaledNormal, seed: UInt64 = 1,
                monitor: Monitor = [.evaluationAccuracy], trainingLimit: Int? = nil,
                evaluationSet: EvaluationSet = .test, preset: String? = nil) {
        self.sizes = sizes
        self.cost = cost
        self.eta = eta
        self.lambda = lambda
        self.miniBatchSize = miniBatchSize
        self.epochs = epochs
        self.weightInit = weightInit
        self.seed = seed
        self.monitor = monitor
        self.trainingLimit = trainingLimit
        self.evaluationSet = evaluationSet
        self.preset = preset
    }

    /// Checks every value; the message names the offending setting.
    public func validate() throws(TrainerError) {
        guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else {
            throw TrainerError(.invalidArgument, "sizes must list at least two positive layer sizes, got \(sizes)")
        }
        guard cost.isTrainable else {
            throw TrainerError(.unsupported, "cost \(cost.name) is not supported for sigmoid networks (use quadratic or cross-entropy)")
        }
        guard eta.isFinite, eta > 0 else { throw TrainerError(.invalidArgument, "eta must be positive, got \(eta)") }
        guard lambda.isFinite, lambda >= 0 else { throw TrainerError(.invalidArgument, "lambda must not be negative, got \(lambda)") }
        guard miniBatchSize > 0 else { throw TrainerError(.invalidArgument, "mini-batch size must be positive, got \(miniBatchSize)") }
        guard epochs >= 0 else { throw TrainerError(.invalidArgument, "epochs must not be negative, got \(epochs)") }
        if let trainingLimit, trainingLimit <= 0 {
            throw TrainerError(.invalidArgument, "training limit must be positive, got \(trainingLimit)")
        }
        if evaluationSet == .none && (monitor.contains(.evaluationCost) || monitor.contains(.evaluationAccuracy)) {
            throw TrainerError(.invalidArgument, "evaluation monitoring needs an evaluation set (validation or test)")
        }
    }
}

/// A named experiment from the book.
public struct Preset: Sendable, Equatable {
    public var name: String
    /// One line citing the book and its reported result.
    public var description: String
    public var config: TrainingConfig
}

/// The book's experiments that this trainer reproduces. Accuracies are the book's peak
/// test-set accuracies; runs here use another random stream, so expect figures close to, not
/// equal to, them.
public enum Presets {
    public static let all: [Preset] = [
        Preset(name: "ch1",
               description: "Ch. 1: network.py [784,30,10], quadratic cost, eta 3.0, batch 10, 30 epochs, N(0,1) init; the book reports 95.42%",
               config: TrainingConfig(sizes: [784, 30, 10], cost: .quadratic, eta: 3.0, lambda: 0, miniBatchSize: 10,
                                      epochs: 30, weightInit: .standardNormal, preset: "ch1")),
        Preset(name: "ch1-100",
               description: "Ch. 1: network.py with 100 hidden neurons [784,100,10], quadratic, eta 3.0, batch 10, 30 epochs; the book reports 96.59%",
               config: TrainingConfig(sizes: [784, 100, 10], cost: .quadratic, eta: 3.0, lambda: 0, miniBatchSize: 10,
                                      epochs: 30, weightInit: .standardNormal, preset: "ch1-100")),
        Preset(name: "ch3-ce",
               description: "Ch. 3 (cross-entropy): [784,30,10], cross-entropy, eta 0.5, batch 10, 30 epochs, large_weight_initializer; the book reports 95.49%",
               config: TrainingConfig(sizes: [784, 30, 10], cost: .crossEntropy, eta: 0.5, lambda: 0, miniBatchSize: 10,
                                      epochs: 30, weightInit: .standardNormal, preset: "ch3-ce")),
        Preset(name: "ch3-ce-100",
               description: "Ch. 3 (cross-entropy): [784,100,10], cross-entropy, eta 0.5, batch 10, 30 epochs, large_weight_initializer; the book reports 96.82%",
               config: TrainingConfig(sizes: [784, 100, 10], cost: .crossEntropy, eta: 0.5, lambda: 0, miniBatchSize: 10,
                                      epochs: 30, weightInit: .standardNormal, preset: "ch3-ce-100")),
        Preset(name: "ch3-overfit",
               description: "Ch. 3 (overfitting): [784,30,10] on only 1,000 training images, cross-entropy, eta 0.5, batch 10, 400 epochs; test accuracy stalls near 82% while training cost keeps falling",
               config: TrainingConfig(sizes: [784, 30, 10], cost: .crossEntropy, eta: 0.5, lambda: 0, miniBatchSize: 10,
                                      epochs: 400, weightInit: .standardNormal,
                                      monitor: [.trainingCost, .trainingAccuracy, .evaluationCost, .evaluationAccuracy],
                                      trainingLimit: 1000, preset: "ch3-overfit")),
        Preset(name: "ch3-overfit-l2",
               description: "Ch. 3 (L2 regularisation): as ch3-overfit with lambda 0.1; the book reports a peak of 87.1% (vs 82.27% unregularised)",
               config: TrainingConfig(sizes: [784, 30, 10], cost: .crossEntropy, eta: 0.5, lambda: 0.1, miniBatchSize: 10,
                                      epochs: 400, weightInit: .standardNormal,
                                      monitor: [.trainingCost, .trainingAccuracy, .evaluationCost, .evaluationAccuracy],
                                      trainingLimit: 1000, preset: "ch3-overfit-l2")),
        Preset(name: "ch3-l2",
               description: "Ch. 3 (L2 regularisation): [784,30,10] on all 50,000 images, cross-entropy, eta 0.5, lambda 5.0, batch 10, 30 epochs; the book reports 96.49%",
               config: TrainingConfig(sizes: [784, 30, 10], cost: .crossEntropy, eta: 0.5, lambda: 5.0, miniBatchSize: 10,
                                      epochs: 30, weightInit: .standardNormal, preset: "ch3-l2")),
        Preset(name: "ch3-l2-100",
               description: "Ch. 3 (L2 regularisation): [784,100,10], cross-entropy, eta 0.1, lambda 5.0, batch 10, 60 epochs, large_weight_initializer, monitored on validation data; the book reports 98.04%",
               config: TrainingConfig(sizes: [784, 100, 10], cost: .crossEntropy, eta: 0.1, lambda: 5.0, miniBatchSize: 10,
                                      epochs: 60, weightInit: .standardNormal, evaluationSet: .validation,
                                      preset: "ch3-l2-100")),
    ]

    /// The preset called `name`, or nil.
    public static func named(_ name: String) -> Preset? {
        all.first { $0.name == name }
    }

    /// The preset names, in the book's order.
    public static var names: [String] { all.map(\.name) }
}
