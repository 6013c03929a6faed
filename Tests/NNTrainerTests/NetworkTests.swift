import Foundation
import Testing
import NNModel
@testable import NNTrainer

@Suite struct NetworkTests {
    @Test(arguments: [CostKind.quadratic, CostKind.crossEntropy])
    func backpropMatchesFiniteDifferences(cost: CostKind) throws {
        var rng = SeededGenerator(seed: 11)
        let sizes = [5, 4, 3, 3]
        let net = try Network(sizes: sizes, cost: cost, weightInit: .scaledNormal, rng: &rng)
        let data = try randomDataset(count: 6, inputSize: 5, classes: 3, seed: 12)
        let indices = Array(0..<6)
        let g = try net.gradient(on: data, indices: indices)
        let p = net.parameters.map(Double.init)
        let h = 1e-6
        var worst = 0.0
        for i in 0..<p.count {
            var plus = p, minus = p
            plus[i] += h
            minus[i] -= h
            let numeric = (referenceCost(sizes: sizes, cost: cost, p: plus, data: data, indices: indices)
                - referenceCost(sizes: sizes, cost: cost, p: minus, data: data, indices: indices)) / (2 * h)
            let err = abs(numeric - Double(g[i])) / max(1e-3, abs(numeric) + abs(Double(g[i])))
            worst = max(worst, err)
        }
        #expect(worst < 2e-3, "worst relative error \(worst)")
    }

    @Test func evaluationCostMatchesReference() throws {
        var rng = SeededGenerator(seed: 3)
        for cost in [CostKind.quadratic, .crossEntropy] {
            let net = try Network(sizes: [4, 3, 2], cost: cost, weightInit: .standardNormal, rng: &rng)
            let data = try randomDataset(count: 7, inputSize: 4, classes: 2, seed: 4)
            let lambda = 0.7
            let expected = referenceCost(sizes: net.sizes, cost: cost, p: net.parameters.map(Double.init),
                                         data: data, indices: Array(0..<7)) / 7
                + 0.5 * (lambda / 7) * net.sumOfSquaredWeights
            let r = try net.evaluate(data, lambda: lambda, batchSize: 3)
            #expect(abs((r.cost ?? .nan) - expected) < 1e-5 * max(1, expected))
            #expect(r.confusion.joined().reduce(0, +) == 7)
            #expect(r.correct == (0..<2).reduce(0) { $0 + r.confusion[$1][$1] })
            let manual = try (0..<7).filter { try net.predict(Array(data.input($0))) == Int(data.labels[$0]) }.count
            #expect(manual == r.correct)
        }
    }

    @Test func learnsXOR() throws {
        var rng = SeededGenerator(seed: 2024)
        var net = try Network(sizes: [2, 4, 2], cost: .crossEntropy, weightInit: .standardNormal, rng: &rng)
        let data = try xorDataset()
        try net.sgd(trainingData: data, epochs: 2000, miniBatchSize: 4, eta: 2.0, rng: &rng)
        #expect(try net.accuracy(data) == 4)
        for i in 0..<4 {
            let out = try net.feedforward(Array(data.input(i)))
            let label = Int(data.labels[i])
            #expect(out[label] > 0.8 && out[1 - label] < 0.2, "example \(i): \(out)")
        }
    }

