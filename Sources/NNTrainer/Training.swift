// One call that runs a whole training configuration on MNIST: pick (and expand) the data,
// initialise (or continue, or resume) the network, run SGD epoch by epoch with monitoring, the
// learning-rate schedule, early stopping, model selection, chapter 5's gradient norms and
// checkpoints (after epochs and within them), stop when the host asks, and build the model with
// its provenance.

import Foundation
import NNModel

/// What `train` produces.
public struct TrainingOutcome: Sendable {
    /// The trained network (its `history` holds every epoch, earlier ones included). With
    /// `keepBest`, it holds the weights of the best evaluation epoch (`selectedEpoch`).
    public var network: Network
    /// The network as a model, with provenance, ready for `writeModelFile`.
    public var model: NetworkModel
    /// The training split it learned from (limited by `trainingLimit`, before any expansion).
    public var trainingData: Dataset
    /// Number of examples per epoch after expansion (250,000 for shift1 on 50,000).
    public var expandedTrainingCount: Int
    /// The data the evaluation monitors used, if any.
    public var evaluationData: Dataset?
    /// The epoch (of this run or an earlier one in the history) with the highest evaluation
    /// accuracy, the earliest on ties; nil without evaluation accuracy.
    public var bestEpoch: EpochMetrics?
    /// The test set's figures at `bestEpoch`: its `test` metrics when the test set was monitored
    /// alongside validation data, or its evaluation metrics when the evaluation data is the test set.
    public var testAtBestEpoch: SplitMetrics?
    /// The epoch whose weights `network` holds when `keepBest` selected one (nil: the last).
    public var selectedEpoch: Int?
    /// Why training stopped before `epochs` (the schedule's end or early stopping), or nil.
    public var stopReason: String?
    /// Epochs trained by this configuration (including those before a resume).
    public var epochsTrained: Int
}

/// When a run with a checkpoint path writes checkpoints. A checkpoint is also written whenever
/// the host stops the run (`shouldStop`), whatever the schedule.
public struct CheckpointSchedule: Sendable, Equatable {
    /// After every epoch (after its monitoring and the schedule's decisions).
    public var afterEveryEpoch: Bool
    /// Also within an epoch, after every this many of its mini-batches (nil: not by count).
    public var everyMiniBatches: Int?
    /// Also within an epoch, at the first mini-batch boundary once this many seconds have passed
    /// since the run's last checkpoint (or its start) (nil: not by time).
    public var everySeconds: Double?

    public init(afterEveryEpoch: Bool = true, everyMiniBatches: Int? = nil, everySeconds: Double? = nil) {
        self.afterEveryEpoch = afterEveryEpoch
        self.everyMiniBatches = everyMiniBatches
        self.everySeconds = everySeconds
    }

    /// After every epoch only (the default).
    public static let everyEpoch = CheckpointSchedule()
    /// Only when the host stops the run.
    public static let whenStopped = CheckpointSchedule(afterEveryEpoch: false)

    /// Checks the values.
    /// - Throws: `.invalidArgument` for a count below 1 or a time that is not a positive number.
    public func validate() throws(TrainerError) {
        if let n = everyMiniBatches, n < 1 {
            throw TrainerError(.invalidArgument, "checkpoints every \(n) mini-batches: the count must be at least 1")
        }
        if let t = everySeconds, !(t.isFinite && t > 0) {
            throw TrainerError(.invalidArgument, "checkpoints every \(t) seconds: the time must be a positive number")
        }
    }
}

