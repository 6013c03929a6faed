import Testing
import NNModel

/// A small deterministic generator for test weights (xorshift64*).
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

/// A dense network with the given sizes, e.g. [4, 3, 2], random weights.
func makeNetwork(_ sizes: [Int], name: String = "net", seed: UInt64 = 1,
                 activations: [Activation]? = nil, labels: [String]? = nil) -> NetworkModel {
    var rng = TestRNG(seed: seed)
    var layers: [Layer] = []
    for i in 1..<sizes.count {
        let a = activations?[i - 1] ?? .sigmoid
        layers.append(.dense(name: "fc\(i)", inputs: sizes[i - 1], outputs: sizes[i], activation: a,
                             weights: (0..<(sizes[i] * sizes[i - 1])).map { _ in rng.float() },
                             bias: (0..<sizes[i]).map { _ in rng.float() }))
    }
    let input = InputContract(shape: [1, 1, sizes[0]], scale: 1.0 / 255.0, offset: 0, polarity: .lightOnDark)
    return NetworkModel(name: name, layers: layers,
                        classLabels: labels ?? (0..<sizes.last!).map(String.init),
                        input: input, cost: .crossEntropy)
}

/// A network with every optional field filled in.
func makeFullNetwork() -> NetworkModel {
    var n = makeNetwork([6, 4, 3], name: "full", seed: 7, activations: [.relu, .softmax], labels: ["a", "b", "c"])
    n.input = InputContract(shape: [1, 2, 3], scale: 0.5, offset: -0.25, polarity: .darkOnLight,
                            image: ImageNormalization(method: .mnistDigit, boxSize: 2, centring: .boundingBox))
    n.cost = .logLikelihood
    var p = Provenance()
    p.dataset = "mnist"
    p.trainingSplit = "train[0:50000]"
    p.evaluationSplit = "train[50000:60000]"
    p.hyperparameters = Hyperparameters(sizes: [6, 4, 3], cost: .logLikelihood, eta: 0.5, lambda: 5.0,
                                        miniBatchSize: 10, epochs: 2, weightInit: .scaledNormal,
                                        trainingExamples: 50000)
    p.seed = 0xDEAD_BEEF_CAFE
    p.epochs = [
        EpochMetrics(epoch: 1, training: SplitMetrics(total: 50000, cost: 0.5, correct: 45000),
                     evaluation: SplitMetrics(total: 10000, cost: nil, correct: 9100), seconds: 1.25),
        EpochMetrics(epoch: 2, training: nil, evaluation: SplitMetrics(total: 10000, cost: 0.25, correct: nil),
                     seconds: 2.5),
    ]
    p.createdAt = "2024-01-02T03:04:05Z"
    p.command = "nnrt train --preset x"
    p.preset = "x"
    p.importedFrom = "network2.py JSON"
    n.provenance = p
    n.evaluations = [Evaluation(dataset: "mnist:t10k", metrics: SplitMetrics(total: 10000, cost: 0.1, correct: 9542))]
    return n
}

/// A format-version-2 network: conv2d -> max_pool2d -> dense with dropout -> softmax with
/// dropout, two input channels, non-square kernel and pool, with every version-2 provenance field.
func makeConvNetwork(name: String = "conv", seed: UInt64 = 11) -> NetworkModel {
    var rng = TestRNG(seed: seed)
    func floats(_ n: Int) -> [Float] { (0..<n).map { _ in rng.float() } }
    let layers: [Layer] = [
        .conv2d(name: "conv1", input: [2, 7, 6], maps: 3, kernel: [3, 2], activation: .linear,
                weights: floats(3 * 2 * 3 * 2), bias: floats(3)),                       // -> [3, 5, 5]
        .maxPool2d(name: "pool1", input: [3, 5, 5], pool: [2, 2], activation: .relu),     // -> [3, 2, 2]
        .dense(name: "fc1", inputs: 12, outputs: 5, activation: .tanh,
               weights: floats(5 * 12), bias: floats(5), dropout: 0.25),
        .dense(name: "out", inputs: 5, outputs: 3, activation: .softmax,
               weights: floats(3 * 5), bias: floats(3), dropout: 0.5),
    ]
    var n = NetworkModel(name: name, layers: layers, classLabels: ["x", "y", "z"],
                         input: InputContract(shape: [2, 7, 6], scale: 1.0 / 255.0, offset: 0, polarity: .lightOnDark),
                         cost: .logLikelihood)
    var p = Provenance()
    p.dataset = "mnist"
    p.hyperparameters = Hyperparameters(sizes: [84, 12, 5, 3], cost: .logLikelihood, eta: 0.03, lambda: 0.1,
                                        miniBatchSize: 10, epochs: 40, weightInit: .network3, trainingExamples: 250_000,
                                        regularization: .l1, momentum: 0.9, schedulePatience: 10, scheduleFactor: 2,
                                        scheduleStopFraction: 1.0 / 128, earlyStoppingPatience: 20,
                                        expansion: "shift1", architecture: "conv3x3x2,pool2,fc5:tanh:drop0.25,softmax3:drop0.5")
    p.epochs = [
        EpochMetrics(epoch: 1, evaluation: SplitMetrics(total: 10000, correct: 9800), seconds: 3.5, eta: 0.03,
                     gradientNorms: [0.5, 0.25, 0.125], test: SplitMetrics(total: 10000, cost: 0.05, correct: 9790)),
        EpochMetrics(epoch: 2, seconds: 3.25, eta: 0.015),
    ]
    p.initialGradientNorms = [0.01, 0.02, 0.03]
    p.selectedEpoch = 1
    n.provenance = p
    return n
}

/// Runs `body` and expects a `ModelError` with `code` whose message contains `fragment`.
func expectError(_ code: StatusCode, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected \(code) containing '\(fragment)', got success", sourceLocation: sourceLocation)
    } catch {
        guard let error = error as? ModelError else {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == code, "\(error.message)", sourceLocation: sourceLocation)
        #expect(error.message.contains(fragment), "message: \(error.message)", sourceLocation: sourceLocation)
    }
}
