import Foundation
import Testing
import NNModel
@testable import NNTrainer

/// Backpropagation through every layer kind, activation and cost against finite differences of
/// the independent Double reference (Reference.swift).
@Suite struct LayerGradientTests {
    @Test(arguments: [
        ("conv3x3:tanh,fc4:sigmoid", [1, 6, 6], CostKind.crossEntropy),          // convolution
        ("convpool2x3:sigmoid,softmax3", [2, 7, 7], .logLikelihood),              // network3's ConvPoolLayer, pool remainder
        ("conv2x3:relu,pool2,fc3:tanh", [1, 7, 7], .quadratic),                   // plain pooling after ReLU
        ("conv2x2:linear,pool2:sigmoid,fc3", [1, 5, 5], .crossEntropy),           // pooling with an activation
        ("fc5:tanh,fc4:relu,fc4:linear,fc3:sigmoid", [4], .quadratic),             // every activation
        ("fc5:tanh,fc4:sigmoid,fc3:relu", [4], .quadratic),                       // quadratic cost with ReLU output
        ("fc5:relu,fc3:tanh", [4], .quadratic),                                   // ... and tanh output
        ("fc5:tanh,softmax3", [4], .logLikelihood),                               // softmax + log-likelihood
        ("fc5:sigmoid:drop0.3,softmax3:drop0.5", [4], .logLikelihood),            // dropout at inference: (1 - p) W x
    ])
    func backpropMatchesReference(spec: String, inputShape: [Int], cost: CostKind) throws {
        let arch = try Architecture.parse(spec, inputShape: inputShape)
        var rng = SeededGenerator(seed: 17)
        let net = try Network(architecture: arch, cost: cost, weightInit: .scaledNormal, rng: &rng)
        let data = try randomDataset(count: 4, inputSize: inputShape.reduce(1, *), classes: 3, seed: 18)
        let indices = [0, 1, 2, 3]
        let g = try net.gradient(on: data, indices: indices)
        let worst = worstRelativeError(g, at: net.parameters.map(Double.init)) {
            referenceSummedCost(arch, cost, p: $0, data: data, indices: indices)
        }
        #expect(worst < 2e-3, "\(spec): worst relative error \(worst)")
    }

    @Test func dropoutWithAFixedMask() throws {
        let arch = try Architecture.parse("fc6:tanh:drop0.4,fc5:relu:drop0.3,softmax3:drop0.5", inputShape: [5])
        var rng = SeededGenerator(seed: 5)
        let net = try Network(architecture: arch, cost: .logLikelihood, weightInit: .scaledNormal, rng: &rng)
        let data = try randomDataset(count: 3, inputSize: 5, classes: 3, seed: 6)
        let indices = [0, 1, 2]
        let ws = try Workspace(stages: net.stages, inputCount: 5, batchCapacity: 3)
        try ws.gather(data, indices[...])
        let topology = net.topology
        topology.drawDropoutMasks(ws, rows: 3, rng: &rng)
        // The masks, per example and layer, for the reference (dense stages are the spec layers).
        var masks: [[Int: [Double]]] = []
        var dropped = 0, total = 0
        for r in 0..<3 {
            var m: [Int: [Double]] = [:]
            for (s, st) in net.stages.enumerated() {
                let row = (0..<st.inCount).map { Double(ws.mask(s)[r * st.inCount + $0]) }
                #expect(row.allSatisfy { $0 == 0 || $0 == 1 })
                dropped += row.filter { $0 == 0 }.count
                total += row.count
                m[s] = row
            }
            masks.append(m)
        }
        #expect(dropped > 0 && dropped < total)
        var nabla = [Float](repeating: 0, count: net.parameters.count)
        net.parameters.withUnsafeBufferPointer { p in
            nabla.withUnsafeMutableBufferPointer { n in
                topology.backprop(p.baseAddress!, ws, rows: 3, training: true, nabla: n.baseAddress!)
            }
        }
        let worst = worstRelativeError(nabla, at: net.parameters.map(Double.init)) {
            referenceSummedCost(arch, .logLikelihood, p: $0, data: data, indices: indices, masks: masks)
        }
        #expect(worst < 2e-3, "worst relative error \(worst)")
    }

