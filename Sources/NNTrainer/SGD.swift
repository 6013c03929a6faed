// Mini-batch stochastic gradient descent, as network2.py's SGD and update_mini_batch, with its
// four monitoring flags; plus chapter 3's L1 regularisation and momentum, and network3's dropout.

import NNKernels
import NNModel

/// Which figures to measure at the end of each epoch (network2.py's `monitor_*` flags).
public struct Monitor: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// `monitor_training_cost`
    public static let trainingCost = Monitor(rawValue: 1)
    /// `monitor_training_accuracy`
    public static let trainingAccuracy = Monitor(rawValue: 2)
    /// `monitor_evaluation_cost`
    public static let evaluationCost = Monitor(rawValue: 4)
    /// `monitor_evaluation_accuracy`
    public static let evaluationAccuracy = Monitor(rawValue: 8)
    /// All four.
    public static let all: Monitor = [.trainingCost, .trainingAccuracy, .evaluationCost, .evaluationAccuracy]
}

/// Progress through one epoch's mini-batches, for a progress bar.
public struct TrainingProgress: Sendable, Equatable {
    /// The epoch being trained, counted from 1 over the network's whole history.
    public var epoch: Int
    /// Mini-batches finished so far in this epoch.
    public var miniBatchesDone: Int
    /// Mini-batches in this epoch.
    public var miniBatchesTotal: Int
}

/// What training reports to its observer. `sgd` sends only `progress` and `epochEnded`; `train`
/// (Training.swift) sends them all.
public enum TrainingEvent: Sendable, Equatable {
    /// Sent about 100 times per epoch (and always after the last mini-batch).
    case progress(TrainingProgress)
    /// Chapter 5: ||∂C/∂b^l|| per layer with parameters (input side first) before training.
    case initialGradientNorms([Double])
    /// Sent at the end of each epoch, after monitoring, with the epoch's figures. The CLI prints
    /// e.g. "Epoch 12: 9491 / 10000" from `metrics.evaluation`; `metrics.eta`, `gradientNorms`
    /// and `test` are filled as configured.
    case epochEnded(EpochMetrics)
    /// The schedule changed η after `epoch`; the next epoch uses `eta`.
    case etaChanged(epoch: Int, eta: Double)
    /// Training stops after `epoch` before its configured epochs, for `reason`.
    case stopped(epoch: Int, reason: String)
    /// A checkpoint for continuing after `epoch` was written to `path`.
    case checkpointWritten(epoch: Int, path: String)
    /// A checkpoint of a point within an epoch (after `progress.miniBatchesDone` of its
    /// mini-batches) was written to `path`, by the schedule or because the run was asked to stop.
    case checkpointWrittenWithinEpoch(TrainingProgress, path: String)
}

/// The settings of one SGD epoch (the book's hyper-parameters).
public struct SGDParameters: Sendable, Equatable {
    /// η, the learning rate.
    public var eta: Double
    /// λ, the regularisation parameter (0 = none).
    public var lambda: Double
    /// The norm λ applies to (weights only, never biases).
    public var regularization: Regularization
    /// μ, the momentum co-efficient in v → μv − η∇C (0 = plain SGD).
    public var momentum: Double
    /// m, examples per gradient step.
    public var miniBatchSize: Int
    /// n of the regularisation term (ηλ/n): the size of the whole training set.
    public var trainingExamples: Int

    /// The settings of one epoch; `validate()` checks them (as `trainEpoch` does).
    public init(eta: Double, lambda: Double = 0, regularization: Regularization = .l2, momentum: Double = 0,
                miniBatchSize: Int, trainingExamples: Int) {
        self.eta = eta
        self.lambda = lambda
        self.regularization = regularization
        self.momentum = momentum
        self.miniBatchSize = miniBatchSize
        self.trainingExamples = trainingExamples
    }

    /// Checks every value; the message names the offending one.
    public func validate() throws(TrainerError) {
        guard eta.isFinite, eta > 0 else { throw TrainerError(.invalidArgument, "eta must be a positive number, got \(eta)") }
        guard lambda.isFinite, lambda >= 0 else { throw TrainerError(.invalidArgument, "lambda must not be negative, got \(lambda)") }
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw TrainerError(.invalidArgument, "momentum must be in 0..<1, got \(momentum)")
        }
        guard miniBatchSize > 0 else { throw TrainerError(.invalidArgument, "mini-batch size must be positive, got \(miniBatchSize)") }
        guard trainingExamples > 0 else {
            throw TrainerError(.invalidArgument, "training set size n must be positive, got \(trainingExamples)")
        }
    }
}