/// Trains a network on MNIST as `config` says.
///
/// Each epoch shuffles the training order, runs `Network.trainEpoch` with the current η, then
/// measures what `config.monitor` asks for (plus the test set with `monitorTest`, and gradient
/// norms with `gradientNorms`), appends the epoch to the history, applies early stopping and the
/// learning-rate schedule (an improvement is an evaluation accuracy strictly above the best so
/// far), and writes a checkpoint if `checkpointPath` is given.
///
/// - Parameters:
///   - config: hyperparameters, seed, monitors, training limit, expansion and evaluation set.
///   - data: MNIST as `MNIST.load` returns it.
///   - continuing: a model to continue training instead of a fresh network. Its layers and cost
///     are kept (`config.sizes`, `architecture`, `activation`, `cost` and `weightInit` are then
///     ignored) and new epochs are numbered after the ones in its provenance.
///   - command: the command line, recorded in the provenance.
///   - checkpointPath: where to write checkpoints (atomically and durably: a temporary file,
///     fsync, rename), from which `resumeTraining` continues exactly; the caller removes it
///     (`removeCheckpoint`) once the model is safely written.
///   - checkpointSchedule: when to write them: after every epoch (the default), and/or within
///     epochs every N mini-batches or T seconds. Ignored without `checkpointPath`.
///   - shouldStop: polled between mini-batches (and after each epoch) on the training thread;
///     once it returns true the run stops at that mini-batch boundary, writes a checkpoint of
///     that exact point to `checkpointPath` (if given) and throws `.interrupted`. The library
///     installs no signal handlers: a host that wants Ctrl-C to stop a run sets a flag that
///     this closure reads. A request that comes after the last mini-batch lets the run finish.
///   - observer: receives progress, epoch, schedule, checkpoint and stop events.
///   - threads: the threads training and evaluation may use (`Network.threads`: 1, or 2 for the
///     two halves of a heavy network's mini-batches); nil for `Network.defaultThreads`. The
///     results do not depend on it.
/// - Throws: `TrainerError` for an invalid configuration, a model that cannot be trained or a
///   checkpoint that cannot be written; `.interrupted` when `shouldStop` stopped the run.
public func train(_ config: TrainingConfig, data: MNISTData, continuing: NetworkModel? = nil,
                  command: String = "", checkpointPath: String? = nil,
                  checkpointSchedule: CheckpointSchedule = .everyEpoch,
                  shouldStop: (@Sendable () -> Bool)? = nil,
                  observer: ((TrainingEvent) -> Void)? = nil,
                  threads: Int? = nil) throws(TrainerError) -> TrainingOutcome {
    try config.validate()
    try checkpointSchedule.validate()
    try validateThreads(threads)
    let prepared = try PreparedData(config: config, data: data)
    var state = try TrainingState.start(config: config, prepared: prepared, continuing: continuing, observer: observer)
    if let threads { state.network.threads = min(threads, 2) }
    return try runTraining(config: config, prepared: prepared, state: &state, command: command,
                           checkpointPath: checkpointPath, schedule: checkpointSchedule, shouldStop: shouldStop,
                           observer: observer)
}

/// A thread count given to `train` or `resumeTraining` must be at least 1.
private func validateThreads(_ threads: Int?) throws(TrainerError) {
    if let threads, threads < 1 { throw TrainerError(.invalidArgument, "threads must be at least 1, got \(threads)") }
}

/// Continues the run whose checkpoint is at `checkpointPath` (written by `train` after an epoch,
/// within one, or when it was stopped) with the configuration stored in it, exactly where it
/// stopped: the final weights and the per-epoch figures (all but the wall times) are bit for bit
/// those of a run that was never interrupted. Checkpoints keep being written to the same path.
///
/// - Parameters:
///   - checkpointPath: the checkpoint file.
///   - data: MNIST, the same files the run started with.
///   - command: the command line, recorded in the provenance.
///   - checkpointSchedule, shouldStop, observer, threads: as for `train`.
/// - Throws: `TrainerError.io` if the file cannot be read, `.format` if it is damaged,
///   `.interrupted` as for `train`.
public func resumeTraining(from checkpointPath: String, data: MNISTData, command: String = "",
                           checkpointSchedule: CheckpointSchedule = .everyEpoch,
                           shouldStop: (@Sendable () -> Bool)? = nil,
                           observer: ((TrainingEvent) -> Void)? = nil,
                           threads: Int? = nil) throws(TrainerError) -> TrainingOutcome {
    let checkpoint = try Checkpoint.read(path: checkpointPath)
    return try resumeTraining(checkpoint, data: data, command: command, checkpointPath: checkpointPath,
                              checkpointSchedule: checkpointSchedule, shouldStop: shouldStop, observer: observer,
                              threads: threads)
}