    /// [2, 1, 2], a mini-batch of two examples, worked through by hand (in Double).
    @Test(arguments: [0.0, 2.0])
    func oneSGDStepMatchesHandCalculation(lambda: Double) throws {
        // Parameters: w1 = [0.1, -0.2], b1 = 0.3; w2 = [0.4, -0.5] (2x1), b2 = [0.1, 0.2].
        let params: [Float] = [0.1, -0.2, 0.3, 0.4, -0.5, 0.1, 0.2]
        var net = try Network(sizes: [2, 1, 2], cost: .quadratic, parameters: params)
        let data = try Dataset(inputSize: 2, images: [1.0, 0.5, -1.0, 2.0], labels: [0, 1])
        let eta = 0.5, n = 10
        // By hand.
        var nW1 = [0.0, 0.0], nB1 = 0.0, nW2 = [0.0, 0.0], nB2 = [0.0, 0.0]
        for (x, label) in [([1.0, 0.5], 0), ([-1.0, 2.0], 1)] {
            let z1 = 0.1 * x[0] - 0.2 * x[1] + 0.3
            let a1 = sigmoidD(z1)
            let z2 = [0.4 * a1 + 0.1, -0.5 * a1 + 0.2]
            let a2 = z2.map(sigmoidD)
            let y = [label == 0 ? 1.0 : 0.0, label == 1 ? 1.0 : 0.0]
            // (BP1) quadratic: (a - y) σ'(z)
            let d2 = (0..<2).map { (a2[$0] - y[$0]) * a2[$0] * (1 - a2[$0]) }
            // (BP2)
            let d1 = (0.4 * d2[0] - 0.5 * d2[1]) * a1 * (1 - a1)
            // (BP3), (BP4)
            nB2[0] += d2[0]; nB2[1] += d2[1]
            nW2[0] += d2[0] * a1; nW2[1] += d2[1] * a1
            nB1 += d1
            nW1[0] += d1 * x[0]; nW1[1] += d1 * x[1]
        }
        let decay = 1 - eta * lambda / Double(n), step = eta / 2
        let expected: [Double] = [
            decay * 0.1 - step * nW1[0], decay * -0.2 - step * nW1[1], 0.3 - step * nB1,
            decay * 0.4 - step * nW2[0], decay * -0.5 - step * nW2[1], 0.1 - step * nB2[0], 0.2 - step * nB2[1],
        ]
        try net.updateMiniBatch(data, indices: [0, 1], eta: eta, lambda: lambda, n: n)
        for i in 0..<7 {
            #expect(abs(Double(net.parameters[i]) - expected[i]) < 1e-6, "parameter \(i)")
        }
        if lambda > 0 { #expect(abs(Double(net.parameters[0]) - (0.1 - step * nW1[0])) > 1e-3) }
    }

    @Test func crossEntropyDeltaHasNoSigmaPrime() throws {
        // One neuron, saturated wrong: quadratic learns slowly, cross-entropy does not (ch. 3).
        let data = try Dataset(inputSize: 1, images: [1], labels: [0])
        for (cost, fast) in [(CostKind.quadratic, false), (.crossEntropy, true)] {
            let net = try Network(sizes: [1, 1], cost: cost, parameters: [-4, -4])
            let g = try net.gradient(on: data, indices: [0])
            let a = sigmoidD(-8)
            let expected = cost == .quadratic ? (a - 1) * a * (1 - a) : a - 1
            #expect(abs(Double(g[1]) - expected) < 1e-6)
            #expect((abs(g[1]) > 0.5) == fast)
        }
    }

    @Test func sameSeedSameWeightsDifferentSeedDifferent() throws {
        let data = try randomDataset(count: 50, inputSize: 6, classes: 3, seed: 1)
        func run(_ seed: UInt64) throws -> Network {
            var rng = SeededGenerator(seed: seed)
            var net = try Network(sizes: [6, 5, 3], cost: .crossEntropy, rng: &rng)
            try net.sgd(trainingData: data, epochs: 3, miniBatchSize: 7, eta: 0.5, lambda: 0.1, rng: &rng)
            return net
        }
        let a = try run(1), b = try run(1), c = try run(2)
        #expect(a.parameters.map(\.bitPattern) == b.parameters.map(\.bitPattern))
        #expect(a.parameters != c.parameters)
    }

    @Test func initialisationScales() throws {
        var rng = SeededGenerator(seed: 5)
        let scaled = try Network(sizes: [400, 50], weightInit: .scaledNormal, rng: &rng)
        let large = try Network(sizes: [400, 50], weightInit: .standardNormal, rng: &rng)
        func std(_ x: [Float]) -> Double {
            let m = x.reduce(0.0) { $0 + Double($1) } / Double(x.count)
            return (x.reduce(0.0) { $0 + (Double($1) - m) * (Double($1) - m) } / Double(x.count)).squareRoot()
        }
        #expect(abs(std(scaled.weights(layer: 0)) - 0.05) < 0.005)   // 1/sqrt(400)
        #expect(abs(std(large.weights(layer: 0)) - 1) < 0.05)
        #expect(abs(std(scaled.biases(layer: 0)) - 1) < 0.35)
    }

    @Test func monitoringAndObserverEvents() throws {
        var rng = SeededGenerator(seed: 8)
        var net = try Network(sizes: [6, 4, 3], rng: &rng)
        let train = try randomDataset(count: 95, inputSize: 6, classes: 3, seed: 2)
        let eval = try randomDataset(count: 20, inputSize: 6, classes: 3, seed: 3)
        var events: [TrainingEvent] = []
        let history = try net.sgd(trainingData: train, epochs: 2, miniBatchSize: 10, eta: 0.5, lambda: 1.0,
                                  evaluationData: eval, monitor: [.trainingCost, .evaluationAccuracy],
                                  rng: &rng, observer: { events.append($0) })
        #expect(history.map(\.epoch) == [1, 2])
        #expect(history[0].training?.cost != nil && history[0].training?.correct == nil)
        #expect(history[0].evaluation?.correct != nil && history[0].evaluation?.cost == nil)
        #expect(history[0].evaluation?.total == 20)
        let expectedCost = try net.totalCost(train, lambda: 1.0)
        #expect(history[1].training?.cost == expectedCost)
        let progress = events.compactMap { if case .progress(let p) = $0 { p } else { nil } }
        #expect(progress.count == 20)
        #expect(progress.last == TrainingProgress(epoch: 2, miniBatchesDone: 10, miniBatchesTotal: 10))
        let ends = events.compactMap { if case .epochEnded(let m) = $0 { m } else { nil } }
        #expect(ends == history)
        // Continued training counts on.
        let more = try net.sgd(trainingData: train, epochs: 1, miniBatchSize: 10, eta: 0.5, rng: &rng)
        #expect(more.map(\.epoch) == [3])
        #expect(net.history.count == 3)
    }

    @Test func rejectsBadArguments() throws {
        var rng = SeededGenerator(seed: 1)
        #expect(throws: TrainerError.self) { try Network(sizes: [3], rng: &rng) }
        #expect(throws: TrainerError.self) { try Network(sizes: [3, 0, 2], rng: &rng) }
        #expect(throws: TrainerError.self) { try Network(sizes: [3, 2], cost: .logLikelihood, rng: &rng) }
        var net = try Network(sizes: [2, 2], rng: &rng)
        let data = try xorDataset()
        #expect(throws: TrainerError.self) { try net.sgd(trainingData: data, epochs: 1, miniBatchSize: 0, eta: 1, rng: &rng) }
        #expect(throws: TrainerError.self) { try net.sgd(trainingData: data, epochs: 1, miniBatchSize: 1, eta: -1, rng: &rng) }
        let wide = try Dataset(inputSize: 3, images: [0, 0, 0], labels: [0])
        #expect(throws: TrainerError.self) { try net.evaluate(wide) }
        let badLabel = try Dataset(inputSize: 2, images: [0, 0], labels: [5])
        #expect(throws: TrainerError.self) { try net.evaluate(badLabel) }
        #expect(throws: TrainerError.self) { try net.feedforward([1]) }
    }
}
