// Mini-batch stochastic gradient descent with L2 regularisation, as network2.py's SGD and
// update_mini_batch, plus its four monitoring flags.

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

/// What `sgd` reports to its observer.
public enum TrainingEvent: Sendable, Equatable {
    /// Sent about 100 times per epoch (and always after the last mini-batch).
    case progress(TrainingProgress)
    /// Sent at the end of each epoch, after monitoring, with the epoch's figures. The CLI prints
    /// e.g. "Epoch 12: 9491 / 10000" from `metrics.evaluation`.
    case epochEnded(EpochMetrics)
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
    ///   - rng: the seeded generator for shuffling.
    ///   - observer: receives progress and end-of-epoch events, synchronously, on this thread.
    /// - Returns: the metrics of the epochs just trained (also appended to `history`).
    @discardableResult
    public mutating func sgd(trainingData: Dataset, epochs: Int, miniBatchSize: Int, eta: Double,
                             lambda: Double = 0, evaluationData: Dataset? = nil, monitor: Monitor = [],
                             rng: inout SeededGenerator,
                             observer: ((TrainingEvent) -> Void)? = nil) throws(TrainerError) -> [EpochMetrics] {
        guard epochs >= 0 else { throw TrainerError(.invalidArgument, "epochs must not be negative, got \(epochs)") }
        guard miniBatchSize > 0 else { throw TrainerError(.invalidArgument, "mini-batch size must be positive, got \(miniBatchSize)") }
        guard eta.isFinite, eta > 0 else { throw TrainerError(.invalidArgument, "eta must be a positive number, got \(eta)") }
        guard lambda.isFinite, lambda >= 0 else { throw TrainerError(.invalidArgument, "lambda must not be negative, got \(lambda)") }
        guard trainingData.count > 0 else { throw TrainerError(.invalidArgument, "training data '\(trainingData.name)' is empty") }
        try check(trainingData)
        if let evaluationData { try check(evaluationData) }
        if evaluationData == nil && (monitor.contains(.evaluationCost) || monitor.contains(.evaluationAccuracy)) {
            throw TrainerError(.invalidArgument, "evaluation monitoring needs evaluation data")
        }

        let n = trainingData.count
        let ws = Workspace(sizes: sizes, batchCapacity: min(miniBatchSize, n))
        var nabla = [Float](repeating: 0, count: parameters.count)
        var order = Array(0..<n)
        let batches = (n + miniBatchSize - 1) / miniBatchSize
        let progressEvery = max(1, batches / 100)
        var trained: [EpochMetrics] = []

        for _ in 0..<epochs {
            let epoch = history.count + 1
            let clock = ContinuousClock()
            let start = clock.now
            rng.shuffle(&order)
            var k = 0
            var done = 0
            while k < n {
                let m = min(miniBatchSize, n - k)
                try ws.gather(trainingData, order[k ..< k + m])
                applyMiniBatch(ws, rows: m, nabla: &nabla, eta: eta, lambda: lambda, n: n)
                k += m
                done += 1
                if let observer, done % progressEvery == 0 || done == batches {
                    observer(.progress(TrainingProgress(epoch: epoch, miniBatchesDone: done, miniBatchesTotal: batches)))
                }
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18

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

    /// One gradient step on the examples at `indices` of `data` (network2.py's
    /// `update_mini_batch`): w → (1 − ηλ/n) w − (η/m) Σ nablaW, b → b − (η/m) Σ nablaB, with
    /// m = indices.count and n the size of the whole training set.
    public mutating func updateMiniBatch(_ data: Dataset, indices: [Int], eta: Double, lambda: Double = 0,
                                         n: Int) throws(TrainerError) {
        guard !indices.isEmpty else { return }
        guard n > 0 else { throw TrainerError(.invalidArgument, "training set size n must be positive") }
        try check(data)
        let ws = Workspace(sizes: sizes, batchCapacity: indices.count)
        try ws.gather(data, indices[...])
        var nabla = [Float](repeating: 0, count: parameters.count)
        applyMiniBatch(ws, rows: indices.count, nabla: &nabla, eta: eta, lambda: lambda, n: n)
    }

    /// Backpropagation over the m rows in `ws`, then the L2-regularised step. `nabla` must be
    /// all zeros on entry and is left all zeros.
    private mutating func applyMiniBatch(_ ws: Workspace, rows m: Int, nabla: inout [Float],
                                         eta: Double, lambda: Double, n: Int) {
        let decay = Float(1 - eta * lambda / Double(n))   // weight decay 1 − ηλ/n
        let step = Float(eta / Double(m))                  // η/m
        let layout = self.layout
        let topology = self.topology
        parameters.withUnsafeMutableBufferPointer { pBuf in
            nabla.withUnsafeMutableBufferPointer { nBuf in
                ws.labels.withUnsafeBufferPointer { lab in
                    guard let p = pBuf.baseAddress, let nb = nBuf.baseAddress, let labels = lab.baseAddress else { return }
                    topology.backprop(UnsafePointer(p), ws, rows: m, labels: labels, nabla: nb)
                    for v in layout {
                        let w = p + v.weightOffset, nw = nb + v.weightOffset
                        for i in 0..<(v.outFeatures &* v.inFeatures) {
                            w[i] = decay * w[i] - step * nw[i]
                            nw[i] = 0
                        }
                        let b = p + v.biasOffset, nbias = nb + v.biasOffset
                        for j in 0..<v.outFeatures {
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