/// Continues the run held by `checkpoint` (see `resumeTraining(from:data:command:observer:)`),
/// writing further checkpoints to `checkpointPath` if given.
public func resumeTraining(_ checkpoint: Checkpoint, data: MNISTData, command: String = "",
                           checkpointPath: String? = nil,
                           checkpointSchedule: CheckpointSchedule = .everyEpoch,
                           shouldStop: (@Sendable () -> Bool)? = nil,
                           observer: ((TrainingEvent) -> Void)? = nil,
                           threads: Int? = nil) throws(TrainerError) -> TrainingOutcome {
    let config = checkpoint.config
    try config.validate()
    try checkpointSchedule.validate()
    try validateThreads(threads)
    let prepared = try PreparedData(config: config, data: data)
    var state = try checkpoint.trainingState()
    try state.check(against: prepared, config: config, what: "the checkpoint")
    if let threads { state.network.threads = min(threads, 2) }
    return try runTraining(config: config, prepared: prepared, state: &state, command: command,
                           checkpointPath: checkpointPath, schedule: checkpointSchedule, shouldStop: shouldStop,
                           observer: observer)
}

// MARK: The run

/// The data of a run, prepared once (and shared by ensemble members): the training split, its
/// fixed expansion, the evaluation data and the test set.
struct PreparedData: Sendable {
    /// The training split, before expansion.
    let base: Dataset
    /// `base` with the fixed expansion (shift1) applied; per-epoch distortions apply to it.
    let fixed: Dataset
    let expansion: ExpansionSpec
    let evaluation: Dataset?
    let test: Dataset

    init(config: TrainingConfig, data: MNISTData) throws(TrainerError) {
        base = config.trainingLimit.map { data.training.prefix($0) } ?? data.training
        guard base.count > 0 else { throw TrainerError(.invalidArgument, "the training data is empty") }
        expansion = try ExpansionSpec.parse(config.expansion)
        fixed = expansion.shift1 ? try Expansion.shift1(base) : base
        evaluation = switch config.evaluationSet {
        case .validation: data.validation
        case .test: data.test
        case .none: nil
        }
        if let evaluation, evaluation.count == 0 {
            throw TrainerError(.invalidArgument, "the \(config.evaluationSet.rawValue) data is empty")
        }
        test = data.test
    }

    /// "train[0:50000]" for "mnist:train[0:50000]".
    static func split(_ d: Dataset?) -> String {
        guard let d else { return "" }
        return d.name.hasPrefix("mnist:") ? String(d.name.dropFirst("mnist:".count)) : d.name
    }
}

/// Everything that changes during a run: what a checkpoint holds.
struct TrainingState: Sendable, Equatable {
    var network: Network
    var optimizer: OptimizerState
    /// Shuffling and dropout generator.
    var rng: SeededGenerator
    /// The training order, (expanded count), shuffled in place each epoch.
    var order: [Int]
    /// η of the next epoch.
    var eta: Double
    /// Best evaluation accuracy (correct count) so far in this run, and its epoch.
    var bestCorrect: Int?
    var bestEpoch: Int?
    /// Epochs since the last improvement (early stopping).
    var epochsSinceImprovement: Int
    /// Epochs since the last improvement or change of η (the schedule).
    var epochsSinceScheduleEvent: Int
    /// The parameters at `bestEpoch`, with `keepBest`.
    var bestParameters: [Float]?
    /// Epochs of this configuration done so far.
    var epochsDone: Int
    var initialGradientNorms: [Double]
    /// Set when the schedule or early stopping ended the run.
    var stopReason: String?
    /// Within an epoch: the examples of the current epoch's (already shuffled) `order` done so
    /// far, a multiple of the mini-batch size; nil between epochs (the next one shuffles first).
    var epochPosition: Int? = nil
    /// Within an epoch: the wall time of its SGD so far, in seconds.
    var epochSeconds: Double = 0

    /// The state before the first epoch: a new network (or the continued one), zero velocities,
    /// the identity order; measures the initial gradient norms if asked.
    static func start(config: TrainingConfig, prepared: PreparedData, continuing: NetworkModel?,
                      observer: ((TrainingEvent) -> Void)?) throws(TrainerError) -> TrainingState {
        var rng = SeededGenerator(seed: config.seed)
        let network: Network
        if let continuing {
            network = try Network(model: continuing)
        } else {
            network = try Network(architecture: try config.resolvedArchitecture(), cost: config.cost,
                                  weightInit: config.weightInit, rng: &rng)
        }
        var norms: [Double] = []
        if config.gradientNorms {
            norms = try network.gradientNorms(on: prepared.base, count: 1000)
            observer?(.initialGradientNorms(norms))
        }
        let velocity = config.momentum > 0 ? [Float](repeating: 0, count: network.parameters.count) : []
        return TrainingState(network: network, optimizer: OptimizerState(velocity: velocity), rng: rng,
                             order: Array(0..<prepared.fixed.count), eta: config.eta, bestCorrect: nil, bestEpoch: nil,
                             epochsSinceImprovement: 0, epochsSinceScheduleEvent: 0, bestParameters: nil,
                             epochsDone: 0, initialGradientNorms: norms, stopReason: nil)
    }

