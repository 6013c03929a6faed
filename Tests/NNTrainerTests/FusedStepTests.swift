import Testing
import NNKernels
import NNModel
@testable import NNTrainer

/// Plain SGD with L2 (or no) regularisation updates dense layers with `denseUpdate`, fused with
/// their weight gradient; it must agree with the step on a separately summed gradient within
/// float rounding, and stay deterministic. Run under both kernel builds: this process's
/// `Kernels.active`, and again with NNRT_KERNELS=generic.
@Suite struct FusedStepTests {
    /// Trains `epochs` epochs from `start` (the same seed each time) and returns the network.
    func train(_ start: Network, _ data: Dataset, _ sgd: SGDParameters, epochs: Int, fused: Bool,
               threads: Int = 1) throws -> Network {
        var net = start
        net.threads = threads
        var rng = SeededGenerator(seed: 21)
        var order = Array(0..<data.count)
        var state = OptimizerState()
        for _ in 0..<epochs {
            _ = try net.trainEpochSteps(data, order: &order, resumingAt: nil, parameters: sgd, state: &state, rng: &rng,
                                        progress: nil, pause: { _ in false }, fuseDenseSteps: fused)
        }
        return net
    }

    /// The largest |a - b| relative to max(1, |b|) over all parameters.
    func worstDifference(_ a: Network, _ b: Network) -> Double {
        zip(a.parameters, b.parameters).reduce(0.0) { worst, pair in
            max(worst, Double(abs(pair.0 - pair.1)) / max(1, Double(abs(pair.1))))
        }
    }

    @Test(arguments: [
        // The book's chapter 1 and 3 MLPs (one part), L2 and none; a last mini-batch of 3.
        ("fc30:sigmoid,fc10:sigmoid", [64], CostKind.crossEntropy, 0.0, 10, 43),
        ("fc30:sigmoid,fc10:sigmoid", [64], CostKind.quadratic, 5.0, 10, 43),
        // Mini-batches above the tiled loop's 32 rows (the sgemm path).
        ("fc20:tanh,softmax10", [40], CostKind.logLikelihood, 1.0, 40, 90),
        // A network3-style net split in two parts per batch, with dropout and a convolution
        // (updated through the gradient buffer) below the fused dense layers.
        ("convpool4x5:relu,fc500:relu:drop0.5,softmax10:drop0.5", [1, 28, 28], CostKind.logLikelihood, 0.1, 10, 25),
    ])
    func fusedEqualsUnfusedWithinRounding(spec: String, inputShape: [Int], cost: CostKind, lambda: Double,
                                          miniBatch: Int, count: Int) throws {
        let arch = try Architecture.parse(spec, inputShape: inputShape)
        var rng = SeededGenerator(seed: 3)
        let start = try Network(architecture: arch, cost: cost, weightInit: .scaledNormal, rng: &rng)
        let data = try randomDataset(count: count, inputSize: inputShape.reduce(1, *), classes: 10, seed: 4)
        let sgd = SGDParameters(eta: 0.1, lambda: lambda, miniBatchSize: miniBatch, trainingExamples: count)
        let fused = try train(start, data, sgd, epochs: 2, fused: true)
        let unfused = try train(start, data, sgd, epochs: 2, fused: false)
        #expect(fused.parameters != start.parameters)
        let worst = worstDifference(fused, unfused)
        #expect(worst < 1e-4, "\(spec) (\(Kernels.active.name)): worst relative difference \(worst)")
        // Deterministic, and independent of the number of threads (the heavy net's parts run
        // on two threads, and its fused step splits each dense layer's rows between them).
        #expect(try train(start, data, sgd, epochs: 2, fused: true) == fused)
        #expect(try train(start, data, sgd, epochs: 2, fused: true, threads: 2) == fused)
    }

    /// Momentum and L1 keep the unfused step: the flag changes nothing there, bit for bit.
    @Test(arguments: [(0.5, 0.0, Regularization.l2), (0.0, 2.0, .l1), (0.3, 1.0, .l1)])
    func momentumAndL1AreNotFused(momentum: Double, lambda: Double, regularization: Regularization) throws {
        let arch = try Architecture.parse("fc30:sigmoid,fc10:sigmoid", inputShape: [64])
        var rng = SeededGenerator(seed: 3)
        let start = try Network(architecture: arch, cost: .crossEntropy, weightInit: .scaledNormal, rng: &rng)
        let data = try randomDataset(count: 43, inputSize: 64, classes: 10, seed: 4)
        let sgd = SGDParameters(eta: 0.1, lambda: lambda, regularization: regularization, momentum: momentum,
                                miniBatchSize: 10, trainingExamples: 43)
        let a = try train(start, data, sgd, epochs: 2, fused: true)
        #expect(a == (try train(start, data, sgd, epochs: 2, fused: false)))
        #expect(a.parameters != start.parameters)
    }
}