/// Momentum velocities (empty when momentum is 0), in the layout of `parameters`.
public struct OptimizerState: Sendable, Equatable {
    /// v for every weight and bias; created as zeros by the first epoch with momentum.
    public var velocity: [Float]

    /// A state with the given velocities (empty: created by the first epoch with momentum).
    public init(velocity: [Float] = []) {
        self.velocity = velocity
    }
}

extension Network {
    /// Trains the network by mini-batch stochastic gradient descent (network2.py's `SGD`).
    ///
    /// Each epoch shuffles the order of the training examples with `rng` (Fisher–Yates over the
    /// previous epoch's order, like `random.shuffle(training_data)`), splits it into mini-batches
    /// of `miniBatchSize` (the last one may be smaller) and applies `updateMiniBatch` to each.
    /// After each epoch, the figures asked for in `monitor` are measured and the epoch is appended
    /// to `history` and sent to `observer`.
    ///
    /// - Parameters:
    ///   - trainingData: the examples to learn from; n = trainingData.count is the n of the L2 term.
    ///   - epochs: number of passes over the training data.
    ///   - miniBatchSize: m, examples per gradient step.
    ///   - eta: η, the learning rate.
    ///   - lambda: λ, the L2 regularisation parameter (0 = none).
    ///   - evaluationData: data for the evaluation monitors (the book passes validation or test data).
    ///   - monitor: which costs and accuracies to measure each epoch.
    ///   - rng: the seeded generator for shuffling (and dropout masks).
    ///   - observer: receives progress and end-of-epoch events, synchronously, on this thread.
    /// - Returns: the metrics of the epochs just trained (also appended to `history`).
    @discardableResult
    public mutating func sgd(trainingData: Dataset, epochs: Int, miniBatchSize: Int, eta: Double,
                             lambda: Double = 0, evaluationData: Dataset? = nil, monitor: Monitor = [],
                             rng: inout SeededGenerator,
                             observer: ((TrainingEvent) -> Void)? = nil) throws(TrainerError) -> [EpochMetrics] {
        guard epochs >= 0 else { throw TrainerError(.invalidArgument, "epochs must not be negative, got \(epochs)") }
        guard trainingData.count > 0 else { throw TrainerError(.invalidArgument, "training data '\(trainingData.name)' is empty") }
        let parameters = SGDParameters(eta: eta, lambda: lambda, miniBatchSize: miniBatchSize,
                                       trainingExamples: trainingData.count)
        try parameters.validate()
        try check(trainingData)
        if let evaluationData { try check(evaluationData) }
        if evaluationData == nil && (monitor.contains(.evaluationCost) || monitor.contains(.evaluationAccuracy)) {
            throw TrainerError(.invalidArgument, "evaluation monitoring needs evaluation data")
        }

        var order = Array(0..<trainingData.count)
        var state = OptimizerState()
        var trained: [EpochMetrics] = []
        for _ in 0..<epochs {
            let epoch = history.count + 1
            let seconds = try trainEpoch(trainingData, order: &order, parameters: parameters, state: &state, rng: &rng,
                                         progress: observer.map { observer in
                                             { done, total in
                                                 observer(.progress(TrainingProgress(epoch: epoch, miniBatchesDone: done,
                                                                                     miniBatchesTotal: total)))
                                             }
                                         })
            var metrics = EpochMetrics(epoch: epoch, seconds: seconds)
            if monitor.contains(.trainingCost) || monitor.contains(.trainingAccuracy) {
                metrics.training = try splitMetrics(trainingData, lambda: lambda,
                                                    cost: monitor.contains(.trainingCost),
                                                    accuracy: monitor.contains(.trainingAccuracy))
            }
            if let evaluationData, monitor.contains(.evaluationCost) || monitor.contains(.evaluationAccuracy) {
                metrics.evaluation = try splitMetrics(evaluationData, lambda: lambda,
                                                      cost: monitor.contains(.evaluationCost),
                                                      accuracy: monitor.contains(.evaluationAccuracy))
            }
            history.append(metrics)
            trained.append(metrics)
            observer?(.epochEnded(metrics))
        }
        return trained
    }