    /// True when no epoch is left to train.
    func isFinished(_ config: TrainingConfig) -> Bool { stopReason != nil || epochsDone >= config.epochs }

    /// Checks that this state (from a checkpoint) fits the data of `prepared` and `config`.
    /// - Throws: `.format` naming `what` if it does not.
    func check(against prepared: PreparedData, config: TrainingConfig, what: String) throws(TrainerError) {
        guard order.count == prepared.fixed.count else {
            throw TrainerError(.format,
                               "\(what)'s training order has \(order.count) examples, the data gives \(prepared.fixed.count): resume with the same MNIST files and options")
        }
        if let k = epochPosition, k >= order.count || k % config.miniBatchSize != 0 {
            throw TrainerError(.format,
                               "\(what) stops an epoch of \(order.count) examples after \(k), not at a boundary of its \(config.miniBatchSize)-example mini-batches")
        }
    }

    /// Where the run stands within an epoch (nil between epochs).
    func positionInEpoch(_ config: TrainingConfig) -> TrainingProgress? {
        guard let k = epochPosition else { return nil }
        let m = config.miniBatchSize
        return TrainingProgress(epoch: network.history.count + 1, miniBatchesDone: k / m,
                                miniBatchesTotal: (order.count + m - 1) / m)
    }
}

