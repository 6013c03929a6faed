// Training configurations and the book's named experiments (chapters 1, 3, 5 and 6).

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
    /// Neurons per layer, e.g. [784, 30, 10]: the network when `architecture` is nil.
    public var sizes: [Int]
    /// A layer spec (`Architecture.parse`), e.g. "convpool20x5,convpool40x5,fc100:relu,softmax10";
    /// nil for the MLP of `sizes`.
    public var architecture: String?
    /// The activation of layers whose spec names none (and of the hidden layers of a `sizes`
    /// network, whose output layer is sigmoid, or softmax for the log-likelihood cost).
    public var activation: Activation
    public var cost: CostKind
    /// η, the learning rate (at the start, when a schedule changes it).
    public var eta: Double
    /// λ, the regularisation parameter: w -> w - (ηλ/n) w (L2) or - (ηλ/n) sgn(w) (L1) per step,
    /// n the number of training examples (network2.py's convention).
    public var lambda: Double
    /// The norm `lambda` applies to.
    public var regularization: Regularization
    /// μ of momentum-based gradient descent (v -> μv - η∇C, w -> w + v); 0 = plain SGD.
    public var momentum: Double
    public var miniBatchSize: Int
    /// The most epochs to train (the schedule or early stopping may stop sooner).
    public var epochs: Int
    public var weightInit: WeightInit
    /// Seed of the generator for initial weights, shuffling and dropout (distortions use a
    /// generator derived from it, see `Expansion.distortionGenerator`).
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
    /// Learning-rate schedule (chapter 3): after `schedulePatience` epochs without an improvement
    /// of the evaluation accuracy (counted since the last improvement or change of η), divide η by
    /// `scheduleFactor`; stop once η has fallen to `scheduleStopFraction` of its start (e.g.
    /// 1/128; 0 = never stop for that reason). Patience 0 = constant η.
    public var schedulePatience: Int
    public var scheduleFactor: Double
    public var scheduleStopFraction: Double
    /// Early stopping (chapter 3): stop after this many epochs without an improvement of the
    /// evaluation accuracy ("no improvement in n epochs"); 0 = off.
    public var earlyStoppingPatience: Int
    /// Model selection: the trained network holds the weights of the epoch with the best
    /// evaluation accuracy (the earliest on ties), recorded as `Provenance.selectedEpoch`.
    public var keepBest: Bool
    /// Training-set expansion spec (`ExpansionSpec.parse`): "", "shift1", "shift1+rotate", ...
    public var expansion: String
    /// Chapter 5: measure ||∂C/∂b^l|| of every layer on the first 1,000 training images at
    /// initialisation and after each epoch.
    public var gradientNorms: Bool
    /// When evaluating on validation data, also measure the test set's accuracy each epoch, so the
    /// test accuracy at the best validation epoch can be reported (as network3.py does).
    public var monitorTest: Bool

    public init(sizes: [Int] = [784, 30, 10], cost: CostKind = .crossEntropy, eta: Double = 0.5,
                lambda: Double = 0, miniBatchSize: Int = 10, epochs: Int = 30,
                weightInit: WeightInit = .scaledNormal, seed: UInt64 = 1,
                monitor: Monitor = [.evaluationAccuracy], trainingLimit: Int? = nil,
                evaluationSet: EvaluationSet = .test, preset: String? = nil,
                architecture: String? = nil, activation: Activation = .sigmoid,
                regularization: Regularization = .l2, momentum: Double = 0,
                schedulePatience: Int = 0, scheduleFactor: Double = 2, scheduleStopFraction: Double = 0,
                earlyStoppingPatience: Int = 0, keepBest: Bool = false, expansion: String = "",
                gradientNorms: Bool = false, monitorTest: Bool = false) {
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
        self.architecture = architecture
        self.activation = activation
        self.regularization = regularization
        self.momentum = momentum
        self.schedulePatience = schedulePatience
        self.scheduleFactor = scheduleFactor
        self.scheduleStopFraction = scheduleStopFraction
        self.earlyStoppingPatience = earlyStoppingPatience
        self.keepBest = keepBest
        self.expansion = expansion
        self.gradientNorms = gradientNorms
        self.monitorTest = monitorTest
    }

    /// The network this configuration trains: `architecture` parsed for 28x28 MNIST images, or
    /// the fully connected network of `sizes`: hidden layers with `activation`, and an output
    /// layer of sigmoid neurons (softmax for the log-likelihood cost). With the default sigmoid
    /// activation that is the book's network, `Architecture.mlp(sizes:)`.
    /// - Throws: `TrainerError.invalidArgument` for a bad layer spec.
    public func resolvedArchitecture() throws(TrainerError) -> Architecture {
        if let architecture {
            return try Architecture.parse(architecture, inputShape: [1, 28, 28], defaultActivation: activation)
        }
        guard let outputs = sizes.last, sizes.count >= 2 else { return Architecture.mlp(sizes: sizes) }
        var layers: [LayerSpec] = sizes.dropFirst().dropLast().map { .dense(units: $0, activation: activation, dropout: 0) }
        layers.append(cost == .logLikelihood ? .softmax(units: outputs, dropout: 0)
                                             : .dense(units: outputs, activation: .sigmoid, dropout: 0))
        return Architecture(inputShape: [sizes[0]], layers: layers)
    }

    /// True if some option needs the evaluation accuracy of every epoch.
    public var needsEvaluationAccuracy: Bool {
        schedulePatience > 0 || earlyStoppingPatience > 0 || keepBest
    }

    /// Checks every value; the message names the offending setting.
    public func validate() throws(TrainerError) {
        if architecture == nil {
            guard sizes.count >= 2, sizes.allSatisfy({ $0 > 0 }) else {
                throw TrainerError(.invalidArgument, "sizes must list at least two positive layer sizes, got \(sizes)")
            }
        } else {
            _ = try resolvedArchitecture()
        }
        guard activation != .softmax else {
            throw TrainerError(.invalidArgument, "softmax is an output layer (softmaxN in the layer spec), not a hidden-layer activation")
        }
        guard eta.isFinite, eta > 0 else { throw TrainerError(.invalidArgument, "eta must be positive, got \(eta)") }
        guard lambda.isFinite, lambda >= 0 else { throw TrainerError(.invalidArgument, "lambda must not be negative, got \(lambda)") }
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw TrainerError(.invalidArgument, "momentum must be in [0, 1), got \(momentum)")
        }
        guard miniBatchSize > 0 else { throw TrainerError(.invalidArgument, "mini-batch size must be positive, got \(miniBatchSize)") }
        guard epochs >= 0 else { throw TrainerError(.invalidArgument, "epochs must not be negative, got \(epochs)") }
        if let trainingLimit, trainingLimit <= 0 {
            throw TrainerError(.invalidArgument, "training limit must be positive, got \(trainingLimit)")
        }
        guard schedulePatience >= 0 else {
            throw TrainerError(.invalidArgument, "schedule patience must not be negative, got \(schedulePatience)")
        }
        guard scheduleFactor.isFinite, scheduleFactor > 1 else {
            throw TrainerError(.invalidArgument, "schedule factor must be greater than 1 (2 halves eta), got \(scheduleFactor)")
        }
        guard scheduleStopFraction.isFinite, scheduleStopFraction >= 0, scheduleStopFraction < 1 else {
            throw TrainerError(.invalidArgument, "schedule stop fraction must be in [0, 1) (e.g. 0.0078125 = 1/128), got \(scheduleStopFraction)")
        }
        guard earlyStoppingPatience >= 0 else {
            throw TrainerError(.invalidArgument, "early-stopping patience must not be negative, got \(earlyStoppingPatience)")
        }
        _ = try ExpansionSpec.parse(expansion)
        if evaluationSet == .none && (monitor.contains(.evaluationCost) || monitor.contains(.evaluationAccuracy)) {
            throw TrainerError(.invalidArgument, "evaluation monitoring needs an evaluation set (validation or test)")
        }
        if needsEvaluationAccuracy && (evaluationSet == .none || !monitor.contains(.evaluationAccuracy)) {
            throw TrainerError(.invalidArgument,
                               "the learning-rate schedule, early stopping and keep-best follow the evaluation accuracy: they need an evaluation set and its accuracy monitored")
        }
    }
}

