import Foundation
import NNModel
import NNTrainer
import Testing
@testable import NNRuntime

/// The runtime must compute what the trainer computed: a trained network, exported through the
/// model codec and loaded by the runtime, gives the trainer's outputs within 1e-5.
@Suite struct TrainerRoundTripTests {
    static let mnistDirectory = ProcessInfo.processInfo.environment["MNIST_DIR"].flatMap { $0.isEmpty ? nil : $0 }

    @Test(.enabled(if: mnistDirectory != nil, "needs MNIST_DIR (scripts/test.sh sets it)"))
    func runtimeMatchesTrainerOnMNISTTestImages() throws {
        let dir = try #require(Self.mnistDirectory)
        let data = try MNIST.load(directory: dir, split: MNISTSplit(trainingCount: 2_000, validationCount: 0, testLimit: 1_000))
        var rng = SeededGenerator(seed: 7)
        var network = try Network(sizes: [784, 30, 10], cost: .crossEntropy, weightInit: .scaledNormal, rng: &rng)
        try network.sgd(trainingData: data.training, epochs: 1, miniBatchSize: 10, eta: 0.5, lambda: 1.0, rng: &rng)

        let bytes = try encodeModel(ModelFile(body: .network(network.model())))
        let runtime = try bytes.withUnsafeBytes { buffer throws(ModelError) in try Model.load(bytes: buffer) }

        let test = data.test
        #expect(test.count == 1_000)
        let prediction = try runtime.predict(test.images)
        var maxDifference: Float = 0
        var labelMismatches = 0
        for i in 0..<test.count {
            let expected = try network.feedforward(Array(test.input(i)))
            let got = prediction.outputs[(i * 10)..<((i + 1) * 10)]
            for (e, g) in zip(expected, got) { maxDifference = max(maxDifference, abs(e - g)) }
            let expectedLabel = expected.indices.max { expected[$0] < expected[$1] || (expected[$0] == expected[$1] && $0 > $1) } ?? -1
            if Int(prediction.labels[i]) != expectedLabel { labelMismatches += 1 }
        }
        #expect(maxDifference <= 1e-5, "largest output difference \(maxDifference)")
        #expect(labelMismatches == 0)
    }

    /// A conv net with every layer kind (convpool, plain conv, pool, dense with dropout, softmax),
    /// trained briefly, agrees with the runtime on 1,000 MNIST test images.
    @Test(.enabled(if: mnistDirectory != nil, "needs MNIST_DIR (scripts/test.sh sets it)"))
    func runtimeMatchesTrainerOnAConvNet() throws {
        let dir = try #require(Self.mnistDirectory)
        let data = try MNIST.load(directory: dir, split: MNISTSplit(trainingCount: 300, validationCount: 0, testLimit: 1_000))
        var rng = SeededGenerator(seed: 11)
        let architecture = try Architecture.parse("convpool4x5:relu,conv6x3:tanh,pool2,fc20:relu:drop0.5,softmax10:drop0.2")
        var network = try Network(architecture: architecture, cost: .logLikelihood, weightInit: .network3, rng: &rng)
        var order = Array(0..<data.training.count)
        var state = OptimizerState()
        _ = try network.trainEpoch(data.training, order: &order,
                                   parameters: SGDParameters(eta: 0.03, lambda: 0.1, momentum: 0.5, miniBatchSize: 10,
                                                             trainingExamples: data.training.count),
                                   state: &state, rng: &rng, progress: nil)
        let model = network.model()
        #expect(model.layers.map(\.kind) == [.conv2d, .maxPool2d, .conv2d, .maxPool2d, .dense, .dense])
        try expectAgreement(ModelFile(body: .network(model)), trainers: [network], test: data.test)
    }