/// Runs the remaining epochs of `state` (first the rest of a partly trained epoch), writing
/// checkpoints to `checkpointPath` as `schedule` says, then builds the outcome. When `shouldStop`
/// returns true at a mini-batch boundary or after an epoch, writes a checkpoint of that point
/// (with a path) and throws `.interrupted`; `state` then holds that point. `threadShare`, if
/// given, is asked between mini-batches how many threads the network may use now.
func runTraining(config: TrainingConfig, prepared: PreparedData, state: inout TrainingState, command: String,
                 checkpointPath: String?, schedule: CheckpointSchedule = .everyEpoch,
                 shouldStop: (@Sendable () -> Bool)? = nil,
                 threadShare: (() -> Int)? = nil,
                 observer: ((TrainingEvent) -> Void)?) throws(TrainerError) -> TrainingOutcome {
    let n = prepared.fixed.count
    let batches = (n + config.miniBatchSize - 1) / config.miniBatchSize
    let progressEvery = max(1, batches / 100)
    let measureEvaluation = prepared.evaluation != nil
        && (config.monitor.contains(.evaluationCost) || config.monitor.contains(.evaluationAccuracy))
    let measureTraining = config.monitor.contains(.trainingCost) || config.monitor.contains(.trainingAccuracy)
    let clock = ContinuousClock()
    var lastCheckpoint = clock.now
    let interval = schedule.everySeconds.map { Duration.nanoseconds(Int64(($0 * 1e9).rounded(.up))) }
    let everyBatches = checkpointPath == nil ? nil : schedule.everyMiniBatches
    let timed = checkpointPath == nil ? nil : interval

    func stopRequested() -> Bool { shouldStop?() ?? false }
    func writeCheckpoint(_ state: TrainingState) throws(TrainerError) {
        guard let checkpointPath else { return }
        try Checkpoint(config: config, state: state, command: command).write(to: checkpointPath)
        lastCheckpoint = clock.now
        if let position = state.positionInEpoch(config) {
            observer?(.checkpointWrittenWithinEpoch(position, path: checkpointPath))
        } else {
            observer?(.checkpointWritten(epoch: state.network.history.count, path: checkpointPath))
        }
    }
    func interrupted(_ state: TrainingState) -> TrainerError {
        var point: String
        if let p = state.positionInEpoch(config) {
            point = "in epoch \(p.epoch) after mini-batch \(p.miniBatchesDone) of \(p.miniBatchesTotal)"
        } else {
            point = state.network.history.isEmpty ? "before the first epoch" : "after epoch \(state.network.history.count)"
        }
        if let checkpointPath { point += "; the checkpoint \(checkpointPath) holds that point" }
        return TrainerError(.interrupted, "training stopped \(point)")
    }

    if !state.isFinished(config) && stopRequested() {
        try writeCheckpoint(state)
        throw interrupted(state)
    }
    while !state.isFinished(config) {
        let epoch = state.network.history.count + 1
        let parameters = SGDParameters(eta: state.eta, lambda: config.lambda, regularization: config.regularization,
                                       momentum: config.momentum, miniBatchSize: config.miniBatchSize,
                                       trainingExamples: n)
        // Per-epoch distortions depend only on the seed and the epoch, so an epoch continued
        // from a checkpoint trains on the same images.
        var epochData = prepared.fixed
        if prepared.expansion.hasDistortions {
            epochData = try Expansion.distortedForEpoch(prepared.fixed, spec: prepared.expansion, seed: config.seed,
                                                        epoch: epoch, threads: state.network.threads)
        }
        var progress: ((Int, Int) -> Void)? = nil
        if let observer {
            progress = { done, total in
                if done % progressEvery == 0 || done == total {
                    observer(.progress(TrainingProgress(epoch: epoch, miniBatchesDone: done, miniBatchesTotal: total)))
                }
            }
        }
        // The epoch's mini-batches, in stretches between checkpoints within it.
        // A stretch also ends when `threadShare` offers a different thread count (an ensemble
        // member whose neighbour finished takes over its thread); that needs no checkpoint.
        while true {
            var stopping = false
            var rethreading = false
            if let threadShare { state.network.threads = threadShare() }
            let threadsNow = state.network.threads
            let part = try state.network.trainEpochSteps(
                epochData, order: &state.order, resumingAt: state.epochPosition, parameters: parameters,
                state: &state.optimizer, rng: &state.rng, progress: progress,
                pause: { done in
                    if stopRequested() {
                        stopping = true
                        return true
                    }
                    if let everyBatches, done % everyBatches == 0 { return true }
                    if let timed, clock.now - lastCheckpoint >= timed { return true }
                    if let threadShare, threadShare() != threadsNow {
                        rethreading = true
                        return true
                    }
                    return false
                })
            state.epochSeconds += part.seconds
            if part.examplesDone >= n { break }
            state.epochPosition = part.examplesDone
            let stopNow = stopping || stopRequested()
            if stopNow || !rethreading { try writeCheckpoint(state) }
            if stopNow { throw interrupted(state) }
        }
        if let threadShare { state.network.threads = threadShare() }
        let seconds = state.epochSeconds
        state.epochPosition = nil
        state.epochSeconds = 0
        epochData = prepared.fixed   // release the distorted copy before monitoring

        var metrics = EpochMetrics(epoch: epoch, seconds: seconds, eta: state.eta)
        let network = state.network
        func measure(_ data: Dataset, cost: Bool, accuracy: Bool) throws(TrainerError) -> SplitMetrics {
            let r = try network.evaluate(data, lambda: config.lambda, regularization: config.regularization,
                                         includeCost: cost, batchSize: 250)
            return SplitMetrics(total: data.count, cost: cost ? r.cost : nil, correct: accuracy ? r.correct : nil)
        }
        if measureTraining {
            metrics.training = try measure(prepared.base, cost: config.monitor.contains(.trainingCost),
                                           accuracy: config.monitor.contains(.trainingAccuracy))
        }
        if measureEvaluation, let evaluation = prepared.evaluation {
            metrics.evaluation = try measure(evaluation, cost: config.monitor.contains(.evaluationCost),
                                             accuracy: config.monitor.contains(.evaluationAccuracy))
        }
        if config.monitorTest && config.evaluationSet == .validation {
            metrics.test = try measure(prepared.test, cost: false, accuracy: true)
        }
        if config.gradientNorms {
            metrics.gradientNorms = try network.gradientNorms(on: prepared.base, count: 1000)
        }
        state.network.history.append(metrics)
        state.epochsDone += 1
        observer?(.epochEnded(metrics))

        // Model selection, early stopping and the schedule follow the evaluation accuracy.
        if let correct = metrics.evaluation?.correct {
            if state.bestCorrect.map({ correct > $0 }) ?? true {
                state.bestCorrect = correct
                state.bestEpoch = epoch
                state.epochsSinceImprovement = 0
                state.epochsSinceScheduleEvent = 0
                if config.keepBest { state.bestParameters = state.network.parameters }
            } else {
                state.epochsSinceImprovement += 1
                state.epochsSinceScheduleEvent += 1
            }
            if config.earlyStoppingPatience > 0 && state.epochsSinceImprovement >= config.earlyStoppingPatience
                && state.epochsDone < config.epochs {
                state.stopReason = "early stopping: no improvement in \(config.earlyStoppingPatience) epochs"
            } else if config.schedulePatience > 0 && state.epochsSinceScheduleEvent >= config.schedulePatience
                        && state.epochsDone < config.epochs {
                state.eta /= config.scheduleFactor
                state.epochsSinceScheduleEvent = 0
                if config.scheduleStopFraction > 0 && state.eta <= config.eta * config.scheduleStopFraction * (1 + 1e-9) {
                    state.stopReason = "learning-rate schedule: eta fell to \(state.eta), \(fractionText(state.eta / config.eta)) of its start"
                } else {
                    observer?(.etaChanged(epoch: epoch, eta: state.eta))
                }
            }
            if let reason = state.stopReason { observer?(.stopped(epoch: epoch, reason: reason)) }
        }

        let stop = !state.isFinished(config) && stopRequested()
        if schedule.afterEveryEpoch || stop { try writeCheckpoint(state) }
        if stop { throw interrupted(state) }
    }
    return finishTraining(config: config, prepared: prepared, state: state, command: command)
}

