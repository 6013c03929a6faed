import NNModel
import NNTrainer
import Testing
@testable import NNCLI

/// `nnrt train`'s configuration: a preset, then the flags on top; bad values are usage errors.
@Suite struct TrainOptionsTests {
    func config(_ arguments: [String]) throws -> TrainingConfig {
        try Train.parse(arguments + ["--out", "/tmp/unused.nnrt"]).config(continuing: nil)
    }

    @Test func checkpointSchedules() throws {
        func schedule(_ arguments: [String]) throws -> CheckpointSchedule {
            try Train.parse(arguments + ["--out", "/tmp/unused.nnrt"]).checkpointSchedule()
        }
        // Without --checkpoint, only a stop by a signal saves.
        #expect(try schedule([]) == .whenStopped)
        #expect(try schedule(["--checkpoint"]) == CheckpointSchedule(everySeconds: 60))
        #expect(try schedule(["--resume"]) == CheckpointSchedule(everySeconds: 60))
        #expect(try schedule(["--checkpoint", "--checkpoint-every", "0"]) == .everyEpoch)
        #expect(try schedule(["--checkpoint", "--checkpoint-every", "2.5", "--checkpoint-every-batches", "100"])
                == CheckpointSchedule(everyMiniBatches: 100, everySeconds: 2.5))
        #expect(throws: CLIError.self) { try schedule(["--checkpoint-every", "5"]) }
        #expect(throws: CLIError.self) { try schedule(["--checkpoint", "--checkpoint-every", "inf"]) }
        #expect(throws: CLIError.self) { try schedule(["--checkpoint", "--checkpoint-every-batches", "0"]) }
    }

    @Test func theLineAfterAStopSaysHowToContinue() throws {
        #expect(try Train.parse(["--out", "m.nnrt"]).resumeCommand == "nnrt train --resume --out m.nnrt")
        #expect(try Train.parse(["--out", "my model's.nnrt", "--data", "/d/mnist"]).resumeCommand
                == "nnrt train --resume --out 'my model'\\''s.nnrt' --data /d/mnist")
    }

    @Test func presetValues() throws {
        let c = try config(["--preset", "ch1"])
        #expect(c.sizes == [784, 30, 10])
        #expect(c.cost == .quadratic)
        #expect(c.eta == 3.0)
        #expect(c.miniBatchSize == 10)
        #expect(c.epochs == 30)
        let l2 = try config(["--preset", "ch3-l2-100"])
        #expect(l2.sizes == [784, 100, 10] && l2.lambda == 5.0 && l2.eta == 0.1 && l2.epochs == 60)
        #expect(l2.cost == .crossEntropy)
    }

    @Test func flagsOverrideThePreset() throws {
        let c = try config(["--preset", "ch1", "--sizes", "784,100,10", "--cost", "cross-entropy", "--eta", "0.25",
                            "--lambda", "2", "--batch", "20", "--epochs", "3", "--seed", "9", "--init", "scaled-normal",
                            "--train-limit", "1000", "--evaluate-on", "validation", "--monitor-training-cost"])
        #expect(c.sizes == [784, 100, 10])
        #expect(c.cost == .crossEntropy)
        #expect(c.eta == 0.25 && c.lambda == 2 && c.miniBatchSize == 20 && c.epochs == 3 && c.seed == 9)
        #expect(c.weightInit == .scaledNormal)
        #expect(c.trainingLimit == 1000)
        #expect(c.evaluationSet == .validation)
        #expect(c.monitor.contains(.trainingCost) && c.monitor.contains(.evaluationAccuracy))
        #expect(c.preset == "ch1")
    }

    @Test func layersAndChapterThreeToSixOptions() throws {
        let c = try config(["--layers", "convpool20x5,fc100:relu,softmax10", "--init", "network3", "--eta", "0.1",
                            "--regularization", "l1", "--lambda", "0.1", "--momentum", "0.9", "--schedule-patience", "10",
                            "--schedule-factor", "2", "--schedule-stop", "0.0078125", "--early-stopping", "20", "--keep-best",
                            "--expand", "shift1+rotate", "--gradient-norms", "--evaluate-on", "validation", "--monitor-test"])
        #expect(c.architecture == "convpool20x5,fc100:relu,softmax10")
        #expect(c.cost == .logLikelihood)          // a softmax output layer implies log-likelihood
        #expect(c.weightInit == .network3 && c.regularization == .l1 && c.lambda == 0.1 && c.momentum == 0.9)
        #expect(c.schedulePatience == 10 && c.scheduleFactor == 2 && c.scheduleStopFraction == 1.0 / 128)
        #expect(c.earlyStoppingPatience == 20 && c.keepBest && c.gradientNorms && c.monitorTest)
        #expect(c.expansion == "shift1+rotate")
        let tanh = try config(["--layers", "fc30,fc10", "--activation", "tanh", "--cost", "quadratic"])
        #expect(tanh.activation == .tanh && tanh.cost == .quadratic)
        // --sizes with another activation: hidden layers use it; the output is sigmoid, or
        // softmax for log-likelihood.
        let relu = try config(["--sizes", "784,30,10", "--activation", "relu", "--cost", "log-likelihood"])
        #expect(try relu.resolvedArchitecture().description == "fc30:relu,softmax10")
        let book = try config(["--sizes", "784,30,10"])
        #expect(try book.resolvedArchitecture() == Architecture.mlp(sizes: [784, 30, 10]))
    }

    @Test func chapterSixPresetsAndEnsembles() throws {
        let c = try config(["--preset", "ch6-dropout"])
        #expect(c.architecture == "convpool20x5,convpool40x5,fc1000:relu:drop0.5,fc1000:relu:drop0.5,softmax10:drop0.5")
        #expect(c.activation == .relu && c.cost == .logLikelihood && c.epochs == 40 && c.expansion == "shift1")
        #expect(c.evaluationSet == .validation && c.monitorTest && c.keepBest && c.weightInit == .network3)
        let e = try Train.parse(["--preset", "ch6-ensemble", "--out", "/tmp/unused.nnrt"])
        #expect(e.members == 5 && e.votingRule == .majority)
        let f = try Train.parse(["--preset", "ch6-ensemble", "--ensemble", "2", "--voting", "mean-probability", "--out", "/tmp/u.nnrt"])
        #expect(f.members == 2 && f.votingRule == .meanProbability)
        let d = try config(["--preset", "ch5-depth2"])
        #expect(d.sizes == [784, 30, 30, 10] && d.gradientNorms && d.lambda == 5 && d.eta == 0.1)
    }

    @Test(arguments: [
        ["--layers", "fc100,bogus7"], ["--layers", "fc100,fc10", "--cost", "log-likelihood"], ["--layers", "fc100,softmax5"],
        ["--layers", "softmax10,fc10"], ["--layers", ""], ["--regularization", "l3"], ["--momentum", "1"],
        ["--schedule-factor", "1"], ["--schedule-stop", "2"], ["--schedule-patience=-1"], ["--early-stopping=-2"],
        ["--expand", "shift9"], ["--keep-best", "--evaluate-on", "none"], ["--schedule-patience", "3", "--no-monitor-evaluation-accuracy"],
        ["--ensemble", "0"], ["--threads", "0"], ["--voting", "plurality"], ["--activation", "softmax"], ["--activation", "swish"],
        ["--init", "xavier"],
    ])
    func badNewValuesAreUsageErrors(_ arguments: [String]) throws {
        #expect {
            _ = try config(arguments)
        } throws: { error in
            (error as? CLIError)?.status == Exit.usage
        }
    }

    @Test(arguments: [
        ["--preset", "nope"], ["--sizes", "784,x,10"], ["--sizes", "100,30,10"], ["--sizes", "784"],
        ["--cost", "hinge"], ["--eta", "0"], ["--eta=-1"], ["--lambda=-0.1"],
        ["--batch", "0"], ["--epochs=-1"], ["--init", "zeros"], ["--train-limit", "0"], ["--evaluate-on", "train"],
    ])
    func badValuesAreUsageErrors(_ arguments: [String]) throws {
        #expect {
            _ = try config(arguments)
        } throws: { error in
            (error as? CLIError)?.status == Exit.usage
        }
    }
}