    @Test func dropoutMasksKeepWithProbabilityOneMinusP() throws {
        let arch = try Architecture.parse("fc4:drop0.25,softmax2", inputShape: [1000])
        var rng = SeededGenerator(seed: 1)
        let net = try Network(architecture: arch, cost: .logLikelihood, weightInit: .scaledNormal, rng: &rng)
        let ws = try Workspace(stages: net.stages, inputCount: 1000, batchCapacity: 20)
        net.topology.drawDropoutMasks(ws, rows: 20, rng: &rng)
        let zeros = (0..<20_000).filter { ws.mask(0)[$0] == 0 }.count
        #expect(abs(Double(zeros) / 20_000 - 0.25) < 0.01)
    }

    /// One step on the whole (tiny) training set is w → w − η ∂C/∂w, where C is the mean cost plus
    /// the regularisation term, differentiated numerically in Double.
    @Test(arguments: [Regularization.l2, .l1])
    func regularisationTermsMatchFiniteDifferences(regularization: Regularization) throws {
        let arch = try Architecture.parse("fc4:tanh,softmax3", inputShape: [3])
        var rng = SeededGenerator(seed: 9)
        var net = try Network(architecture: arch, cost: .logLikelihood, weightInit: .standardNormal, rng: &rng)
        let data = try randomDataset(count: 5, inputSize: 3, classes: 3, seed: 10)
        let lambda = 0.7, eta = 0.2, n = 5.0
        let isWeight = Set(net.layout.flatMap { $0.weightOffset ..< $0.weightOffset + $0.weightCount })
        func total(_ p: [Double]) -> Double {
            var r = 0.0
            for i in isWeight { r += regularization == .l2 ? 0.5 * lambda / n * p[i] * p[i] : lambda / n * abs(p[i]) }
            return referenceSummedCost(arch, .logLikelihood, p: p, data: data, indices: Array(0..<5)) / n + r
        }
        let p0 = net.parameters.map(Double.init)
        // evaluate's total cost is the same function.
        let evaluated = try net.evaluate(data, lambda: lambda, regularization: regularization).cost ?? .nan
        #expect(abs(evaluated - total(p0)) < 1e-5 * max(1, total(p0)))
        // Numerical ∂C/∂p.
        let h = 1e-6
        let numeric = (0..<p0.count).map { i -> Double in
            var plus = p0, minus = p0
            plus[i] += h
            minus[i] -= h
            return (total(plus) - total(minus)) / (2 * h)
        }
        var order = Array(0..<5)
        var state = OptimizerState()
        try net.trainEpoch(data, order: &order, parameters: SGDParameters(eta: eta, lambda: lambda, regularization: regularization,
                                                                          miniBatchSize: 5, trainingExamples: 5),
                           state: &state, rng: &rng, progress: nil)
        #expect(state.velocity.isEmpty)
        for i in 0..<p0.count {
            let expected = p0[i] - eta * numeric[i]
            #expect(abs(Double(net.parameters[i]) - expected) < 1e-5, "parameter \(i) (\(isWeight.contains(i) ? "weight" : "bias"))")
        }
    }

