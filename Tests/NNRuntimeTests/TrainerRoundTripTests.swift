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
