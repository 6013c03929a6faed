import Foundation
import Testing
import NNModel
@testable import NNTrainer

@Suite struct ExportTests {
    @Test func networkModelRoundTripThroughCodecAndFile() throws {
        var rng = SeededGenerator(seed: 21)
        var net = try Network(sizes: [784, 8, 10], cost: .quadratic, weightInit: .standardNormal, rng: &rng)
        net.history = [EpochMetrics(epoch: 1, evaluation: SplitMetrics(total: 10000, correct: 9000), seconds: 1.5)]
        let config = TrainingConfig(sizes: [784, 8, 10], cost: .quadratic, eta: 3, epochs: 1, weightInit: .standardNormal,
                                    seed: 21, preset: "ch1")
        let prov = Provenance.training(config: config, sizes: net.sizes, cost: net.cost, trainingExamples: 50000,
                                       trainingSplit: "train[0:50000]", evaluationSplit: "t10k", history: net.history,
                                       command: "nnrt train --preset ch1", date: Date(timeIntervalSince1970: 1_800_000_000))
        let model = net.model(provenance: prov)
        #expect(model.layers.map(\.name) == ["fc1", "fc2"])
        #expect(model.layers.allSatisfy { $0.activation == .sigmoid && $0.kind == .dense })
        #expect(model.classLabels == (0..<10).map(String.init))
        #expect(model.input == .mnist)
        #expect(model.sizes == [784, 8, 10])
        #expect(model.provenance?.createdAt == "2027-01-15T08:00:00Z")
        #expect(model.provenance?.hyperparameters?.eta == 3)
        #expect(model.provenance?.preset == "ch1")

        let file = ModelFile(body: .network(model))
        try validateModel(file)
        let decoded = try decodeModel(try encodeModel(file))
        #expect(decoded.body == file.body)
        #expect(decoded.formatVersion == 1)         // an MLP needs nothing of format version 2
        let dir = makeTempDir()
        defer { removeTemp(dir) }
        try writeModelFile(file, to: dir + "/m.nnrt")
        let read = try readModelFile(path: dir + "/m.nnrt")
        guard case .network(let back) = read.body else { Issue.record("not a network"); return }
        let net2 = try Network(model: back)
        #expect(net2 == net)
        // Same outputs.
        let x = (0..<784).map { Float($0 % 13) / 13 }
        #expect(try net2.feedforward(x) == net.feedforward(x))
    }

    @Test func continuedTrainingNumbersEpochsOn() throws {
        var rng = SeededGenerator(seed: 4)
        var net = try Network(sizes: [6, 4, 3], rng: &rng)
        let data = try randomDataset(count: 30, inputSize: 6, classes: 3, seed: 9)
        try net.sgd(trainingData: data, epochs: 2, miniBatchSize: 5, eta: 0.5, rng: &rng)
        var prov = Provenance()
        prov.dataset = "random"
        var loaded = try Network(model: net.model(name: "t", provenance: prov))
        #expect(loaded.history.map(\.epoch) == [1, 2])
        try loaded.sgd(trainingData: data, epochs: 1, miniBatchSize: 5, eta: 0.5, rng: &rng)
        #expect(loaded.history.map(\.epoch) == [1, 2, 3])
        #expect(loaded.model(provenance: prov).provenance?.epochs.count == 3)
    }

    @Test func rejectsMismatchedCostsAndBadShapes() throws {
        var rng = SeededGenerator(seed: 1)
        let net = try Network(sizes: [3, 2, 2], rng: &rng)
        var model = net.model()
        model.layers[1].activation = .softmax
        #expect {
            try Network(model: model)
        } throws: { e in ((e as? TrainerError)?.message ?? "").contains("cross-entropy cost needs a sigmoid output layer, not softmax") }
        model.cost = .logLikelihood
        #expect(try Network(model: model).architecture.layers.last == .softmax(units: 2, dropout: 0))
        model = net.model()
        model.layers[0].activation = .softmax
        #expect {
            try Network(model: model)
        } throws: { e in ((e as? TrainerError)?.message ?? "").contains("softmax layer must be the last layer") }
        model = net.model()
        model.layers[0].weights.data.removeLast()
        #expect(throws: TrainerError.self) { try Network(model: model) }
        model = net.model()
        model.layers[1].inputShape = [3]
        #expect(throws: TrainerError.self) { try Network(model: model) }
        model = net.model()
        model.cost = .logLikelihood
        #expect(throws: TrainerError.self) { try Network(model: model) }
    }
}