/// A named experiment from the book.
public struct Preset: Sendable, Equatable {
    public var name: String
    /// One line citing the book and its reported result ("the book reports 98.78%").
    public var description: String
    public var config: TrainingConfig
    /// Networks trained and combined into a voting ensemble (1 = a single network).
    public var ensembleMembers: Int
    /// How the ensemble's members vote (used when `ensembleMembers > 1`).
    public var voting: VotingRule

    /// A preset; a single network unless `ensembleMembers` says otherwise.
    public init(name: String, description: String, config: TrainingConfig, ensembleMembers: Int = 1,
                voting: VotingRule = .majority) {
        self.name = name
        self.description = description
        self.config = config
        self.ensembleMembers = ensembleMembers
        self.voting = voting
    }

    /// The figure the book reports, e.g. "98.78%", taken from the description (nil if none).
    public var bookFigure: String? {
        guard let r = description.range(of: "the book reports ") else { return nil }
        let rest = description[r.upperBound...]
        let figure = rest.prefix { $0.isNumber || $0 == "." || $0 == "%" }
        return figure.hasSuffix("%") ? String(figure) : nil
    }
}

/// Chapter 6 (network3.py) settings shared by its presets: mini-batch 10, network3's weight
/// initialisation, log-likelihood cost on a softmax layer, validation monitoring with the test
/// accuracy measured every epoch, and the best validation epoch's weights kept.
private func chapter6(_ name: String, _ architecture: String, activation: Activation = .sigmoid, eta: Double,
                      lambda: Double = 0, epochs: Int, expansion: String = "") -> TrainingConfig {
    TrainingConfig(sizes: [784, 10], cost: .logLikelihood, eta: eta, lambda: lambda, miniBatchSize: 10,
                   epochs: epochs, weightInit: .network3, evaluationSet: .validation, preset: name,
                   architecture: architecture, activation: activation, keepBest: true, expansion: expansion,
                   monitorTest: true)
}

