import NNModel
import NNTrainer
import Testing
@testable import NNCLI

/// `nnrt train`'s configuration: a preset, then the flags on top; bad values are usage errors.
@Suite struct TrainOptionsTests {
    func config(_ arguments: [String]) throws -> TrainingConfig {
        try Train.parse(arguments + ["--out", "/tmp/unused.nnrt"]).config(continuing: nil)
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

    @Test(arguments: [
        ["--preset", "nope"], ["--sizes", "784,x,10"], ["--sizes", "100,30,10"], ["--sizes", "784"],
        ["--cost", "hinge"], ["--cost", "log-likelihood"], ["--eta", "0"], ["--eta=-1"], ["--lambda=-0.1"],
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