/// "1/128" for 0.0078125; otherwise the decimal.
private func fractionText(_ f: Double) -> String {
    let inverse = (1 / f).rounded()
    return abs(1 / f - inverse) < 1e-6 ? "1/\(Int(inverse))" : "\(f)"
}

/// The outcome of a finished (or stopped) run: the selected weights and the model with provenance.
func finishTraining(config: TrainingConfig, prepared: PreparedData, state: TrainingState,
                    command: String) -> TrainingOutcome {
    var network = state.network
    var selected: Int? = nil
    if config.keepBest, let best = state.bestParameters, let epoch = state.bestEpoch {
        network.parameters = best
        selected = epoch
    }
    let architecture = network.architecture
    var provenance = Provenance.training(config: config, sizes: architecture.sizes, cost: network.cost,
                                         trainingExamples: prepared.fixed.count,
                                         trainingSplit: PreparedData.split(prepared.base),
                                         evaluationSplit: PreparedData.split(prepared.evaluation),
                                         history: network.history, command: command)
    if var h = provenance.hyperparameters {
        h.regularization = config.regularization
        h.momentum = config.momentum
        h.schedulePatience = config.schedulePatience
        h.scheduleFactor = config.scheduleFactor
        h.scheduleStopFraction = config.scheduleStopFraction
        h.earlyStoppingPatience = config.earlyStoppingPatience
        h.expansion = prepared.expansion.description
        h.architecture = architecture.isSigmoidMLP ? "" : architecture.description
        provenance.hyperparameters = h
    }
    provenance.initialGradientNorms = state.initialGradientNorms
    provenance.selectedEpoch = selected
    let model = network.model(provenance: provenance)

    // The best epoch over the whole history (earlier runs of a continued model included).
    var best: EpochMetrics? = nil
    for e in network.history {
        guard let c = e.evaluation?.correct else { continue }
        if best?.evaluation?.correct.map({ c > $0 }) ?? true { best = e }
    }
    let testAtBest: SplitMetrics? = best.flatMap { b in
        b.test ?? (config.evaluationSet == .test ? b.evaluation : nil)
    }
    return TrainingOutcome(network: network, model: model, trainingData: prepared.base,
                           expandedTrainingCount: prepared.fixed.count, evaluationData: prepared.evaluation,
                           bestEpoch: best, testAtBestEpoch: testAtBest, selectedEpoch: selected,
                           stopReason: state.stopReason, epochsTrained: state.epochsDone)
}