    @Test func l1TakesSgnOfZeroAsZero() throws {
        #expect(signum(0) == 0 && signum(-0.0) == 0 && signum(2) == 1 && signum(-3) == -1)
        // A zero weight moves by the gradient alone.
        var net = try Network(sizes: [2, 1], cost: .crossEntropy, parameters: [0, 0.5, 0.1])
        let data = try Dataset(inputSize: 2, images: [1, 2], labels: [0])
        let g = try net.gradient(on: data, indices: [0])
        var order = [0]
        var state = OptimizerState()
        var rng = SeededGenerator(seed: 1)
        try net.trainEpoch(data, order: &order, parameters: SGDParameters(eta: 0.5, lambda: 2, regularization: .l1,
                                                                          miniBatchSize: 1, trainingExamples: 4),
                           state: &state, rng: &rng, progress: nil)
        #expect(net.parameters[0] == -0.5 * g[0])
        #expect(net.parameters[1] == 0.5 - 0.25 * 1 - 0.5 * g[1])        // w − (ηλ/n) sgn(w) − (η/m) ∇w
    }

    /// Momentum over two steps, worked by hand from the (finite-difference-checked) gradient:
    /// v → μv − η(∇/m + R'(w)), w → w + v; biases v → μv − η∇b/m.
    @Test(arguments: [Regularization.l2, .l1])
    func momentumUpdateMatchesHandCalculation(regularization: Regularization) throws {
        let params: [Float] = [0.1, -0.2, 0.3, 0.4, -0.5, 0.1, 0.2]
        var net = try Network(sizes: [2, 1, 2], cost: .quadratic, parameters: params)
        let data = try Dataset(inputSize: 2, images: [1.0, 0.5, -1.0, 2.0], labels: [0, 1])
        let eta = 0.5, lambda = 0.8, mu = 0.6, n = 10.0, m = 2.0
        let weights: Set<Int> = [0, 1, 3, 4]
        var w = params.map(Double.init)
        var v = [Double](repeating: 0, count: 7)
        var order = [0, 1]
        var state = OptimizerState()
        var rng = SeededGenerator(seed: 3)
        let sgd = SGDParameters(eta: eta, lambda: lambda, regularization: regularization, momentum: mu,
                                miniBatchSize: 2, trainingExamples: 10)
        for step in 1...2 {
            let g = try net.gradient(on: data, indices: [0, 1]).map(Double.init)
            for i in 0..<7 {
                let reg = weights.contains(i) ? (regularization == .l2 ? lambda / n * w[i] : lambda / n * (w[i] > 0 ? 1 : -1)) : 0
                v[i] = mu * v[i] - eta * (g[i] / m + reg)
                w[i] += v[i]
            }
            try net.trainEpoch(data, order: &order, parameters: sgd, state: &state, rng: &rng, progress: nil)
            for i in 0..<7 {
                #expect(abs(Double(net.parameters[i]) - w[i]) < 1e-6, "step \(step), parameter \(i)")
                #expect(abs(Double(state.velocity[i]) - v[i]) < 1e-6, "step \(step), velocity \(i)")
            }
        }
        // A velocity of the wrong size is refused.
        var bad = OptimizerState(velocity: [0])
        #expect(throws: TrainerError.self) {
            try net.trainEpoch(data, order: &order, parameters: sgd, state: &bad, rng: &rng, progress: nil)
        }
    }

    /// With μ = 0 an epoch of one example is bit for bit `updateMiniBatch`, network2.py's step.
    @Test func zeroMomentumIsPlainSGDBitForBit() throws {
        var rng = SeededGenerator(seed: 4)
        let a = try Network(sizes: [5, 4, 3], cost: .crossEntropy, rng: &rng)
        let data = try randomDataset(count: 1, inputSize: 5, classes: 3, seed: 2)
        var b = a, c = a
        try b.updateMiniBatch(data, indices: [0], eta: 0.3, lambda: 0.5, n: 7)
        var order = [0]
        var state = OptimizerState()
        try c.trainEpoch(data, order: &order, parameters: SGDParameters(eta: 0.3, lambda: 0.5, miniBatchSize: 10, trainingExamples: 7),
                         state: &state, rng: &rng, progress: nil)
        #expect(b.parameters.map(\.bitPattern) == c.parameters.map(\.bitPattern))
        #expect(b.parameters != a.parameters)
    }
}