    /// A three-member ensemble file votes as the trainer's members do, for both rules.
    @Test(.enabled(if: mnistDirectory != nil, "needs MNIST_DIR (scripts/test.sh sets it)"))
    func runtimeEnsembleMatchesTrainerMembers() throws {
        let dir = try #require(Self.mnistDirectory)
        let data = try MNIST.load(directory: dir, split: MNISTSplit(trainingCount: 500, validationCount: 0, testLimit: 1_000))
        var members: [Network] = []
        for seed in 1...3 {
            var rng = SeededGenerator(seed: UInt64(seed))
            var network = try Network(architecture: Architecture.parse("fc20,softmax10"), cost: .logLikelihood,
                                      weightInit: .scaledNormal, rng: &rng)
            try network.sgd(trainingData: data.training, epochs: 1, miniBatchSize: 10, eta: 0.1, rng: &rng)
            members.append(network)
        }
        for rule in VotingRule.allCases {
            let file = ModelFile(body: .ensemble(EnsembleModel(name: "e", members: members.map { $0.model() }, voting: rule)))
            try expectAgreement(file, trainers: members, test: data.test, rule: rule)
        }
    }

    /// Loads `file` in the runtime and checks each member's outputs against the trainer's
    /// feed-forward (within 1e-5) and the combined prediction against the vote computed here.
    func expectAgreement(_ file: ModelFile, trainers: [Network], test: Dataset, rule: VotingRule = .meanProbability) throws {
        let bytes = try encodeModel(file)
        let runtime = try bytes.withUnsafeBytes { buffer throws(ModelError) in try Model.load(bytes: buffer) }
        let classes = 10, members = trainers.count
        var memberOutputs = [Float](repeating: 0, count: test.count * members * classes)
        try test.images.withUnsafeBufferPointer { x throws(ModelError) in
            try memberOutputs.withUnsafeMutableBufferPointer { o throws(ModelError) in
                try runtime.predictMembers(x, count: test.count, memberLabels: nil, memberOutputs: o)
            }
        }
        let prediction = try runtime.predict(test.images)
        var maxDifference: Float = 0
        var voteMismatches = 0
        for i in 0..<test.count {
            var sums = [Float](repeating: 0, count: classes), votes = [Int](repeating: 0, count: classes)
            for (m, trainer) in trainers.enumerated() {
                let expected = try trainer.feedforward(Array(test.input(i)))
                let got = memberOutputs[((i * members + m) * classes)..<((i * members + m + 1) * classes)]
                for (e, g) in zip(expected, got) { maxDifference = max(maxDifference, abs(e - g)) }
                for c in 0..<classes { sums[c] += got[got.startIndex + c] }
                votes[firstMax(Array(got))] += 1
            }
            let expectedLabel: Int
            switch rule {
            case .meanProbability:
                expectedLabel = firstMax(sums.map { $0 / Float(members) })
            case .majority:
                let top = votes.max() ?? 0
                expectedLabel = (0..<classes).filter { votes[$0] == top }
                    .max { sums[$0] < sums[$1] || (sums[$0] == sums[$1] && $0 > $1) } ?? -1
            }
            if Int(prediction.labels[i]) != expectedLabel { voteMismatches += 1 }
        }
        #expect(maxDifference <= 1e-5, "largest output difference \(maxDifference)")
        #expect(voteMismatches == 0, "\(voteMismatches) of \(test.count) combined predictions differ (\(rule))")
    }

    func firstMax(_ x: [Float]) -> Int {
        var best = 0
        for i in x.indices where x[i] > x[best] { best = i }
        return best
    }

    @Test func fileRoundTripThroughDisk() throws {
        var rng = SeededGenerator(seed: 3)
        let network = try Network(sizes: [784, 16, 10], cost: .quadratic, weightInit: .standardNormal, rng: &rng)
        let path = NSTemporaryDirectory() + "/nnrt-roundtrip-\(UUID().uuidString).nnrt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writeModelFile(ModelFile(body: .network(network.model())), to: path)
        let runtime = try Model.load(path: path)
        var input = [Float](repeating: 0, count: 784)
        for i in 0..<784 { input[i] = Float(i % 17) / 16 }
        let expected = try network.feedforward(input)
        let got = try runtime.predict(input).outputs
        for (e, g) in zip(expected, got) { #expect(abs(e - g) <= 1e-5) }
        // The trainer reads back what it wrote, bit for bit.
        let reread = try readModelFile(path: path)
        #expect(reread.networks.first?.layers == network.model().layers)
    }
}