/// Chapter 5's deep sigmoid networks (network2.py): cross-entropy, eta 0.1, lambda 5.0, mini-batch
/// 10, 30 epochs, default initialisation, validation data, gradient norms measured.
private func chapter5(_ name: String, _ sizes: [Int]) -> TrainingConfig {
    TrainingConfig(sizes: sizes, cost: .crossEntropy, eta: 0.1, lambda: 5.0, miniBatchSize: 10, epochs: 30,
                   weightInit: .scaledNormal, evaluationSet: .validation, preset: name, gradientNorms: true)
}

/// network3.py divides its L2 term 0.5·lmbda·Σw² by the number of mini-batches, not by n, so its
/// lmbda = 0.1 with mini-batches of 10 is lambda = 0.1 × 10 = 1.0 in network2's (and this
/// trainer's) convention (1 − ηλ/n) w.
private let network3Lambda01 = 1.0

/// The book's experiments that this trainer reproduces. Accuracies are the book's figures (peak
/// test accuracy in chapters 1 and 3, validation accuracy in chapter 5, test accuracy at the best
/// validation epoch in chapter 6); runs here use another random stream, so expect figures close
/// to, not equal to, them.
///
/// The book's text was not available offline when the chapter 5 and 6 presets were written: their
/// hyper-parameters follow network2.py/network3.py and the book as recalled; a description says
/// where a value is an assumption.
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
               description: "Ch. 3 (overfitting): [784,30,10] on only 1,000 training images, cross-entropy, eta 0.5, batch 10, 400 epochs; the book reports 82.27% (test accuracy stalls while the training cost keeps falling)",
               config: TrainingConfig(sizes: [784, 30, 10], cost: .crossEntropy, eta: 0.5, lambda: 0, miniBatchSize: 10,
                                      epochs: 400, weightInit: .standardNormal,
                                      monitor: [.trainingCost, .trainingAccuracy, .evaluationCost, .evaluationAccuracy],
                                      trainingLimit: 1000, preset: "ch3-overfit")),
        Preset(name: "ch3-overfit-l2",
               description: "Ch. 3 (L2 regularisation): as ch3-overfit with lambda 0.1; the book reports 87.1% (a peak; 82.27% unregularised)",
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
        Preset(name: "ch5-depth1",
               description: "Ch. 5 (vanishing gradients): network2.py [784,30,10], cross-entropy, eta 0.1, lambda 5.0, batch 10, 30 epochs, validation data, gradient norms per layer; the book reports 96.48%",
               config: chapter5("ch5-depth1", [784, 30, 10])),
        Preset(name: "ch5-depth2",
               description: "Ch. 5: [784,30,30,10], as ch5-depth1; the book reports 96.90%",
               config: chapter5("ch5-depth2", [784, 30, 30, 10])),
        Preset(name: "ch5-depth3",
               description: "Ch. 5: [784,30,30,30,10], as ch5-depth1; the book reports 96.57%",
               config: chapter5("ch5-depth3", [784, 30, 30, 30, 10])),
        Preset(name: "ch5-depth4",
               description: "Ch. 5: [784,30,30,30,30,10], as ch5-depth1 (the earlier layers learn ever more slowly); the book reports 96.53%",
               config: chapter5("ch5-depth4", [784, 30, 30, 30, 30, 10])),
        Preset(name: "ch6-fc",
               description: "Ch. 6 (network3.py baseline): fc100 sigmoid + softmax10, log-likelihood, eta 0.1, batch 10, 60 epochs, no regularisation, test accuracy at the best validation epoch; the book reports 97.80%",
               config: chapter6("ch6-fc", "fc100,softmax10", eta: 0.1, epochs: 60)),
        Preset(name: "ch6-conv1",
               description: "Ch. 6: convpool20x5 (20 maps 5x5, max-pool 2x2) + fc100 + softmax10, sigmoid, eta 0.1, batch 10, 60 epochs; the book reports 98.78%",
               config: chapter6("ch6-conv1", "convpool20x5,fc100,softmax10", eta: 0.1, epochs: 60)),
        Preset(name: "ch6-conv2",
               description: "Ch. 6: convpool20x5 + convpool40x5 + fc100 + softmax10, sigmoid, eta 0.1, batch 10, 60 epochs; the book reports 99.06%",
               config: chapter6("ch6-conv2", "convpool20x5,convpool40x5,fc100,softmax10", eta: 0.1, epochs: 60)),
        Preset(name: "ch6-relu",
               description: "Ch. 6: ch6-conv2 with ReLU, eta 0.03, network3 lmbda 0.1 (L2; lambda 1.0 in network2's per-example convention, see Presets.swift), 60 epochs; the book reports 99.23%",
               config: chapter6("ch6-relu", "convpool20x5,convpool40x5,fc100,softmax10", activation: .relu,
                                eta: 0.03, lambda: network3Lambda01, epochs: 60)),
        Preset(name: "ch6-expanded",
               description: "Ch. 6: ch6-relu on the expanded training data (each image and its four one-pixel shifts, 250,000 images), 60 epochs; the book reports 99.37%",
               config: chapter6("ch6-expanded", "convpool20x5,convpool40x5,fc100,softmax10", activation: .relu,
                                eta: 0.03, lambda: network3Lambda01, epochs: 60, expansion: "shift1")),
        Preset(name: "ch6-fc2",
               description: "Ch. 6: ch6-expanded plus a second fc100 ReLU layer, 60 epochs; the book reports 99.43%",
               config: chapter6("ch6-fc2", "convpool20x5,convpool40x5,fc100,fc100,softmax10", activation: .relu,
                                eta: 0.03, lambda: network3Lambda01, epochs: 60, expansion: "shift1")),
        Preset(name: "ch6-fc2-300",
               description: "Ch. 6: as ch6-fc2 with two fc300 layers (the book mentions this variant in the text, hyper-parameters assumed as ch6-fc2); the book reports 99.46%",
               config: chapter6("ch6-fc2-300", "convpool20x5,convpool40x5,fc300,fc300,softmax10", activation: .relu,
                                eta: 0.03, lambda: network3Lambda01, epochs: 60, expansion: "shift1")),
        Preset(name: "ch6-fc2-1000",
               description: "Ch. 6: as ch6-fc2 with two fc1000 layers (the book mentions this variant in the text, hyper-parameters assumed as ch6-fc2); the book reports 99.48%",
               config: chapter6("ch6-fc2-1000", "convpool20x5,convpool40x5,fc1000,fc1000,softmax10", activation: .relu,
                                eta: 0.03, lambda: network3Lambda01, epochs: 60, expansion: "shift1")),
        Preset(name: "ch6-dropout",
               description: "Ch. 6: convpool20x5 + convpool40x5 + two fc1000 ReLU layers and softmax10, dropout 0.5 on the inputs of each, eta 0.03, batch 10, 40 epochs, expanded data (as recalled, the book's call passes no lmbda here); the book reports 99.60%",
               config: chapter6("ch6-dropout", "convpool20x5,convpool40x5,fc1000:relu:drop0.5,fc1000:relu:drop0.5,softmax10:drop0.5",
                                activation: .relu, eta: 0.03, epochs: 40, expansion: "shift1")),
        Preset(name: "ch6-ensemble",
               description: "Ch. 6: five ch6-dropout networks (seeds seed..seed+4) voting by majority; the book reports 99.67%",
               config: chapter6("ch6-ensemble", "convpool20x5,convpool40x5,fc1000:relu:drop0.5,fc1000:relu:drop0.5,softmax10:drop0.5",
                                activation: .relu, eta: 0.03, epochs: 40, expansion: "shift1"),
               ensembleMembers: 5, voting: .majority),
    ]

    /// The preset called `name`, or nil.
    public static func named(_ name: String) -> Preset? {
        all.first { $0.name == name }
    }

    /// The preset names, in the book's order.
    public static var names: [String] { all.map(\.name) }
}
