import Testing
import NNModel
@testable import NNTrainer

/// A learnable stand-in for MNIST: 28x28 images of noise with a bright band of rows 2k, 2k+1
/// for digit k. Training, validation and test sets are drawn independently.
func toyMNIST(training: Int = 200, validation: Int = 100, test: Int = 100, seed: UInt64 = 1,
              noise: Float = 0.3) throws -> MNISTData {
    var rng = SeededGenerator(seed: seed)
    func make(_ count: Int, _ name: String) throws -> Dataset {
        var images = [Float](repeating: 0, count: count * 784)   // (count, 784)
        var labels = [UInt8](repeating: 0, count: count)
        for i in 0..<count {
            let k = rng.nextInt(below: 10)
            labels[i] = UInt8(k)
            for p in 0..<784 { images[i * 784 + p] = Float(rng.nextUniform()) * noise }
            for r in (2 * k)..<(2 * k + 2) { for c in 4..<24 { images[i * 784 + r * 28 + c] = 1 } }
        }
        return try Dataset(name: "mnist:" + name, inputSize: 784, images: images, labels: labels)
    }
    return MNISTData(training: try make(training, "train[0:\(training)]"), validation: try make(validation, "validation"),
                     test: try make(test, "t10k"))
}

/// `train`: the schedule, early stopping, model selection, gradient norms, test monitoring,
/// continuing a model and determinism.
@Suite struct TrainingTests {
    /// A quick configuration: a small MLP on 784 inputs.
    func quickConfig(epochs: Int = 3) -> TrainingConfig {
        TrainingConfig(sizes: [784, 12, 10], cost: .crossEntropy, eta: 0.5, miniBatchSize: 10, epochs: epochs,
                       seed: 3, evaluationSet: .validation)
    }

    @Test func aConvNetLearnsTheToyTaskWithLogLikelihood() throws {
        let data = try toyMNIST(training: 300)
        var config = quickConfig(epochs: 3)
        config.architecture = "convpool4x5,softmax10"
        config.cost = .logLikelihood
        config.weightInit = .network3
        config.eta = 0.3
        config.monitorTest = true
        let outcome = try train(config, data: data)
        let last = try #require(outcome.network.history.last)
        #expect((last.evaluation?.correct ?? 0) >= 90, "validation \(String(describing: last.evaluation))")
        #expect(last.test?.total == 100 && last.test?.correct != nil)
        #expect(outcome.model.layers.map(\.kind) == [.conv2d, .maxPool2d, .dense])
        #expect(outcome.model.provenance?.hyperparameters?.architecture == "convpool4x5,softmax10")
        #expect(outcome.testAtBestEpoch == outcome.bestEpoch?.test)
    }

    /// `threads` (the CLI's --threads) changes the threads a heavy network uses, never its
    /// results; 0 is refused.
    @Test func threadCountDoesNotChangeTheNetwork() throws {
        let data = try toyMNIST(training: 60, validation: 20, test: 20)
        var config = quickConfig(epochs: 2)
        config.architecture = "convpool4x5:relu,fc500:relu:drop0.5,softmax10"   // two half-batches
        config.cost = .logLikelihood
        let one = try train(config, data: data, threads: 1)
        #expect(one.network.threads == 1)
        let two = try train(config, data: data, threads: 2)
        #expect(two.network.threads == 2)
        #expect(one.network.parameters == two.network.parameters)
        #expect(throws: TrainerError.self) { try train(config, data: data, threads: 0) }
    }

    @Test func sameSeedSameNetworkBitForBit() throws {
        let data = try toyMNIST()
        var config = quickConfig(epochs: 2)
        config.architecture = "fc10:relu:drop0.5,softmax10"
        config.cost = .logLikelihood
        config.momentum = 0.5
        config.expansion = "rotate"
        let a = try train(config, data: data)
        let b = try train(config, data: data)
        #expect(a.network.parameters == b.network.parameters)
        config.seed = 4
        let c = try train(config, data: data)
        #expect(a.network.parameters != c.network.parameters)
    }

    /// Replays the rules on the recorded history: eta halves after `patience` epochs without a
    /// strictly better evaluation accuracy (counted since the last improvement or halving), and
    /// the run stops when eta reaches the stop fraction.
    @Test func scheduleHalvesEtaAndStopsAtTheFraction() throws {
        let data = try toyMNIST(training: 100, noise: 3)     // so noisy that accuracy stalls
        var config = quickConfig(epochs: 40)
        config.eta = 0.8
        config.schedulePatience = 1
        config.scheduleStopFraction = 0.125
        var events: [TrainingEvent] = []
        let outcome = try train(config, data: data, observer: { e in
            if case .progress = e { return }
            events.append(e)
        })
        let history = outcome.network.history
        var eta = 0.8, best = -1, since = 0
        var expectedStop: Int? = nil
        for m in history {
            #expect(m.eta == eta, "epoch \(m.epoch)")
            let c = try #require(m.evaluation?.correct)
            if c > best { best = c; since = 0 } else { since += 1 }
            if since >= 1 {
                eta /= 2
                since = 0
                if eta <= 0.8 * 0.125 { expectedStop = m.epoch; break }
            }
        }
        let stop = try #require(expectedStop, "the noisy run should stall; history \(history.map { $0.evaluation?.correct ?? -1 })")
        #expect(history.count == stop)
        #expect(outcome.stopReason?.contains("1/8") == true)
        #expect(events.contains { if case .stopped(stop, _) = $0 { return true }; return false })
        #expect(events.contains { if case .etaChanged(_, 0.4) = $0 { return true }; return false })
        #expect(outcome.model.provenance?.hyperparameters?.schedulePatience == 1)
    }

