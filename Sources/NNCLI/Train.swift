import ArgumentParser
import Foundation
import NNModel
import NNTrainer

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network on MNIST and export it as an nnrt model file.",
        discussion: """
            Trains a sigmoid network by mini-batch stochastic gradient descent, as the book's \
            network.py and network2.py do, on MNIST's first 50,000 training images. After each \
            epoch it prints the accuracy on the evaluation data, like the book \
            ("Epoch 12: 9491 / 10000"), with a progress bar while the epoch runs on a terminal. \
            At the end it measures the test set, and writes MODEL atomically (a crash never \
            leaves half a file) with the hyper-parameters, seed and per-epoch history.

            Start from a preset (`nnrt presets` lists them, with the book's figures) and \
            override any of its values with the flags; without --preset the defaults are \
            network2.py's: [784,30,10], cross-entropy, eta 0.5, mini-batch 10, 30 epochs, \
            N(0,1/n_in) weights. The same seed and data give the same model, bit for bit.

            Examples:
              nnrt train --preset ch1 --out ch1.nnrt
              nnrt train --preset ch3-l2-100 --epochs 10 --out l2.nnrt
              nnrt train --sizes 784,100,10 --cost cross-entropy --eta 0.5 --lambda 5 --out m.nnrt
              nnrt train --from m.nnrt --epochs 5 --out m2.nnrt      (continue training)

            \(Exit.helpText)
            """
    )

    @Option(help: "Start from a named preset (see `nnrt presets`).")
    var preset: String?

    @Option(help: "Layer sizes, input first, e.g. 784,30,10.")
    var sizes: String?

    @Option(help: "Cost: quadratic or cross-entropy.")
    var cost: String?

    @Option(help: "Learning rate eta.")
    var eta: Double?

    @Option(name: .customLong("lambda"), help: "L2 regularisation lambda (0 = none).")
    var lambda: Double?

    @Option(help: "Mini-batch size.")
    var batch: Int?

    @Option(help: "Number of epochs.")
    var epochs: Int?

    @Option(help: "Weight initialisation: scaled-normal (N(0,1/n_in), network2's default) or standard-normal (N(0,1), network.py).")
    var `init`: String?

    @Option(help: "Seed of the random generator (weights and shuffling).")
    var seed: UInt64?

    @Option(help: "Train on only the first N of the 50,000 training images.")
    var trainLimit: Int?

    @Option(help: "Evaluation data for the per-epoch lines: validation (train[50000:60000]), test (t10k) or none.")
    var evaluateOn: String?

    @Flag(help: "Measure the cost on the training data after each epoch.")
    var monitorTrainingCost = false
    @Flag(help: "Measure the accuracy on the training data after each epoch.")
    var monitorTrainingAccuracy = false
    @Flag(help: "Measure the cost on the evaluation data after each epoch.")
    var monitorEvaluationCost = false
    @Flag(help: "Measure the accuracy on the evaluation data after each epoch (on unless --no-monitor-evaluation-accuracy).")
    var noMonitorEvaluationAccuracy = false

    @Option(help: "Continue training this model file (its sizes and cost are kept; epochs go on counting).")
    var from: String?

    @Option(help: "MNIST directory (default: $MNIST_DIR, else the download cache).")
    var data: String?

    @Option(help: "Where to write the model file.")
    var out: String

    @Flag(help: "Print only the final summary (no per-epoch lines or progress bar).")
    var quiet = false

    /// The configuration: preset, then the flags on top.
    func config(continuing: NetworkModel?) throws -> TrainingConfig {
        var c = TrainingConfig()
        if let preset {
            guard let p = Presets.named(preset) else {
                throw CLIError("unknown preset '\(preset)'; known presets: \(Presets.names.joined(separator: ", "))",
                               status: Exit.usage)
            }
            c = p.config
        } else if let h = continuing?.provenance?.hyperparameters {
            c.eta = h.eta
            c.lambda = h.lambda
            c.miniBatchSize = h.miniBatchSize
            c.weightInit = h.weightInit
        }
        if let continuing {
            c.sizes = continuing.sizes
            c.cost = continuing.cost
            c.seed = (continuing.provenance?.seed ?? 0) &+ UInt64(continuing.provenance?.epochs.count ?? 0)
        }
        if let sizes {
            let parts = sizes.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count >= 2, parts.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw CLIError("--sizes must be positive integers separated by commas, like 784,30,10 (got '\(sizes)')",
                               status: Exit.usage)
            }
            c.sizes = parts.compactMap { $0 }
            if let continuing, c.sizes != continuing.sizes {
                throw CLIError("--sizes \(sizes) differs from the model being continued (\(continuing.sizes))", status: Exit.usage)
            }
        }
        guard c.sizes.first == 784, c.sizes.last == 10 else {
            throw CLIError("--sizes must start with 784 (28x28 MNIST pixels) and end with 10 (digits), got \(c.sizes)",
                           status: Exit.usage)
        }
        if let cost {
            guard let k = CostKind.allCases.first(where: { $0.name == cost }), k != .logLikelihood else {
                throw CLIError("--cost must be quadratic or cross-entropy, got '\(cost)'", status: Exit.usage)
            }
            if continuing != nil, k != c.cost {
                throw CLIError("--cost \(cost) differs from the model being continued (\(c.cost.name))", status: Exit.usage)
            }
            c.cost = k
        }
        if let eta {
            guard eta.isFinite, eta > 0 else { throw CLIError("--eta must be a positive number, got \(eta)", status: Exit.usage) }
            c.eta = eta
        }
        if let lambda {
            guard lambda.isFinite, lambda >= 0 else { throw CLIError("--lambda must be zero or positive, got \(lambda)", status: Exit.usage) }
            c.lambda = lambda
        }
        if let batch {
            guard batch > 0 else { throw CLIError("--batch must be positive, got \(batch)", status: Exit.usage) }
            c.miniBatchSize = batch
        }
        if let epochs {
            guard epochs >= 0 else { throw CLIError("--epochs must be zero or more, got \(epochs)", status: Exit.usage) }
            c.epochs = epochs
        }
        if let value = self.`init` {
            guard let w = WeightInit.allCases.first(where: { $0.name == value }) else {
                throw CLIError("--init must be scaled-normal or standard-normal, got '\(value)'", status: Exit.usage)
            }
            c.weightInit = w
        }
        if let seed { c.seed = seed }
        if let trainLimit {
            guard trainLimit > 0 else { throw CLIError("--train-limit must be positive, got \(trainLimit)", status: Exit.usage) }
            c.trainingLimit = min(trainLimit, 50_000)
        }
        if let evaluateOn {
            guard let e = EvaluationSet(rawValue: evaluateOn) else {
                throw CLIError("--evaluate-on must be validation, test or none, got '\(evaluateOn)'", status: Exit.usage)
            }
            c.evaluationSet = e
        }
        var monitor = c.monitor
        if monitorTrainingCost { monitor.insert(.trainingCost) }
        if monitorTrainingAccuracy { monitor.insert(.trainingAccuracy) }
        if monitorEvaluationCost { monitor.insert(.evaluationCost) }
        if noMonitorEvaluationAccuracy { monitor.remove(.evaluationAccuracy) }
        if c.evaluationSet == .none { monitor.subtract([.evaluationCost, .evaluationAccuracy]) }
        c.monitor = monitor
        return c
    }

    func run() throws {
        try reportingErrors {
            let continuing: NetworkModel?
            if let from {
                guard case .network(let n) = try loadModelFile(from).body else {
                    throw CLIError("\(from): is an ensemble; --from continues a single network", status: Exit.usage)
                }
                continuing = n
            } else {
                continuing = nil
            }
            let config = try config(continuing: continuing)
            try checkWritable(out)

            let mnist: MNISTData
            do {
                mnist = try MNIST.load(directory: data, log: { line in
                    FileHandle.standardError.write(Data("nnrt: \(line)\n".utf8))
                })
            } catch {
                throw CLIError(any: error)
            }

            let command = (["nnrt"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
            if !quiet {
                let h = config
                say("training [\(h.sizes.map(String.init).joined(separator: ","))] \(h.cost.name), eta \(h.eta), "
                    + "lambda \(h.lambda), mini-batch \(h.miniBatchSize), \(h.epochs) epochs, "
                    + "\(h.weightInit.name) init, seed \(h.seed), on \(config.trainingLimit ?? mnist.training.count) images")
            }
            var bar = ProgressLine(label: "", enabled: stderrIsTerminal && !quiet)
            let outcome: TrainingOutcome
            do {
                outcome = try NNTrainer.train(config, data: mnist, continuing: continuing, command: command) { event in
                    switch event {
                    case .progress(let p):
                        bar.label = "Epoch \(p.epoch)"
                        bar.update(done: p.miniBatchesDone, total: p.miniBatchesTotal)
                    case .epochEnded(let m):
                        bar.clear()
                        bar = ProgressLine(label: "", enabled: stderrIsTerminal && !quiet)
                        if !quiet { say(epochLine(m)) }
                    }
                }
            } catch {
                throw CLIError(any: error)
            }

            let history = outcome.network.history
            let trained = Array(history.suffix(config.epochs))
            let seconds = trained.reduce(0) { $0 + $1.seconds }
            var model = outcome.model
            let test: EvaluationResult
            do {
                test = try outcome.network.evaluate(mnist.test, lambda: config.lambda)
            } catch {
                throw CLIError(any: error)
            }
            model.evaluations = [Evaluation(dataset: "mnist:t10k", metrics: test.splitMetrics)]
            let file = ModelFile(body: .network(model))
            do {
                try writeModelFile(file, to: out)
            } catch {
                throw CLIError("cannot write \(out): \(error)", status: Exit.cannotCreate)
            }

            if !trained.isEmpty {
                say(String(format: "trained %d epochs in %.1f s (%.2f s per epoch of SGD)",
                           trained.count, seconds, seconds / Double(trained.count)))
            }
            if let best = bestEpoch(trained), let ev = best.evaluation, let correct = ev.correct {
                say("best \(config.evaluationSet.rawValue): epoch \(best.epoch), "
                    + accuracyText(correct: correct, total: ev.total))
            }
            say("test accuracy: " + accuracyText(correct: test.correct, total: test.total))
            say("wrote \(out)")
        }
    }

    /// The epoch with the highest evaluation accuracy (the earliest on ties).
    func bestEpoch(_ epochs: [EpochMetrics]) -> EpochMetrics? {
        var best: EpochMetrics?
        for e in epochs {
            guard let c = e.evaluation?.correct else { continue }
            if best?.evaluation?.correct.map({ c > $0 }) ?? true { best = e }
        }
        return best
    }

    /// "Epoch 12: 9491 / 10000", plus any other monitored figures.
    func epochLine(_ m: EpochMetrics) -> String {
        var parts: [String] = []
        if let e = m.evaluation, let c = e.correct { parts.append("\(c) / \(e.total)") }
        if let e = m.evaluation, let cost = e.cost { parts.append(String(format: "evaluation cost %.4f", cost)) }
        if let t = m.training, let c = t.correct { parts.append("training \(c) / \(t.total)") }
        if let t = m.training, let cost = t.cost { parts.append(String(format: "training cost %.4f", cost)) }
        if parts.isEmpty { parts.append("complete") }
        return "Epoch \(m.epoch): " + parts.joined(separator: ", ") + String(format: "  (%.2f s)", m.seconds)
    }
}

/// Fails early, before any training, if `path` cannot be created.
func checkWritable(_ path: String) throws {
    let url = URL(fileURLWithPath: path)
    let dir = url.deletingLastPathComponent().path
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw CLIError("cannot write \(path): directory \(dir) does not exist", status: Exit.cannotCreate)
    }
    guard FileManager.default.isWritableFile(atPath: dir) else {
        throw CLIError("cannot write \(path): directory \(dir) is not writable", status: Exit.cannotCreate)
    }
}

extension CLIError {
    /// Maps a trainer error to an exit status.
    init(trainerError error: TrainerError) {
        let status: Int32
        switch error.kind {
        case .invalidArgument: status = Exit.usage
        case .io: status = Exit.noInput
        case .format, .checksum, .unsupported: status = Exit.dataError
        case .download: status = Exit.unavailable
        case .internal: status = Exit.software
        }
        self.init(error.message, status: status)
    }

    /// Maps any error from the libraries (trainer, model codec, runtime) to an exit status.
    init(any error: any Error, path: String? = nil) {
        switch error {
        case let e as CLIError: self = e
        case let e as TrainerError: self.init(trainerError: e)
        case let e as ModelError: self.init(e, path: path)
        default: self.init("\(error)", status: Exit.software)
        }
    }
}
