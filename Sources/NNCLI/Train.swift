import ArgumentParser
import Foundation
import NNModel
import NNRuntime
import NNTrainer

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a network (or an ensemble) on MNIST and export it as an nnrt model file.",
        discussion: """
            Trains a network by mini-batch stochastic gradient descent, as the book's network.py, \
            network2.py and network3.py do, on MNIST's first 50,000 training images. After each \
            epoch it prints the accuracy on the evaluation data, like the book \
            ("Epoch 12: 9491 / 10000"), with a progress bar while the epoch runs on a terminal. \
            At the end it measures the test set, and writes MODEL atomically (a crash never \
            leaves half a file) with the hyper-parameters, seed and per-epoch history.

            Start from a preset (`nnrt presets` lists them, with the book's figures) and \
            override any of its values with the flags; without --preset the defaults are \
            network2.py's: [784,30,10], cross-entropy, eta 0.5, mini-batch 10, 30 epochs, \
            N(0,1/n_in) weights. The same seed and data give the same model, bit for bit.

            Layers (--layers, comma-separated, input side first): fcN[:ACT][:dropP], softmaxN[:dropP] \
            (output only, with --cost log-likelihood), convpoolMxK[pP][:ACT] (M maps, KxK kernels, \
            max-pool PxP, default 2, as network3's ConvPoolLayer), convMxK[:ACT], poolP. ACT is \
            sigmoid, tanh, relu or linear; tokens without one get --activation.

            Learning-rate schedule: --schedule-patience N divides eta by --schedule-factor (2) after \
            N epochs without a better evaluation accuracy, and stops once eta reaches \
            --schedule-stop (e.g. 0.0078125 = 1/128) of its start. --early-stopping N stops after N \
            epochs without improvement; --keep-best exports the best evaluation epoch's weights.

            --checkpoint writes MODEL.checkpoint after every epoch and, within an epoch, every \
            --checkpoint-every seconds (default 60) so that even a crash or SIGKILL loses at most \
            that much; it is written atomically (temporary file, fsync, rename) and removed when \
            MODEL is written. `nnrt train --resume --out MODEL` continues from it with the stored \
            settings and gives exactly the weights of an uninterrupted run. A new run to MODEL \
            while MODEL.checkpoint holds an interrupted one is refused (status 64) until you give \
            --resume (continue it) or --restart (delete it and start over).

            Ctrl-C (SIGINT) or SIGTERM stops training at the next mini-batch, saves \
            MODEL.checkpoint (with or without --checkpoint: the run is not lost), prints how to \
            continue and exits with status 130 (SIGINT) or 143 (SIGTERM). A second Ctrl-C while \
            it saves is ignored; SIGKILL at any moment leaves the previous checkpoint intact.

            --report DIR writes DIR/index.html once MODEL is written (also for --ensemble): the \
            learning curves, gradient norms, layers and hyper-parameters, and the confusion matrix \
            and misclassified digits measured on the test set, as `nnrt report MODEL --out DIR` \
            does (not after a stop by a signal).

            Output: a line saying what trains, the per-epoch lines and a summary, on standard \
            output. On a terminal, standard error shows a progress line: the epoch's bar, images \
            per second and the time left in the epoch and in the run (for an ensemble: the whole \
            run's bar, each running member's epoch, how many wait). Piped, there are only the \
            plain lines, one per epoch. --quiet prints only the summary.

            --json writes JSON lines instead, one object per line, "event" first:
              {"event": "start", "network", "cost", "eta", "lambda",
                "regularization", "mini_batch_size", "epochs", "weight_init",
                "seed", "training_images", "expansion", "members",
                "resumed_after_epoch", "output"}
              {"event": "epoch", "member" (ensembles only), "epoch", "seconds",
                "eta", "evaluation", "test", "training", "gradient_norms"}
              {"event": "eta_changed", "stopping", "checkpoint" or
                "initial_gradient_norms", ...}
              {"event": "result", "output", "kind": "network", "epochs_trained",
                "seconds", "seconds_per_epoch", "test", "best": {"set", "epoch",
                "evaluation", "test"}, "selected_epoch", "stop_reason",
                "weights_sha256"}
              {"event": "result", "output", "kind": "ensemble", "voting",
                "members": [{"member", "seed", "epochs_trained", "seconds",
                "test", "best", "selected_epoch", "stop_reason",
                "weights_sha256"}], "test": {"majority", "mean-probability"}}
              {"event": "report", "output"} (with --report: the page's path)
              {"event": "interrupted", "signal", "status", "message", "resume"}
                (then exit status 130 or 143)
            Figures are {"correct", "total", "accuracy" (a fraction), "cost"}, null when not \
            measured. With --json --quiet only the result object (and the report's) is printed.

            Examples:
              nnrt train --preset ch1 --out ch1.nnrt
              nnrt train --preset ch3-l2-100 --epochs 10 --out l2.nnrt
              nnrt train --sizes 784,100,10 --cost cross-entropy --eta 0.5 --lambda 5 --out m.nnrt
              nnrt train --layers convpool20x5,fc100,softmax10 --cost log-likelihood --init network3 \\
                  --eta 0.1 --evaluate-on validation --monitor-test --out conv.nnrt
              nnrt train --preset ch6-dropout --ensemble 5 --threads 2 --out ens.nnrt
              nnrt train --preset ch3-overfit --report overfit-report --out overfit.nnrt
              nnrt train --preset ch6-expanded --checkpoint --out big.nnrt;  nnrt train --resume --out big.nnrt
              nnrt train --from m.nnrt --epochs 5 --out m2.nnrt      (continue training)

            \(Exit.helpText)
            """
    )

    @Option(help: "Start from a named preset (see `nnrt presets`).", completion: .list(Presets.names))
    var preset: String?

    @Option(help: "Layer sizes of a fully connected network, input first, e.g. 784,30,10.")
    var sizes: String?

    @Option(help: "Layer spec, e.g. convpool20x5,convpool40x5,fc100:relu,softmax10 (replaces --sizes).")
    var layers: String?

    @Option(help: "Activation of layers that name none: sigmoid, tanh, relu or linear.",
            completion: .list(["sigmoid", "tanh", "relu", "linear"]))
    var activation: String?

    @Option(help: "Cost: quadratic, cross-entropy (sigmoid output) or log-likelihood (softmax output).",
            completion: .list(["quadratic", "cross-entropy", "log-likelihood"]))
    var cost: String?

    @Option(parsing: .unconditional, help: "Learning rate eta.")
    var eta: Double?

    @Option(name: .customLong("lambda"), parsing: .unconditional, help: "Regularisation lambda (0 = none).")
    var lambda: Double?

    @Option(help: "Regularisation: l2 (weight decay) or l1.", completion: .list(["l2", "l1"]))
    var regularization: String?

    @Option(parsing: .unconditional, help: "Momentum co-efficient mu in [0, 1) (0 = plain SGD).")
    var momentum: Double?

    @Option(parsing: .unconditional, help: "Mini-batch size.")
    var batch: Int?

    @Option(parsing: .unconditional, help: "Number of epochs (the most; the schedule or early stopping may stop sooner).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Divide eta after N epochs without improvement of the evaluation accuracy (0 = constant eta).")
    var schedulePatience: Int?

    @Option(parsing: .unconditional, help: "What the schedule divides eta by (default 2: halve).")
    var scheduleFactor: Double?

    @Option(parsing: .unconditional, help: "Stop once the schedule has brought eta to this fraction of its start (e.g. 0.0078125 = 1/128; 0 = never).")
    var scheduleStop: Double?

    @Option(parsing: .unconditional, help: "Stop after N epochs without improvement of the evaluation accuracy (0 = off).")
    var earlyStopping: Int?

    @Flag(help: "Export the weights of the epoch with the best evaluation accuracy.")
    var keepBest = false

    @Option(help: "Expand the training data: shift1 (the book's 250,000 images), rotate[:DEG], elastic[:ALPHA[:SIGMA]], joined by '+', or none.",
            completion: .list(["shift1", "rotate", "elastic", "shift1+rotate", "shift1+elastic", "none"]))
    var expand: String?

    @Option(help: "Weight initialisation: scaled-normal (N(0,1/n_in), network2's default), standard-normal (N(0,1), network.py) or network3.",
            completion: .list(["scaled-normal", "standard-normal", "network3"]))
    var `init`: String?

    @Flag(help: "Measure and print each layer's gradient norm ||dC/db|| at initialisation and after every epoch (chapter 5).")
    var gradientNorms = false

    @Option(parsing: .unconditional, help: "Seed of the random generator (weights, shuffling, dropout); ensemble members use seed, seed+1, ...")
    var seed: UInt64?

    @Option(parsing: .unconditional, help: "Train on only the first N of the 50,000 training images.")
    var trainLimit: Int?

    @Option(help: "Evaluation data for the per-epoch lines: validation (train[50000:60000]), test (t10k) or none.",
            completion: .list(["validation", "test", "none"]))
    var evaluateOn: String?

    @Flag(help: "Measure the cost on the training data after each epoch.")
    var monitorTrainingCost = false
    @Flag(help: "Measure the accuracy on the training data after each epoch.")
    var monitorTrainingAccuracy = false
    @Flag(help: "Measure the cost on the evaluation data after each epoch.")
    var monitorEvaluationCost = false
    @Flag(help: "Measure the accuracy on the evaluation data after each epoch (on unless --no-monitor-evaluation-accuracy).")
    var noMonitorEvaluationAccuracy = false
    @Flag(help: "With validation data, also measure the test accuracy after each epoch (to report it at the best validation epoch).")
    var monitorTest = false

    @Option(parsing: .unconditional, help: "Train an ensemble of N networks (seeds seed..seed+N-1) and write one ensemble model file.")
    var ensemble: Int?

    @Option(parsing: .unconditional, help: "Threads to use (default: the number of cores). One network uses 1 or 2 (a heavy network's two half-batches); an ensemble trains up to this many members at once, and a member takes over the threads of finished ones. Results do not depend on it.")
    var threads: Int?

    @Option(help: "Ensemble voting rule written into the file: majority or mean-probability.",
            completion: .list(["majority", "mean-probability"]))
    var voting: String?

    @Flag(help: "Write MODEL.checkpoint after every epoch and every --checkpoint-every seconds within one (ensemble members: MODEL.checkpoint.memberK).")
    var checkpoint = false

    @Option(name: .customLong("checkpoint-every"), help: ArgumentHelp(
        "With --checkpoint (or --resume): also save within an epoch once this many seconds have passed since the last checkpoint (default 60; 0: after epochs only).",
        valueName: "seconds"))
    var checkpointEvery: Double?

    @Option(name: .customLong("checkpoint-every-batches"), help: ArgumentHelp(
        "With --checkpoint (or --resume): also save within an epoch after every N of its mini-batches.", valueName: "n"))
    var checkpointEveryBatches: Int?

    @Flag(help: "Continue the interrupted run whose checkpoint is MODEL.checkpoint (its stored settings apply; --checkpoint is implied).")
    var resume = false

    @Flag(help: "Start a new run although MODEL.checkpoint holds an interrupted one, deleting that checkpoint (without --restart or --resume, nnrt refuses: exit 64).")
    var restart = false

    @Option(help: ArgumentHelp("Testing --resume: exit with status 75 right after epoch N's checkpoint, as if interrupted.",
                               visibility: .hidden))
    var interruptAfter: Int?

    @Option(help: "Continue training this model file (its layers and cost are kept; epochs go on counting).",
            completion: .file(extensions: ["nnrt"]))
    var from: String?

    @Option(help: "MNIST directory (default: $MNIST_DIR, else the download cache).", completion: .directory)
    var data: String?

    @Option(help: "Where to write the model file.", completion: .file(extensions: ["nnrt"]))
    var out: String

    @Option(help: ArgumentHelp("After training, write an HTML report into this directory (DIR/index.html; see `nnrt report`).",
                               valueName: "dir"), completion: .directory)
    var report: String?

    @Flag(name: [.customShort("q"), .long], help: "No progress bar and no per-epoch lines: print only the final summary (with --json: only the result object).")
    var quiet = false

    @Flag(help: "Write JSON lines on standard output instead of text: a start object, one per epoch (and event), and a final result object (schema above).")
    var json = false

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
            c.regularization = h.regularization
            c.momentum = h.momentum
        }
        if let continuing {
            c.sizes = continuing.sizes
            c.architecture = nil
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
            c.architecture = nil
            if let continuing, c.sizes != continuing.sizes {
                throw CLIError("--sizes \(sizes) differs from the model being continued (\(continuing.sizes))", status: Exit.usage)
            }
        }
        if let activation {
            guard let a = Activation.allCases.first(where: { $0.name == activation }), a != .softmax else {
                throw CLIError("--activation must be sigmoid, tanh, relu or linear, got '\(activation)'", status: Exit.usage)
            }
            c.activation = a
        }
        if let layers {
            guard continuing == nil else {
                throw CLIError("--layers cannot change the layers of a model being continued (--from)", status: Exit.usage)
            }
            c.architecture = layers
        }
        if c.architecture == nil {
            guard c.sizes.first == 784, c.sizes.last == 10 else {
                throw CLIError("--sizes must start with 784 (28x28 MNIST pixels) and end with 10 (digits), got \(c.sizes)",
                               status: Exit.usage)
            }
        }
        if let cost {
            guard let k = CostKind.allCases.first(where: { $0.name == cost }) else {
                throw CLIError("--cost must be quadratic, cross-entropy or log-likelihood, got '\(cost)'", status: Exit.usage)
            }
            if continuing != nil, k != c.cost {
                throw CLIError("--cost \(cost) differs from the model being continued (\(c.cost.name))", status: Exit.usage)
            }
            c.cost = k
        } else if layers != nil {
            // A softmax output layer goes with the log-likelihood cost, a sigmoid one does not.
            let softmaxOutput = layers?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces).hasPrefix("softmax") ?? false
            if softmaxOutput { c.cost = .logLikelihood } else if c.cost == .logLikelihood { c.cost = .crossEntropy }
        }
        if let eta {
            guard eta.isFinite, eta > 0 else { throw CLIError("--eta must be a positive number, got \(eta)", status: Exit.usage) }
            c.eta = eta
        }
        if let lambda {
            guard lambda.isFinite, lambda >= 0 else { throw CLIError("--lambda must be zero or positive, got \(lambda)", status: Exit.usage) }
            c.lambda = lambda
        }
        if let regularization {
            switch regularization.lowercased() {
            case "l2": c.regularization = .l2
            case "l1": c.regularization = .l1
            default: throw CLIError("--regularization must be l1 or l2, got '\(regularization)'", status: Exit.usage)
            }
        }
        if let momentum {
            guard momentum.isFinite, momentum >= 0, momentum < 1 else {
                throw CLIError("--momentum must be in [0, 1), got \(momentum)", status: Exit.usage)
            }
            c.momentum = momentum
        }
        if let batch {
            guard batch > 0 else { throw CLIError("--batch must be positive, got \(batch)", status: Exit.usage) }
            c.miniBatchSize = batch
        }
        if let epochs {
            guard epochs >= 0 else { throw CLIError("--epochs must be zero or more, got \(epochs)", status: Exit.usage) }
            c.epochs = epochs
        }
        if let schedulePatience {
            guard schedulePatience >= 0 else { throw CLIError("--schedule-patience must be zero or more, got \(schedulePatience)", status: Exit.usage) }
            c.schedulePatience = schedulePatience
        }
        if let scheduleFactor {
            guard scheduleFactor.isFinite, scheduleFactor > 1 else {
                throw CLIError("--schedule-factor must be greater than 1, got \(scheduleFactor)", status: Exit.usage)
            }
            c.scheduleFactor = scheduleFactor
        }
        if let scheduleStop {
            guard scheduleStop.isFinite, scheduleStop >= 0, scheduleStop < 1 else {
                throw CLIError("--schedule-stop must be in [0, 1), e.g. 0.0078125 for 1/128, got \(scheduleStop)", status: Exit.usage)
            }
            c.scheduleStopFraction = scheduleStop
        }
        if let earlyStopping {
            guard earlyStopping >= 0 else { throw CLIError("--early-stopping must be zero or more, got \(earlyStopping)", status: Exit.usage) }
            c.earlyStoppingPatience = earlyStopping
        }
        if keepBest { c.keepBest = true }
        if let expand {
            do {
                c.expansion = try ExpansionSpec.parse(expand).description
            } catch {
                throw CLIError("--expand: \(error.message)", status: Exit.usage)
            }
        }
        if let value = self.`init` {
            guard let w = WeightInit.allCases.first(where: { $0.name == value }) else {
                throw CLIError("--init must be scaled-normal, standard-normal or network3, got '\(value)'", status: Exit.usage)
            }
            c.weightInit = w
        }
        if gradientNorms { c.gradientNorms = true }
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
        if monitorTest { c.monitorTest = true }
        if c.evaluationSet != .validation { c.monitorTest = false }
        if let ensemble, ensemble < 1 { throw CLIError("--ensemble must be at least 1, got \(ensemble)", status: Exit.usage) }
        if let threads, threads < 1 { throw CLIError("--threads must be at least 1, got \(threads)", status: Exit.usage) }
        if let voting, VotingRule.allCases.first(where: { $0.name == voting }) == nil {
            throw CLIError("--voting must be majority or mean-probability, got '\(voting)'", status: Exit.usage)
        }
        if from != nil && ensemble != nil { throw CLIError("--from continues one network; it cannot be combined with --ensemble", status: Exit.usage) }

        // Whole-configuration checks: the layer spec, the cost for its output layer, and options
        // that need an evaluation accuracy.
        do {
            try c.validate()
            if continuing == nil {
                let architecture = try c.resolvedArchitecture()
                try architecture.validate()
                guard architecture.inputShape.reduce(1, *) == 784 else {
                    throw CLIError("the network must take 784 inputs (28x28 MNIST pixels), got \(architecture.inputShape)", status: Exit.usage)
                }
                guard architecture.sizes.last == 10 else {
                    throw CLIError("the last layer must have 10 outputs (the digits), got \(architecture.sizes.last ?? 0)", status: Exit.usage)
                }
                // The weights must fit in one model file (checked before any memory is spent on them).
                let parameters = try architecture.parameterCount()
                let perFile = maximumModelFileSize / MemoryLayout<Float>.stride
                if parameters > perFile {
                    throw CLIError("\(architecture.description) has \(parameters) parameters, more than a model file holds "
                                   + "(\(perFile) floats, 1 GiB): use fewer or smaller layers", status: Exit.usage)
                }
                if members > 1, parameters * members > perFile {
                    throw CLIError("an ensemble of \(members) networks of \(parameters) parameters each is more than a model file holds "
                                   + "(\(perFile) floats, 1 GiB): use at most \(perFile / parameters) members", status: Exit.usage)
                }
                var probe = SeededGenerator(seed: 0)
                _ = try Network(architecture: architecture, cost: c.cost, weightInit: c.weightInit, rng: &probe)
            }
        } catch let error as TrainerError {
            throw CLIError((layers != nil ? "--layers \(layers ?? ""): " : "") + error.message, status: Exit.usage)
        }
        return c
    }

    /// When checkpoints are written: with --checkpoint or --resume, after every epoch and by
    /// --checkpoint-every (default 60 s) / --checkpoint-every-batches; otherwise only when a
    /// signal stops the run.
    func checkpointSchedule() throws -> CheckpointSchedule {
        if let checkpointEvery, !(checkpointEvery.isFinite && checkpointEvery >= 0) {
            throw CLIError("--checkpoint-every must be a number of seconds (0: after epochs only), got \(checkpointEvery)", status: Exit.usage)
        }
        if let checkpointEveryBatches, checkpointEveryBatches < 1 {
            throw CLIError("--checkpoint-every-batches must be at least 1, got \(checkpointEveryBatches)", status: Exit.usage)
        }
        guard checkpoint || resume else {
            if checkpointEvery != nil || checkpointEveryBatches != nil {
                throw CLIError("--checkpoint-every and --checkpoint-every-batches set how often --checkpoint saves: add --checkpoint",
                               status: Exit.usage)
            }
            return .whenStopped
        }
        let seconds = checkpointEvery ?? 60
        return CheckpointSchedule(afterEveryEpoch: true, everyMiniBatches: checkpointEveryBatches,
                                  everySeconds: seconds > 0 ? seconds : nil)
    }

    /// The command that continues an interrupted run of this one.
    var resumeCommand: String {
        var words = ["nnrt", "train", "--resume", "--out", shellQuoted(out)]
        if let data { words += ["--data", shellQuoted(data)] }
        return words.joined(separator: " ")
    }

    /// How many networks to train: --ensemble, else the preset's.
    var members: Int {
        if let ensemble { return ensemble }
        if let preset, let p = Presets.named(preset) { return p.ensembleMembers }
        return 1
    }

    /// The ensemble's voting rule: --voting, else the preset's, else majority.
    var votingRule: VotingRule {
        if let voting, let v = VotingRule.allCases.first(where: { $0.name == voting }) { return v }
        if let preset, let p = Presets.named(preset) { return p.voting }
        return .majority
    }

    func run() throws {
        try reportingErrors {
            if resume && restart {
                throw CLIError("--resume continues the interrupted run and --restart deletes it: give one of them",
                               status: Exit.usage)
            }
            if resume && (from != nil || preset != nil || layers != nil || sizes != nil) {
                throw CLIError("--resume continues with the settings stored in the checkpoint; give only --out (and --data)",
                               status: Exit.usage)
            }
            let continuing: NetworkModel?
            if let from {
                guard case .network(let n) = try loadModelFile(from).body else {
                    throw CLIError("\(from): is an ensemble; --from continues a single network", status: Exit.usage)
                }
                continuing = n
            } else {
                continuing = nil
            }
            let ckptPath = checkpointPath(forOutput: out)
            var resumed: Checkpoint? = nil
            var config: TrainingConfig
            var memberCount = members
            // Ensemble member checkpoints, gaps included: the count is the highest member's
            // number, and a member whose file is gone starts afresh (`trainEnsemble`).
            let memberCheckpoints = existingEnsembleCheckpoints(base: ckptPath)
            if resume {
                if FileManager.default.fileExists(atPath: ckptPath) {
                    do { resumed = try Checkpoint.read(path: ckptPath) } catch { throw CLIError(any: error) }
                    config = resumed?.config ?? TrainingConfig()
                    memberCount = 1
                } else if let last = memberCheckpoints.last {
                    // Member 1's checkpoint holds the ensemble's configuration and first seed.
                    let firstPath = ensembleCheckpointPath(base: ckptPath, member: 0)
                    guard memberCheckpoints.first == 0 else {
                        let others = memberCheckpoints.map { String($0 + 1) }.joined(separator: ", ")
                        throw CLIError("--resume: \(firstPath) is missing (it holds the ensemble's settings; "
                                       + "checkpoints remain for member(s) \(others)): start over with --restart",
                                       status: Exit.noInput)
                    }
                    let first: Checkpoint
                    do { first = try Checkpoint.read(path: firstPath) } catch { throw CLIError(any: error) }
                    config = first.config
                    memberCount = max(last + 1, ensemble ?? 0)
                } else {
                    throw CLIError("--resume: no checkpoint \(ckptPath) (was the run started with --checkpoint?)", status: Exit.noInput)
                }
            } else {
                config = try self.config(continuing: continuing)
            }
            let schedule = try checkpointSchedule()
            try checkWritable(out)
            if let report {
                guard URL(fileURLWithPath: report).standardizedFileURL != URL(fileURLWithPath: out).standardizedFileURL else {
                    throw CLIError("--report \(report) is the model file's path: give a directory for the report, e.g. --report \(defaultReportDirectory(forModel: out))",
                                   status: Exit.usage)
                }
                try checkReportDirectory(report)
            }
            removeStaleTemporaryFiles(forOutput: out)
            if !resume {
                // A new run would replace an interrupted run's checkpoint at its first save, and
                // with it hours of training: that takes --restart (continuing takes --resume).
                let existing = (FileManager.default.fileExists(atPath: ckptPath) ? [ckptPath] : [])
                    + memberCheckpoints.map { ensembleCheckpointPath(base: ckptPath, member: $0) }
                if let path = existing.first, !restart {
                    throw CLIError("\(path) holds an interrupted run: continue it with \(resumeCommand), "
                                   + "or start over with --restart (which deletes it)", status: Exit.usage)
                }
                if restart {
                    for path in existing { removeCheckpoint(at: path) }
                }
            }

            let mnist: MNISTData
            do {
                mnist = try MNIST.load(directory: data, log: { line in
                    Console.note("nnrt: \(line)")
                })
            } catch {
                throw CLIError(any: error)
            }

            let command = (["nnrt"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
            let trainingImages = config.trainingLimit.map { min($0, mnist.training.count) } ?? mnist.training.count
            let display = TrainingDisplay(config: config, members: memberCount, trainingImages: trainingImages,
                                          epochsDoneBefore: resumed?.epochsDone ?? 0, quiet: quiet, json: json)
            defer { display.finish() }
            if json && !quiet {
                let h = config
                JSON.object([
                    ("event", .string("start")),
                    ("network", .string(h.architecture ?? "[\(h.sizes.map(String.init).joined(separator: ","))]")),
                    ("cost", .string(h.cost.name)), ("eta", .double(h.eta)), ("lambda", .double(h.lambda)),
                    ("regularization", .string(h.regularization.name)), ("mini_batch_size", .int(h.miniBatchSize)),
                    ("epochs", .int(h.epochs)), ("weight_init", .string(h.weightInit.name)), ("seed", .uint(h.seed)),
                    ("training_images", .int(trainingImages)), ("expansion", .string(h.expansion)),
                    ("members", .int(memberCount)), ("resumed_after_epoch", .optional(resumed?.epochsDone)),
                    ("output", .string(out)),
                ]).emit()
            } else if !quiet {
                let h = config
                let net = h.architecture ?? "[\(h.sizes.map(String.init).joined(separator: ","))]"
                var line = "training \(net) \(h.cost.name), eta \(h.eta), "
                    + "lambda \(h.lambda)\(h.regularization == .l1 ? " (L1)" : ""), mini-batch \(h.miniBatchSize), \(h.epochs) epochs, "
                    + "\(h.weightInit.name) init, seed \(h.seed), on \(config.trainingLimit ?? mnist.training.count) images"
                if !h.expansion.isEmpty { line += " expanded by \(h.expansion)" }
                if h.momentum > 0 { line += ", momentum \(h.momentum)" }
                if h.schedulePatience > 0 {
                    line += String(format: ", eta / %g after %d epochs without improvement", h.scheduleFactor, h.schedulePatience)
                    if h.scheduleStopFraction > 0 { line += String(format: " until %g of its start", h.scheduleStopFraction) }
                }
                if h.earlyStoppingPatience > 0 { line += ", early stopping after \(h.earlyStoppingPatience)" }
                if memberCount > 1 { line += "; ensemble of \(memberCount)" }
                if resumed != nil { line += "; resuming after epoch \(resumed?.epochsDone ?? 0)" }
                say(line)
            }
            let started = Date()
            let written: ModelFile
            do {
                // From here on SIGINT and SIGTERM stop training gracefully (see Signals.swift), until
                // the model is written.
                StopSignals.install()
                defer { StopSignals.uninstall() }
                if memberCount > 1 {
                    written = try runEnsemble(config: config, members: memberCount, mnist: mnist, command: command,
                                              checkpointBase: ckptPath, schedule: schedule, display: display)
                } else {
                    written = try runSingle(config: config, mnist: mnist, continuing: continuing, resumed: resumed, command: command,
                                            checkpointPath: ckptPath, schedule: schedule, display: display)
                }
                if StopSignals.received != 0 {
                    Console.note("nnrt: \(StopSignals.name(StopSignals.received)) came after the last mini-batch: the run was complete and \(out) is written")
                    if let report {
                        Console.note("nnrt: the report is not written; to write it: nnrt report \(shellQuoted(out)) --out \(shellQuoted(report))")
                    }
                    return
                }
            }
            if let report {
                // The model is written; the report measures it on the test set (an ordinary Ctrl-C
                // stops this: the page is written atomically, so nothing half-written is left).
                do {
                    let page = try writeReport(file: written, modelPath: out, directory: report, data: data,
                                               runWallSeconds: Date().timeIntervalSince(started))
                    if json {
                        JSON.object([("event", .string("report")), ("output", .string(page.path))]).emit()
                    } else {
                        say(page.summaryLine)
                    }
                } catch let error as CLIError {
                    throw CLIError(error.message + " (the model \(out) is written; to retry the report: nnrt report "
                                   + "\(shellQuoted(out)) --out \(shellQuoted(report)))", status: error.status)
                }
            }
        }
    }

    /// Trains one network, writes it, prints the summary.
    func runSingle(config: TrainingConfig, mnist: MNISTData, continuing: NetworkModel?, resumed: Checkpoint?,
                   command: String, checkpointPath ckptPath: String, schedule: CheckpointSchedule,
                   display: TrainingDisplay) throws -> ModelFile {
        let observer: (TrainingEvent) -> Void = { event in
            display.handle(event, member: nil)
            if case .checkpointWritten(let epoch, _) = event, epoch == interruptAfter {
                display.finish()
                Console.note("interrupted after epoch \(epoch) (--interrupt-after); continue with: nnrt train --resume --out \(out)")
                Foundation.exit(75)
            }
        }
        // The checkpoint path is always given: without --checkpoint the schedule writes nothing
        // unless a signal stops the run.
        let outcome: TrainingOutcome
        do throws(TrainerError) {
            if let resumed {
                outcome = try resumeTraining(resumed, data: mnist, command: command, checkpointPath: ckptPath,
                                             checkpointSchedule: schedule, shouldStop: StopSignals.shouldStop,
                                             observer: observer, threads: threads)
            } else {
                outcome = try NNTrainer.train(config, data: mnist, continuing: continuing, command: command,
                                              checkpointPath: ckptPath, checkpointSchedule: schedule,
                                              shouldStop: StopSignals.shouldStop, observer: observer, threads: threads)
            }
        } catch {
            display.finish()
            throw stopped(error)
        }
        display.finish()

        var model = outcome.model
        let test: EvaluationResult
        do {
            test = try outcome.network.evaluate(mnist.test, lambda: config.lambda, regularization: config.regularization)
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
        if checkpoint || resumed != nil { removeCheckpoint(at: ckptPath) }

        let trained = Array(outcome.network.history.suffix(outcome.epochsTrained))
        let seconds = trained.reduce(0) { $0 + $1.seconds }
        if json {
            JSON.object([
                ("event", .string("result")), ("output", .string(out)), ("kind", .string("network")),
                ("epochs_trained", .int(trained.count)), ("seconds", .seconds(seconds)),
                ("seconds_per_epoch", trained.isEmpty ? .null : .seconds(seconds / Double(trained.count))),
                ("test", TrainingDisplay.metricsJSON(SplitMetrics(total: test.total, cost: test.cost, correct: test.correct))),
                ("best", bestJSON(outcome, config: config)), ("selected_epoch", .optional(outcome.selectedEpoch)),
                ("stop_reason", .optional(outcome.stopReason)),
                ("weights_sha256", .string(ModelJSON.weightsDigest(model))),
            ]).emit()
            return file
        }
        if !trained.isEmpty {
            say(String(format: "trained %d epochs in %.1f s (%.2f s per epoch of SGD)",
                       trained.count, seconds, seconds / Double(trained.count)))
        }
        if let line = bestLine(outcome, config: config) { say(line) }
        if let selected = outcome.selectedEpoch { say("kept the weights of epoch \(selected)") }
        say("test accuracy: " + accuracyText(correct: test.correct, total: test.total))
        say("wrote \(out)")
        return file
    }

    /// The error to leave with when training failed: for a stop by a signal, the line saying
    /// where it stopped and how to continue, with status 130 (SIGINT) or 143 (SIGTERM).
    /// (Not an error: one line on stderr without "error:".)
    func stopped(_ error: TrainerError) -> any Error {
        guard error.kind == .interrupted else { return CLIError(trainerError: error) }
        let sig = StopSignals.received
        Console.note("nnrt: \(StopSignals.name(sig)): \(error.message); continue with: \(resumeCommand)")
        if json {
            JSON.object([
                ("event", .string("interrupted")), ("signal", .string(StopSignals.name(sig))),
                ("status", .int(Int(StopSignals.exitStatus(sig)))), ("message", .string(error.message)),
                ("resume", .string(resumeCommand)),
            ]).emit()
        }
        return ExitCode(StopSignals.exitStatus(sig))
    }

    /// Trains the members of an ensemble, writes the ensemble file, prints each member's and the
    /// ensemble's test accuracy under both voting rules.
    func runEnsemble(config: TrainingConfig, members: Int, mnist: MNISTData, command: String,
                     checkpointBase: String, schedule: CheckpointSchedule, display: TrainingDisplay) throws -> ModelFile {
        let observer: @Sendable (Int, TrainingEvent) -> Void = { member, event in
            display.handle(event, member: member)
        }
        let outcomes: [TrainingOutcome]
        let written: ModelFile
        do throws(TrainerError) {
            outcomes = try trainEnsemble(config, members: members, data: mnist, threads: threads, command: command,
                                         checkpointBase: checkpointBase, resume: resume, checkpointSchedule: schedule,
                                         shouldStop: StopSignals.shouldStop, observer: observer)
        } catch {
            display.finish()
            throw stopped(error)
        }
        display.finish()
        var text: [String] = []
        var memberJSON: [JSON] = []
        var votes: [(String, JSON)] = []

        // Each member, and the ensemble under both rules, through the runtime (as `nnrt eval`).
        var runtimeMembers: [NNRuntime.Model] = []
        var memberModels: [NetworkModel] = []
        let labels = mnist.test.labels
        func correct(_ p: Prediction) -> Int {
            var c = 0
            for (i, l) in p.labels.enumerated() where Int(l) == Int(labels[i]) { c += 1 }
            return c
        }
        do {
            for (k, o) in outcomes.enumerated() {
                var m = o.model
                m.name = "member\(k + 1)"
                let r = try NNRuntime.Model(file: ModelFile(body: .network(m)))
                let c = correct(try r.predict(mnist.test.images))
                m.evaluations = [Evaluation(dataset: "mnist:t10k", metrics: SplitMetrics(total: labels.count, correct: c))]
                memberModels.append(m)
                runtimeMembers.append(r)
                var line = "member \(k + 1) (seed \(config.seed &+ UInt64(k))): test accuracy " + accuracyText(correct: c, total: labels.count)
                if let b = bestLine(o, config: config) { line += "; " + b }
                text.append(line)
                let trained = Array(o.network.history.suffix(o.epochsTrained))
                memberJSON.append(.object([
                    ("member", .int(k + 1)), ("seed", .uint(config.seed &+ UInt64(k))),
                    ("epochs_trained", .int(trained.count)), ("seconds", .seconds(trained.reduce(0) { $0 + $1.seconds })),
                    ("test", TrainingDisplay.metricsJSON(SplitMetrics(total: labels.count, correct: c))),
                    ("best", bestJSON(o, config: config)), ("selected_epoch", .optional(o.selectedEpoch)),
                    ("stop_reason", .optional(o.stopReason)), ("weights_sha256", .string(ModelJSON.weightsDigest(m))),
                ]))
            }
            var ensembleFigures: [VotingRule: Int] = [:]
            for rule in VotingRule.allCases {
                let e = try NNRuntime.Model(ensembleOf: runtimeMembers, voting: rule)
                let c = correct(try e.predict(mnist.test.images))
                ensembleFigures[rule] = c
                text.append("ensemble of \(members), \(rule.name) vote: test accuracy " + accuracyText(correct: c, total: labels.count))
                votes.append((rule.name, TrainingDisplay.metricsJSON(SplitMetrics(total: labels.count, correct: c))))
            }
            let rule = votingRule
            let name = URL(fileURLWithPath: out).deletingPathExtension().lastPathComponent
            var ensembleModel = EnsembleModel(name: name, members: memberModels, voting: rule)
            ensembleModel.evaluations = [Evaluation(dataset: "mnist:t10k",
                                                    metrics: SplitMetrics(total: labels.count, correct: ensembleFigures[rule]))]
            written = ModelFile(body: .ensemble(ensembleModel))
            do {
                try writeModelFile(written, to: out)
            } catch {
                throw CLIError("cannot write \(out): \(error)", status: Exit.cannotCreate)
            }
        } catch let error as ModelError {
            throw CLIError(error)
        }
        if checkpoint || resume {
            for k in 0..<members { removeCheckpoint(at: ensembleCheckpointPath(base: checkpointBase, member: k)) }
        }
        if json {
            JSON.object([
                ("event", .string("result")), ("output", .string(out)), ("kind", .string("ensemble")),
                ("voting", .string(votingRule.name)), ("members", .array(memberJSON)), ("test", .object(votes)),
            ]).emit()
        } else {
            for line in text { say(line) }
            say("wrote \(out) (ensemble of \(members), \(votingRule.name) vote)")
        }
        return written
    }

    /// The best evaluation epoch as JSON (null without evaluation accuracy).
    func bestJSON(_ outcome: TrainingOutcome, config: TrainingConfig) -> JSON {
        guard let best = outcome.bestEpoch, let ev = best.evaluation, ev.correct != nil else { return .null }
        return .object([
            ("set", .string(config.evaluationSet.rawValue)), ("epoch", .int(best.epoch)),
            ("evaluation", TrainingDisplay.metricsJSON(ev)), ("test", TrainingDisplay.metricsJSON(outcome.testAtBestEpoch)),
        ])
    }

    /// "best validation: epoch N, 99.06% (9906/10000); test accuracy at that epoch: 99.01% (...)".
    func bestLine(_ outcome: TrainingOutcome, config: TrainingConfig) -> String? {
        guard let best = outcome.bestEpoch, let ev = best.evaluation, let correct = ev.correct else { return nil }
        var line = "best \(config.evaluationSet.rawValue): epoch \(best.epoch), " + accuracyText(correct: correct, total: ev.total)
        if config.evaluationSet == .validation, let t = outcome.testAtBestEpoch, let c = t.correct {
            line += "; test accuracy at that epoch: " + accuracyText(correct: c, total: t.total)
        }
        return line
    }
}

/// "Epoch 12: 9491 / 10000", plus any other monitored figures, then the gradient norms.
func epochLines(_ m: EpochMetrics) -> [String] {
    var parts: [String] = []
    if let e = m.evaluation, let c = e.correct { parts.append("\(c) / \(e.total)") }
    if let e = m.evaluation, let cost = e.cost { parts.append(String(format: "evaluation cost %.4f", cost)) }
    if let t = m.test, let c = t.correct { parts.append("test \(c) / \(t.total)") }
    if let t = m.training, let c = t.correct { parts.append("training \(c) / \(t.total)") }
    if let t = m.training, let cost = t.cost { parts.append(String(format: "training cost %.4f", cost)) }
    if parts.isEmpty { parts.append("complete") }
    var lines = ["Epoch \(m.epoch): " + parts.joined(separator: ", ") + String(format: "  (%.2f s)", m.seconds)]
    if !m.gradientNorms.isEmpty { lines.append("  gradient norms by layer: " + normsText(m.gradientNorms)) }
    return lines
}

/// The line for a schedule, stop, gradient-norm or checkpoint event (nil for the others).
func eventLine(_ event: TrainingEvent) -> String? {
    switch event {
    case .initialGradientNorms(let norms): "gradient norms by layer at initialisation: " + normsText(norms)
    case .etaChanged(let epoch, let eta): "after epoch \(epoch): no improvement; eta is now \(eta)"
    case .stopped(let epoch, let reason): "stopping after epoch \(epoch): \(reason)"
    case .checkpointWritten, .checkpointWrittenWithinEpoch, .progress, .epochEnded: nil
    }
}

/// Removes the temporary files that an nnrt killed while writing (SIGKILL, a crash, a power
/// loss) left beside the model `out` or its checkpoints: the atomic writer's "PATH.tmp-XXXXXX" for
/// PATH = MODEL, MODEL.checkpoint or MODEL.checkpoint.memberK. They are never read; the files
/// they were to replace are intact.
func removeStaleTemporaryFiles(forOutput out: String) {
    let url = URL(fileURLWithPath: out)
    let directory = url.deletingLastPathComponent().path
    let base = url.lastPathComponent
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
    for name in names {
        guard let marker = name.range(of: ".tmp-", options: .backwards) else { continue }
        let stem = name[..<marker.lowerBound], suffix = name[marker.upperBound...]
        guard suffix.count == 6, suffix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else { continue }
        let memberPrefix = base + ".checkpoint.member"
        let member = stem.hasPrefix(memberPrefix) ? stem.dropFirst(memberPrefix.count) : ""
        guard stem == base || stem == base + ".checkpoint" || (!member.isEmpty && member.allSatisfy(\.isNumber)) else { continue }
        try? FileManager.default.removeItem(atPath: directory + "/" + name)
    }
}

/// `text` as one shell word: unchanged if it is plain, else in single quotes.
func shellQuoted(_ text: String) -> String {
    let plain = !text.isEmpty && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-+=:,@%".contains($0)) }
    return plain ? text : "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// "0.0123, 0.0456, 0.1" (input side first).
func normsText(_ norms: [Double]) -> String {
    norms.map { String(format: "%.4g", $0) }.joined(separator: ", ")
}

/// Fails early, before any training, if `path` cannot be created: an empty path, an existing
/// directory, or a directory that is missing or not writable.
func checkWritable(_ path: String, example: String = "model.nnrt") throws {
    guard !path.isEmpty else {
        throw CLIError("the output path is empty: give a file name, e.g. \(example)", status: Exit.cannotCreate)
    }
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
        throw CLIError("cannot write \(path): it is a directory; give a file name, e.g. \((path as NSString).appendingPathComponent(example))",
                       status: Exit.cannotCreate)
    }
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
        case .interrupted: status = Exit.interrupted
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