    @Test func earlyStoppingAfterPatienceEpochsWithoutImprovement() throws {
        let data = try toyMNIST(training: 100, noise: 3)
        var config = quickConfig(epochs: 40)
        config.earlyStoppingPatience = 2
        let outcome = try train(config, data: data)
        let corrects = outcome.network.history.map { $0.evaluation?.correct ?? -1 }
        var best = -1, since = 0, expected = corrects.count
        for (i, c) in corrects.enumerated() {
            if c > best { best = c; since = 0 } else { since += 1 }
            if since >= 2 { expected = i + 1; break }
        }
        #expect(corrects.count == expected && expected < 40, "\(corrects)")
        #expect(outcome.stopReason?.contains("early stopping") == true)
    }

    @Test func keepBestExportsTheBestEpochsWeights() throws {
        let data = try toyMNIST(training: 100, noise: 2)
        var config = quickConfig(epochs: 6)
        config.eta = 3
        config.keepBest = true
        config.monitorTest = true
        let outcome = try train(config, data: data)
        let history = outcome.network.history
        let best = try #require(history.max { ($0.evaluation?.correct ?? 0) < ($1.evaluation?.correct ?? 0) || (($0.evaluation?.correct ?? 0) == ($1.evaluation?.correct ?? 0) && $0.epoch > $1.epoch) })
        #expect(outcome.selectedEpoch == best.epoch)
        #expect(outcome.bestEpoch?.epoch == best.epoch)
        #expect(outcome.model.provenance?.selectedEpoch == best.epoch)
        #expect(try outcome.network.accuracy(data.validation) == best.evaluation?.correct)
        #expect(try outcome.network.accuracy(data.test) == best.test?.correct)
        #expect(outcome.testAtBestEpoch == best.test)
    }

    @Test func gradientNormsAtInitialisationAndEveryEpoch() throws {
        let data = try toyMNIST(training: 50)
        var config = quickConfig(epochs: 2)
        config.sizes = [784, 8, 8, 10]
        config.gradientNorms = true
        var initial: [Double] = []
        let outcome = try train(config, data: data, observer: { e in
            if case .initialGradientNorms(let n) = e { initial = n }
        })
        #expect(initial.count == 3 && initial.allSatisfy { $0 > 0 && $0.isFinite })
        #expect(outcome.model.provenance?.initialGradientNorms == initial)
        #expect(outcome.network.history.allSatisfy { $0.gradientNorms.count == 3 })
    }

    @Test func continuingALoadedModelNumbersEpochsOn() throws {
        let data = try toyMNIST(training: 50)
        let first = try train(quickConfig(epochs: 1), data: data)
        let second = try train(quickConfig(epochs: 2), data: data, continuing: first.model)
        #expect(second.network.history.map(\.epoch) == [1, 2, 3])
        #expect(second.epochsTrained == 2)
    }

    @Test func shift1ExpansionTrainsOnFiveTimesTheData() throws {
        let data = try toyMNIST(training: 40)
        var config = quickConfig(epochs: 1)
        config.expansion = "shift1"
        var total = 0
        let outcome = try train(config, data: data, observer: { e in
            if case .progress(let p) = e { total = p.miniBatchesTotal }
        })
        #expect(outcome.expandedTrainingCount == 200 && total == 20)
        #expect(outcome.model.provenance?.hyperparameters?.expansion == "shift1")
        #expect(outcome.model.provenance?.hyperparameters?.trainingExamples == 200)
    }

    @Test(arguments: [
        { (c: inout TrainingConfig) in c.architecture = "fc10,nope" },
        { (c: inout TrainingConfig) in c.momentum = 1 },
        { (c: inout TrainingConfig) in c.scheduleFactor = 1 },
        { (c: inout TrainingConfig) in c.expansion = "shift3" },
        { (c: inout TrainingConfig) in c.keepBest = true; c.evaluationSet = .none; c.monitor = [] },
        { (c: inout TrainingConfig) in c.activation = .softmax },
    ] as [@Sendable (inout TrainingConfig) -> Void])
    func badConfigurationsAreRejected(_ change: @Sendable (inout TrainingConfig) -> Void) throws {
        var config = quickConfig()
        change(&config)
        #expect(throws: TrainerError.self) { try config.validate() }
    }

    @Test func everyPresetValidatesAndCitesTheBook() throws {
        for p in Presets.all {
            try p.config.validate()
            #expect(p.bookFigure != nil || p.name.hasPrefix("ch3-overfit"), "\(p.name)")
            _ = try p.config.resolvedArchitecture()
        }
        let ensemble = try #require(Presets.named("ch6-ensemble"))
        #expect(ensemble.ensembleMembers == 5 && ensemble.bookFigure == "99.67%")
        #expect(Presets.named("ch6-conv1")?.bookFigure == "98.78%")
        #expect(Presets.named("ch5-depth4")?.config.sizes == [784, 30, 30, 30, 30, 10])
    }
}