    /// One epoch of SGD: Fisher–Yates-shuffles `order` with `rng` (as network2 shuffles
    /// training_data), then runs a gradient step on each mini-batch of `order` (the last one may
    /// be smaller); dropout masks also come from `rng`, drawn per mini-batch after the shuffle.
    /// `progress(done, total)` is called about 100 times per epoch (and after the last
    /// mini-batch). Appends nothing to `history` (the caller does).
    ///
    /// The step for weights w and biases b, with ∇ the gradient summed over the m examples:
    /// - L2, no momentum: w → (1 − ηλ/n) w − (η/m) ∇w (network2.py);
    /// - L1, no momentum: w → w − (ηλ/n) sgn(w) − (η/m) ∇w, sgn(0) = 0;
    /// - momentum μ > 0: v → μv − η(∇w/m + R'(w)), w → w + v, where R'(w) is (λ/n) w (L2) or
    ///   (λ/n) sgn(w) (L1); biases v → μv − η∇b/m, b → b + v;
    /// - biases without momentum: b → b − (η/m) ∇b.
    ///
    /// Without momentum and with L2 (or no) regularisation, dense layers take that step fused
    /// with their weight gradient, in one pass over their weights (`Kernels.active.denseUpdate`);
    /// the result differs from the step on a separately summed ∇w only by float rounding.
    ///
    /// - Parameters:
    ///   - data: the training examples.
    ///   - order: the indices of `data` to train on, reshuffled in place (start with 0..<count and
    ///     pass the same array to every epoch).
    ///   - parameters: η, λ, the regularisation, μ, m and n.
    ///   - state: the momentum velocities; created (as zeros) when momentum > 0 and empty.
    ///   - rng: the seeded generator for the shuffle and the dropout masks.
    ///   - progress: called with (mini-batches done, mini-batches in the epoch).
    /// - Returns: the wall time of the epoch's SGD in seconds.
    /// - Throws: `TrainerError.invalidArgument` for bad parameters, an empty `order`, an index out
    ///   of range, data that does not fit the network, or a velocity of the wrong size.
    @discardableResult
    public mutating func trainEpoch(_ data: Dataset, order: inout [Int], parameters sgd: SGDParameters,
                                    state: inout OptimizerState, rng: inout SeededGenerator,
                                    progress: ((Int, Int) -> Void)?) throws(TrainerError) -> Double {
        try trainEpochSteps(data, order: &order, resumingAt: nil, parameters: sgd, state: &state, rng: &rng,
                            progress: progress, pause: { _ in false }).seconds
    }