@Suite struct ConvNetTests {
    /// network3's ConvPoolLayer + softmax learns horizontal vs vertical bars in a few epochs.
    @Test func smallConvNetLearnsBars() throws {
        let arch = try Architecture.parse("convpool4x3:relu,softmax2", inputShape: [1, 8, 8])
        var rng = SeededGenerator(seed: 42)
        var net = try Network(architecture: arch, cost: .logLikelihood, weightInit: .network3, rng: &rng)
        let train = try barsDataset(count: 300, seed: 1)
        let test = try barsDataset(count: 200, seed: 2)
        let before = try net.evaluate(test, includeCost: false).correct
        var order = Array(0..<train.count)
        var state = OptimizerState()
        var calls: [(Int, Int)] = []
        for _ in 0..<4 {
            try net.trainEpoch(train, order: &order, parameters: SGDParameters(eta: 0.3, miniBatchSize: 10, trainingExamples: 300),
                               state: &state, rng: &rng, progress: { calls.append(($0, $1)) })
        }
        let after = try net.evaluate(test, includeCost: false).correct
        #expect(after >= 196, "\(before) -> \(after) of 200 correct")
        #expect(calls.count == 4 * 30 && calls.last! == (30, 30))
        #expect(Set(order) == Set(0..<300))
    }

    @Test func sameSeedSameNetworkIncludingDropout() throws {
        let arch = try Architecture.parse("conv2x3:relu,pool2,fc6:relu:drop0.5,softmax3:drop0.2", inputShape: [1, 6, 6])
        let data = try randomDataset(count: 40, inputSize: 36, classes: 3, seed: 7)
        func run(_ seed: UInt64, _ arch: Architecture) throws -> Network {
            var rng = SeededGenerator(seed: seed)
            var net = try Network(architecture: arch, cost: .logLikelihood, weightInit: .network3, rng: &rng)
            var order = Array(0..<40)
            var state = OptimizerState()
            for _ in 0..<2 {
                try net.trainEpoch(data, order: &order, parameters: SGDParameters(eta: 0.1, lambda: 0.1, momentum: 0.5,
                                                                                  miniBatchSize: 8, trainingExamples: 40),
                                   state: &state, rng: &rng, progress: nil)
            }
            return net
        }
        let a = try run(1, arch), b = try run(1, arch), c = try run(2, arch)
        #expect(a.parameters.map(\.bitPattern) == b.parameters.map(\.bitPattern))
        #expect(a.parameters != c.parameters)
        // The masks matter: the same run without dropout ends elsewhere.
        var noDropout = arch
        noDropout.layers[2] = .dense(units: 6, activation: .relu, dropout: 0)
        noDropout.layers[3] = .softmax(units: 3, dropout: 0)
        #expect(try run(1, noDropout).parameters != a.parameters)
    }

    /// A heavy network's batches are split in two parts (one per thread); one thread or two give
    /// the same bits.
    @Test func resultsDoNotDependOnThreads() throws {
        let arch = try Architecture.parse("conv8x5:relu,fc200:drop0.5,softmax3", inputShape: [1, 20, 20])
        let data = try randomDataset(count: 30, inputSize: 400, classes: 3, seed: 8)
        var rng = SeededGenerator(seed: 5)
        let start = try Network(architecture: arch, cost: .logLikelihood, weightInit: .network3, rng: &rng)
        #expect(start.topology.partCount == 2)
        #expect(try Network(sizes: [784, 100, 10], rng: &rng).topology.partCount == 1)
        var results: [(Network, EvaluationResult)] = []
        for threads in [1, 2] {
            var net = start
            net.threads = threads
            var r = SeededGenerator(seed: 9)
            var order = Array(0..<30)
            var state = OptimizerState()
            for _ in 0..<2 {
                try net.trainEpoch(data, order: &order, parameters: SGDParameters(eta: 0.05, momentum: 0.3, miniBatchSize: 7,
                                                                                  trainingExamples: 30),
                                   state: &state, rng: &r, progress: nil)
            }
            results.append((net, try net.evaluate(data, lambda: 0.1, batchSize: 4)))
        }
        #expect(results[0].0 == results[1].0 && results[0].0 != start)
        #expect(results[0].1 == results[1].1)
        #expect(results[0].1.confusion.joined().reduce(0, +) == 30)
    }