@Suite struct Network2JSONTests {
    @Test func importsTheBooksFormat() throws {
        let json = """
        {"sizes": [2, 3, 1],
         "weights": [[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[1, -1, 2]]],
         "biases": [[[0.01], [0.02], [0.03]], [[-0.5]]],
         "cost": "CrossEntropyCost"}
        """
        let model = try Network2JSON.importModel(Array(json.utf8))
        #expect(model.sizes == [2, 3, 1])
        #expect(model.cost == .crossEntropy)
        #expect(model.layers[0].weights.shape == [3, 2])
        #expect(model.layers[0].weights.data == [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
        #expect(model.layers[1].weights.data == [1, -1, 2])
        #expect(model.layers[1].bias.data == [-0.5])
        #expect(model.provenance?.importedFrom == "network2.py JSON")
        let net = try Network(model: model)
        // a = σ(w2 σ(w1 x + b1) + b2) for x = (1, 0)
        let h = [0.11, 0.32, 0.53].map(sigmoidD)
        let expected = sigmoidD(h[0] - h[1] + 2 * h[2] - 0.5)
        #expect(abs(Double(try net.feedforward([1, 0])[0]) - expected) < 1e-6)
        // And back out, losslessly for Float values.
        let again = try Network2JSON.importModel(try Network2JSON.export(net))
        #expect(try Network(model: again).parameters == net.parameters)
    }

    @Test func network2JSONRefusesWhatNetwork2CannotHold() throws {
        var rng = SeededGenerator(seed: 1)
        let conv = try Network(architecture: Architecture.parse("convpool2x5,fc10:sigmoid"), cost: .crossEntropy,
                               weightInit: .scaledNormal, rng: &rng)
        #expect(throws: TrainerError.self) { _ = try Network2JSON.export(conv) }
        let relu = try Network(architecture: Architecture.parse("fc30:relu,fc10:sigmoid", inputShape: [784]),
                               cost: .crossEntropy, weightInit: .scaledNormal, rng: &rng)
        #expect(throws: TrainerError.self) { _ = try Network2JSON.export(relu) }
    }

    @Test(arguments: [
        (#"{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0]]], "cost": "LogCost"}"#, "\"cost\""),
        (#"{"sizes": [2, 1], "weights": [[[1, 2, 3]]], "biases": [[[0]]], "cost": "QuadraticCost"}"#, "weights[0][0] has 3 values"),
        (#"{"sizes": [2, 1], "weights": [[[1, 2]], [[1]]], "biases": [[[0]]], "cost": "QuadraticCost"}"#, "2 matrices"),
        (#"{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0], [1]]], "cost": "QuadraticCost"}"#, "biases[0] has 2 rows"),
        (#"{"sizes": [2, 1], "weights": [[[1, 2]]], "biases": [[[0, 1]]], "cost": "QuadraticCost"}"#, "biases[0][0] has 2 values"),
        (#"{"sizes": [2, 1], "weights": [[[1, "x"]]], "biases": [[[0]]], "cost": "QuadraticCost"}"#, "weights[0][0][1] is not a finite number"),
        (#"{"sizes": [2], "weights": [], "biases": [], "cost": "QuadraticCost"}"#, "at least two layers"),
        (#"{"sizes": [2, -1], "weights": [], "biases": [], "cost": "QuadraticCost"}"#, "sizes[1]"),
        (#"{"weights": [], "biases": [], "cost": "QuadraticCost"}"#, "\"sizes\""),
        (#"[1, 2]"#, "JSON object"),
        (#"{"sizes": [2,"#, "not valid JSON"),
    ])
    func rejectsBadShapes(json: String, fragment: String) {
        #expect {
            try Network2JSON.importModel(Array(json.utf8), source: "net.json")
        } throws: { e in
            let m = (e as? TrainerError)?.message ?? ""
            return m.hasPrefix("net.json") && m.contains(fragment)
        }
    }
}

@Suite struct PresetTests {
    @Test func presetsAreTheBooks() throws {
        #expect(Presets.names.starts(with: ["ch1", "ch1-100", "ch3-ce"]))
        let ch1 = try #require(Presets.named("ch1")).config
        #expect(ch1.sizes == [784, 30, 10] && ch1.cost == .quadratic && ch1.eta == 3.0 && ch1.miniBatchSize == 10
                && ch1.epochs == 30 && ch1.lambda == 0 && ch1.weightInit == .standardNormal)
        let ce = try #require(Presets.named("ch3-ce")).config
        #expect(ce.cost == .crossEntropy && ce.eta == 0.5 && ce.weightInit == .standardNormal)
        let l2 = try #require(Presets.named("ch3-l2-100")).config
        #expect(l2.sizes == [784, 100, 10] && l2.eta == 0.1 && l2.lambda == 5.0 && l2.epochs == 60)
        #expect(try #require(Presets.named("ch3-overfit")).config.trainingLimit == 1000)
        for p in Presets.all {
            try p.config.validate()
            #expect(p.config.preset == p.name)
            #expect(p.description.contains("Ch."))
        }
        #expect(Presets.named("nope") == nil)
        var bad = ch1
        bad.eta = 0
        #expect(throws: TrainerError.self) { try bad.validate() }
    }
}