    /// The mini-batches of one epoch, as `trainEpoch` runs them, from a given point and with a
    /// way to pause at a mini-batch boundary (for checkpoints within an epoch).
    ///
    /// - Parameters:
    ///   - resumingAt: nil to start the epoch (shuffle `order` with `rng`, then train from its
    ///     first example); else the number of examples of the already shuffled `order` that are
    ///     done (a multiple of the mini-batch size below `order.count`), to continue the epoch
    ///     exactly where a pause left it, with `rng` and `state` as the pause left them.
    ///   - pause: called after every mini-batch but the epoch's last with the number of
    ///     mini-batches done in the epoch; returning true stops there.
    /// - Returns: the examples of `order` done (`order.count` once the epoch is complete) and
    ///   the wall time of this call's SGD in seconds.
    ///   - fuseDenseSteps: false takes every layer through the gradient buffer and `applyStep`,
    ///     even where the fused dense-layer step applies (for tests comparing the two).
    mutating func trainEpochSteps(_ data: Dataset, order: inout [Int], resumingAt start: Int?,
                                  parameters sgd: SGDParameters, state: inout OptimizerState,
                                  rng: inout SeededGenerator, progress: ((Int, Int) -> Void)?,
                                  pause: (Int) -> Bool,
                                  fuseDenseSteps: Bool = true) throws(TrainerError) -> (examplesDone: Int, seconds: Double) {
        try sgd.validate()
        try check(data)
        guard !order.isEmpty else { throw TrainerError(.invalidArgument, "the training order is empty") }
        if let bad = order.first(where: { $0 < 0 || $0 >= data.count }) {
            throw TrainerError(.invalidArgument, "training order index \(bad) is out of range for dataset '\(data.name)' of \(data.count)")
        }
        let n = order.count
        if let start, start < 0 || start >= n || start % sgd.miniBatchSize != 0 {
            throw TrainerError(.invalidArgument,
                               "cannot continue an epoch of \(n) examples in mini-batches of \(sgd.miniBatchSize) after \(start) examples")
        }
        let useMomentum = sgd.momentum > 0
        // Plain SGD with L2 (or no) regularisation updates each dense layer in one pass over its
        // weights, fused with its weight gradient (`BatchParts.applyFusedDenseStep`); momentum and
        // L1 take every layer through `nabla` and `applyStep`, as convolutions always do.
        let fuseDense = fuseDenseSteps && !useMomentum && (sgd.regularization == .l2 || sgd.lambda == 0)
        if useMomentum {
            if state.velocity.isEmpty { state.velocity = [Float](repeating: 0, count: parameters.count) }
            guard state.velocity.count == parameters.count else {
                throw TrainerError(.invalidArgument, "momentum velocity has \(state.velocity.count) values, the network has \(parameters.count) parameters")
            }
        }
        let topology = self.topology
        let parts = try BatchParts(topology: topology, inputCount: inputSize, batchCapacity: min(sgd.miniBatchSize, n),
                                   parameterCount: parameters.count)
        let batches = (n + sgd.miniBatchSize - 1) / sgd.miniBatchSize
        let progressEvery = max(1, batches / 100)
        let hasDropout = stages.contains { $0.dropout > 0 }
        let threads = self.threads
        var none: [Float] = []

        let clock = ContinuousClock()
        let begin = clock.now
        if start == nil { rng.shuffle(&order) }
        var k = start ?? 0
        var done = k / sgd.miniBatchSize
        while k < n {
            let m = min(sgd.miniBatchSize, n - k)
            parts.load(data, order[k ..< k + m])
            if hasDropout { parts.drawDropoutMasks(rng: &rng) }
            parameters.withUnsafeBufferPointer { p in
                guard let base = p.baseAddress else { return }
                parts.backprop(base, training: true, threads: threads, skipDenseGradients: fuseDense)
            }
            if fuseDense {
                let step = Float(sgd.eta / Double(m))                                                 // η/m
                let decay = Float(1 - sgd.eta * sgd.lambda / Double(sgd.trainingExamples))            // 1 − ηλ/n
                parameters.withUnsafeMutableBufferPointer { p in
                    guard let base = p.baseAddress else { return }
                    parts.applyFusedDenseStep(base, decay: decay, step: step, threads: threads)
                }
                applyStep(topology, nabla: parts.nabla[0], rows: m, velocity: &none, sgd, skippingDense: true)
            } else if useMomentum {
                applyStep(topology, nabla: parts.nabla[0], rows: m, velocity: &state.velocity, sgd)
            } else {
                applyStep(topology, nabla: parts.nabla[0], rows: m, velocity: &none, sgd)
            }
            k += m
            done += 1
            if let progress, done % progressEvery == 0 || done == batches {
                progress(done, batches)
            }
            if k < n && pause(done) { break }
        }
        let elapsed = clock.now - begin
        return (k, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
    }

    /// One gradient step on the examples at `indices` of `data` (network2.py's
    /// `update_mini_batch`): w → (1 − ηλ/n) w − (η/m) Σ nablaW, b → b − (η/m) Σ nablaB, with
    /// m = indices.count and n the size of the whole training set. Dropout layers are taken at
    /// inference (no masks).
    public mutating func updateMiniBatch(_ data: Dataset, indices: [Int], eta: Double, lambda: Double = 0,
                                         n: Int) throws(TrainerError) {
        guard !indices.isEmpty else { return }
        let sgd = SGDParameters(eta: eta, lambda: lambda, miniBatchSize: indices.count, trainingExamples: n)
        try sgd.validate()
        try check(data)
        let ws = try Workspace(stages: stages, inputCount: inputSize, batchCapacity: indices.count)
        try ws.gather(data, indices[...])
        var nabla = [Float](repeating: 0, count: parameters.count)
        let topology = self.topology
        parameters.withUnsafeBufferPointer { p in
            nabla.withUnsafeMutableBufferPointer { n in
                guard let pb = p.baseAddress, let nb = n.baseAddress else { return }
                topology.backprop(pb, ws, rows: indices.count, training: false, nabla: nb)
            }
        }
        var none: [Float] = []
        nabla.withUnsafeMutableBufferPointer { n in
            guard let nb = n.baseAddress else { return }
            applyStep(topology, nabla: nb, rows: indices.count, velocity: &none, sgd)
        }
    }

    /// The regularised (momentum) step described at `trainEpoch`, from the gradient `nabla`
    /// (in the layout of `parameters`) summed over m examples; leaves `nabla` all zeros.
    /// `velocity` is empty for plain SGD, else holds one value per parameter. With
    /// `skippingDense`, dense layers are left alone (updated by `BatchParts.applyFusedDenseStep`).
    mutating func applyStep(_ topology: Topology, nabla nb: UnsafeMutablePointer<Float>, rows m: Int,
                            velocity: inout [Float], _ sgd: SGDParameters, skippingDense: Bool = false) {
        let eta = sgd.eta, lambda = sgd.lambda, n = Double(sgd.trainingExamples)
        let l1 = sgd.regularization == .l1
        let layout = topology.layout
        parameters.withUnsafeMutableBufferPointer { pBuf in
            velocity.withUnsafeMutableBufferPointer { vBuf in
                guard let p = pBuf.baseAddress else { return }
                if let v = vBuf.baseAddress, vBuf.count == pBuf.count {
                    // Momentum: v → μv − η(∇/m + R'(w)), w → w + v.
                    let mu = Float(sgd.momentum), etaF = Float(eta)
                    let inv = Float(1 / Double(m)), reg = Float(lambda / n)
                    for (index, lay) in layout.enumerated() where !(skippingDense && topology.layoutIsDense[index]) {
                        let w = p + lay.weightOffset, nw = nb + lay.weightOffset, vw = v + lay.weightOffset
                        for i in 0..<lay.weightCount {
                            let r = l1 ? reg * signum(w[i]) : reg * w[i]
                            vw[i] = mu * vw[i] - etaF * (nw[i] * inv + r)
                            w[i] += vw[i]
                            nw[i] = 0
                        }
                        let b = p + lay.biasOffset, nbias = nb + lay.biasOffset, vb = v + lay.biasOffset
                        for j in 0..<lay.outFeatures {
                            vb[j] = mu * vb[j] - etaF * (nbias[j] * inv)
                            b[j] += vb[j]
                            nbias[j] = 0
                        }
                    }
                } else {
                    let step = Float(eta / Double(m))                  // η/m
                    let decay = Float(1 - eta * lambda / n)            // L2 weight decay 1 − ηλ/n
                    let shrink = Float(eta * lambda / n)               // L1 shrink ηλ/n
                    for (index, lay) in layout.enumerated() where !(skippingDense && topology.layoutIsDense[index]) {
                        let w = p + lay.weightOffset, nw = nb + lay.weightOffset
                        if l1 {
                            for i in 0..<lay.weightCount {
                                w[i] = w[i] - shrink * signum(w[i]) - step * nw[i]
                                nw[i] = 0
                            }
                        } else {
                            for i in 0..<lay.weightCount {
                                w[i] = decay * w[i] - step * nw[i]
                                nw[i] = 0
                            }
                        }
                        let b = p + lay.biasOffset, nbias = nb + lay.biasOffset
                        for j in 0..<lay.outFeatures {
                            b[j] = b[j] - step * nbias[j]
                            nbias[j] = 0
                        }
                    }
                }
            }
        }
    }

    private func splitMetrics(_ data: Dataset, lambda: Double, cost: Bool, accuracy: Bool) throws(TrainerError) -> SplitMetrics {
        let r = try evaluate(data, lambda: lambda, includeCost: cost)
        return SplitMetrics(total: data.count, cost: cost ? r.cost : nil, correct: accuracy ? r.correct : nil)
    }
}

/// sgn(x) with sgn(0) = 0 (and sgn(NaN) = 0).
@inline(__always)
func signum(_ x: Float) -> Float {
    x > 0 ? 1 : (x < 0 ? -1 : 0)
}