    @Test func initialisations() throws {
        let arch = try Architecture.parse("convpool20x5,fc100,softmax10")
        var rng = SeededGenerator(seed: 3)
        func std(_ x: [Float]) -> Double {
            let m = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
            return (x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(x.count)).squareRoot()
        }
        let n3 = try Network(architecture: arch, cost: .logLikelihood, weightInit: .network3, rng: &rng)
        #expect(n3.layout.map(\.inFeatures) == [25, 2880, 100] && n3.layout.map(\.outFeatures) == [20, 100, 10])
        #expect(abs(std(n3.weights(layer: 0)) - (1.0 / 125).squareRoot()) < 0.01)     // n_out = 20*5*5/(2*2)
        #expect(abs(std(n3.weights(layer: 1)) - 0.1) < 0.005)                         // n_out = 100
        #expect(n3.weights(layer: 2).allSatisfy { $0 == 0 } && n3.biases(layer: 2).allSatisfy { $0 == 0 })
        #expect(abs(std(n3.biases(layer: 1)) - 1) < 0.2)
        let scaled = try Network(architecture: arch, cost: .logLikelihood, weightInit: .scaledNormal, rng: &rng)
        #expect(abs(std(scaled.weights(layer: 0)) - 0.2) < 0.02)                       // n_in = 1*5*5
        #expect(abs(std(scaled.weights(layer: 1)) - (1.0 / 2880).squareRoot()) < 0.002)
        #expect(std(scaled.weights(layer: 2)) > 0)
        let large = try Network(architecture: arch, cost: .logLikelihood, weightInit: .standardNormal, rng: &rng)
        #expect(abs(std(large.weights(layer: 1)) - 1) < 0.02)
        #expect(n3.sizes == [784, 2880, 100, 10])
    }

    @Test func costsMustFitTheOutputLayer() throws {
        var rng = SeededGenerator(seed: 1)
        let softmax = try Architecture.parse("fc5,softmax3", inputShape: [4])
        let relu = try Architecture.parse("fc5,fc3:relu", inputShape: [4])
        let sigmoid = try Architecture.parse("fc5,fc3", inputShape: [4])
        for (arch, cost, ok) in [(softmax, CostKind.logLikelihood, true), (softmax, .crossEntropy, false), (softmax, .quadratic, false),
                                 (relu, .quadratic, true), (relu, .crossEntropy, false), (relu, .logLikelihood, false),
                                 (sigmoid, .crossEntropy, true), (sigmoid, .quadratic, true), (sigmoid, .logLikelihood, false)] {
            if ok {
                _ = try Network(architecture: arch, cost: cost, weightInit: .scaledNormal, rng: &rng)
            } else {
                #expect(throws: TrainerError.self, "\(arch) with \(cost.name)") {
                    try Network(architecture: arch, cost: cost, weightInit: .scaledNormal, rng: &rng)
                }
            }
        }
        // A settable cost is checked again before use.
        var net = try Network(architecture: sigmoid, cost: .crossEntropy, weightInit: .scaledNormal, rng: &rng)
        net.cost = .logLikelihood
        let data = try randomDataset(count: 2, inputSize: 4, classes: 3, seed: 1)
        #expect(throws: TrainerError.self) { try net.evaluate(data) }
    }

    @Test func evaluationCostOfSoftmaxNetMatchesReference() throws {
        let arch = try Architecture.parse("conv2x3:tanh,pool2,fc4:relu:drop0.5,softmax3", inputShape: [1, 7, 7])
        var rng = SeededGenerator(seed: 12)
        let net = try Network(architecture: arch, cost: .logLikelihood, weightInit: .scaledNormal, rng: &rng)
        let data = try randomDataset(count: 9, inputSize: 49, classes: 3, seed: 13)
        let p = net.parameters.map(Double.init)
        let expected = referenceSummedCost(arch, .logLikelihood, p: p, data: data, indices: Array(0..<9)) / 9
            + 0.4 / 9 * net.sumOfAbsoluteWeights
        let r = try net.evaluate(data, lambda: 0.4, regularization: .l1, batchSize: 4)
        #expect(abs((r.cost ?? .nan) - expected) < 1e-5)
        for i in 0..<9 {
            let out = try net.feedforward(Array(data.input(i)))
            let ref = referenceForward(arch, p: p, input: data.input(i).map(Double.init))
            #expect(zip(out, ref).allSatisfy { abs(Double($0) - $1) < 1e-5 })
        }
    }

    @Test func gradientNormsAreTheMeanBiasGradients() throws {
        var rng = SeededGenerator(seed: 2)
        let net = try Network(sizes: [6, 5, 4, 3], cost: .crossEntropy, rng: &rng)
        let data = try randomDataset(count: 250, inputSize: 6, classes: 3, seed: 4)
        let norms = try net.gradientNorms(on: data, count: 230)
        let g = try net.gradient(on: data, indices: Array(0..<230))
        #expect(norms.count == 3)
        for (l, v) in net.layout.enumerated() {
            let expected = (0..<v.outFeatures).reduce(0.0) { s, j in
                let x = Double(g[v.biasOffset + j]) / 230
                return s + x * x
            }.squareRoot()
            #expect(abs(norms[l] - expected) < 1e-5 * max(expected, 1e-3))
        }
        #expect(try net.gradientNorms(on: data, count: 5000) == net.gradientNorms(on: data, count: 250))
        #expect(throws: TrainerError.self) { try net.gradientNorms(on: data, count: 0) }
    }

    @Test func trainEpochRejectsBadArguments() throws {
        var rng = SeededGenerator(seed: 1)
        var net = try Network(sizes: [2, 2], rng: &rng)
        let data = try xorDataset()
        var state = OptimizerState()
        let good = SGDParameters(eta: 1, miniBatchSize: 2, trainingExamples: 4)
        var order = [0, 1, 7]
        #expect(throws: TrainerError.self) { try net.trainEpoch(data, order: &order, parameters: good, state: &state, rng: &rng, progress: nil) }
        order = []
        #expect(throws: TrainerError.self) { try net.trainEpoch(data, order: &order, parameters: good, state: &state, rng: &rng, progress: nil) }
        order = [0, 1, 2, 3]
        for bad in [SGDParameters(eta: 0, miniBatchSize: 2, trainingExamples: 4),
                    SGDParameters(eta: 1, lambda: -1, miniBatchSize: 2, trainingExamples: 4),
                    SGDParameters(eta: 1, momentum: 1, miniBatchSize: 2, trainingExamples: 4),
                    SGDParameters(eta: 1, miniBatchSize: 0, trainingExamples: 4),
                    SGDParameters(eta: 1, miniBatchSize: 2, trainingExamples: 0)] {
            #expect(throws: TrainerError.self) { try net.trainEpoch(data, order: &order, parameters: bad, state: &state, rng: &rng, progress: nil) }
        }
        #expect(order == [0, 1, 2, 3])
    }
}

@Suite struct LayerExportTests {
    /// Every layer kind through the model format and back: the same network, the same outputs.
    @Test func everyLayerKindRoundTrips() throws {
        let arch = try Architecture.parse("convpool3x3:relu,conv2x2:tanh,pool2:sigmoid,fc5:linear:drop0.25,fc4:relu,softmax3:drop0.5",
                                          inputShape: [1, 12, 12])
        var rng = SeededGenerator(seed: 31)
        var net = try Network(architecture: arch, cost: .logLikelihood, weightInit: .scaledNormal, rng: &rng)
        net.history = [EpochMetrics(epoch: 1, seconds: 0.5, gradientNorms: [0.1, 0.2, 0.3, 0.4, 0.5])]
        var prov = Provenance()
        prov.hyperparameters = Hyperparameters(sizes: net.sizes, cost: .logLikelihood, eta: 0.1, lambda: 0, miniBatchSize: 10,
                                               epochs: 1, weightInit: .scaledNormal, trainingExamples: 100)
        let model = net.model(classLabels: ["a", "b", "c"], input: InputContract(shape: [1, 12, 12], scale: 1, offset: 0, polarity: .lightOnDark),
                              provenance: prov)
        #expect(model.layers.map(\.name) == ["conv1", "pool1", "conv2", "pool2", "fc1", "fc2", "softmax"])
        #expect(model.layers.map(\.kind) == [.conv2d, .maxPool2d, .conv2d, .maxPool2d, .dense, .dense, .dense])
        #expect(model.layers.map(\.activation) == [.linear, .relu, .tanh, .sigmoid, .linear, .relu, .softmax])
        #expect(model.layers.map(\.dropout) == [0, 0, 0, 0, 0.25, 0, 0.5])
        #expect(model.layers.map(\.outputShape) == [[3, 10, 10], [3, 5, 5], [2, 4, 4], [2, 2, 2], [5], [4], [3]])
        #expect(model.layers[0].weights.shape == [3, 1, 3, 3] && model.layers[1].poolShape == [2, 2])
        #expect(model.provenance?.hyperparameters?.architecture == arch.description)
        #expect(model.name == "mnist-" + arch.description)

        let file = ModelFile(body: .network(model))
        #expect(file.minimumFormatVersion == 2)
        let decoded = try decodeModel(try encodeModel(file))
        #expect(decoded.body == file.body)
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        try writeModelFile(file, to: dir + "/conv.nnrt")
        guard case .network(let back) = try readModelFile(path: dir + "/conv.nnrt").body else {
            Issue.record("not a network")
            return
        }
        let net2 = try Network(model: back)
        #expect(net2 == net)
        #expect(net2.architecture.description == arch.description)
        let x = (0..<144).map { Float($0 % 11) / 11 }
        #expect(try net2.feedforward(x) == net.feedforward(x))
        // The plain conv2d(linear) + max_pool2d pair is a convPool layer, as network3 writes it.
        #expect(net2.architecture.layers[0] == .convPool(maps: 3, kernel: 3, pool: 2, activation: .relu))
    }

    @Test func importRejectsWhatTheTrainerCannotTrain() throws {
        let arch = try Architecture.parse("conv2x3:relu,pool2,softmax3", inputShape: [1, 8, 8])
        var rng = SeededGenerator(seed: 1)
        let net = try Network(architecture: arch, cost: .logLikelihood, weightInit: .scaledNormal, rng: &rng)
        func fails(_ change: (inout NetworkModel) -> Void, _ fragment: String) {
            var m = net.model()
            change(&m)
            #expect {
                try Network(model: m)
            } throws: { e in
                let message = (e as? TrainerError)?.message ?? ""
                return message.contains(fragment)
            }
        }
        fails({ $0.layers[0].weights.shape = [2, 1, 9, 1] }, "not square")
        fails({ $0.layers[1].poolShape = [2, 1] }, "not square")
        fails({ $0.layers[1].dropout = 0.5 }, "dropout on a max_pool2d layer")
        fails({ $0.layers[0].bias.data.removeLast() }, "bias have shape")
        fails({ $0.layers[1].outputShape = [2, 4, 4] }, "output shape [2, 4, 4] should be [2, 3, 3]")
        fails({ $0.layers[2].inputShape = [20] }, "expected [3, 20]")
        fails({ $0.cost = .crossEntropy }, "cross-entropy cost needs a sigmoid output layer")
        fails({ $0.layers[0].inputShape = [64] }, "conv2d needs a [C, H, W] input")
    }
}
