// Accuracy, total cost and confusion matrix of a network over a dataset, computed in batches.

import NNKernels
import NNModel

/// The result of running a network over a labelled dataset.
public struct EvaluationResult: Sendable, Equatable {
    /// Number of examples.
    public var total: Int
    /// Examples whose largest output is their label (network2.py's `accuracy`).
    public var correct: Int
    /// network2.py's `total_cost`: mean cost per example plus the regularisation term, ½(λ/n)Σw²
    /// (L2) or (λ/n)Σ|w| (L1), where n is the size of the evaluated data (as network2.py does).
    /// nil when not computed.
    public var cost: Double?
    /// confusion[actual][predicted] counts, outputSize x outputSize.
    public var confusion: [[Int]]

    /// correct / total (0 for an empty dataset).
    public var accuracy: Double { total > 0 ? Double(correct) / Double(total) : 0 }

    /// As the model format's `SplitMetrics`.
    public var splitMetrics: SplitMetrics { SplitMetrics(total: total, cost: cost, correct: correct) }
}

extension Network {
    /// Runs the network over `data` in batches of `batchSize`, counting correct predictions
    /// (argmax of the output vs the label, smallest index on ties), filling the confusion
    /// matrix and, if `includeCost`, network2.py's `total_cost`: the mean cost per example plus
    /// the regularisation term for `lambda` with n = data.count, ½(λ/n)Σw² (L2) or (λ/n)Σ|w| (L1).
    /// Dropout layers scale their inputs by 1 - p (network3's inference).
    ///
    /// The per-example cost is computed in Double from the output layer's z (see
    /// `CostKind.exampleCost`), so it is finite even where the activation rounds to 0 or 1.
    public func evaluate(_ data: Dataset, lambda: Double = 0, regularization: Regularization = .l2,
                         includeCost: Bool = true, batchSize: Int = 250) throws(TrainerError) -> EvaluationResult {
        try check(data)
        let outputs = outputSize
        let topology = self.topology
        // Heavy networks split the data in two halves, one per thread (see `Topology.partCount`);
        // the halves' counts and cost sums are combined in order, whatever the thread count.
        let partCount = min(topology.partCount, max(1, data.count))
        let batch = max(1, min(batchSize, (data.count + partCount - 1) / partCount))
        var workspaces: [Workspace] = []
        for _ in 0..<partCount {
            workspaces.append(try Workspace(stages: stages, inputCount: inputSize, batchCapacity: batch))
        }
        let tallies = (0..<partCount).map { _ in EvaluationTally(classes: outputs) }
        let last = stages.count - 1
        let outputActivation = stages[last].activation
        let costKind = cost
        parameters.withUnsafeBufferPointer { pBuf in
            guard let p = pBuf.baseAddress else { return }
            let shared = UncheckedSendable(value: (p, workspaces, tallies, data))
            runParts(partCount, threads: threads) { k in
                let (p, workspaces, tallies, data) = shared.value
                let ws = workspaces[k], tally = tallies[k]
                var start = k * data.count / partCount
                let end = (k + 1) * data.count / partCount
                while start < end {
                    let rows = min(batch, end - start)
                    ws.gatherContiguous(data, start: start, rows: rows)
                    topology.forward(p, ws, rows: rows, training: false, keepOutputZ: includeCost)
                    let a = ws.output(last)                 // (rows, outputs)
                    for r in 0..<rows {
                        let label = Int(ws.labels[r])
                        let predicted = argmax(a + r &* outputs, outputs)
                        tally.confusion[label][predicted] += 1
                        if predicted == label { tally.correct += 1 }
                        if includeCost {
                            tally.costSum += costKind.exampleCost(z: ws.outputZ + r &* outputs, width: outputs, label: label,
                                                                  activation: outputActivation)
                        }
                    }
                    start += rows
                }
            }
        }
        var confusion = tallies[0].confusion
        var correct = tallies[0].correct
        var costSum = tallies[0].costSum
        for t in tallies.dropFirst() {
            for i in 0..<outputs {
                for j in 0..<outputs { confusion[i][j] += t.confusion[i][j] }
            }
            correct += t.correct
            costSum += t.costSum
        }
        var total: Double? = nil
        if includeCost {
            let n = Double(max(data.count, 1))
            let penalty = regularization == .l1 ? (lambda / n) * sumOfAbsoluteWeights
                                                : 0.5 * (lambda / n) * sumOfSquaredWeights
            total = costSum / n + penalty
        }
        return EvaluationResult(total: data.count, correct: correct, cost: total, confusion: confusion)
    }

    /// Number of examples of `data` classified correctly (network2.py's `accuracy`).
    public func accuracy(_ data: Dataset) throws(TrainerError) -> Int {
        try evaluate(data, includeCost: false).correct
    }

    /// network2.py's `total_cost(data, lmbda)`.
    public func totalCost(_ data: Dataset, lambda: Double = 0) throws(TrainerError) -> Double {
        try evaluate(data, lambda: lambda, includeCost: true).cost ?? 0
    }

    /// The predicted class (argmax of the output) of one input vector.
    public func predict(_ input: [Float]) throws(TrainerError) -> Int {
        let out = try feedforward(input)
        return out.withUnsafeBufferPointer { o in o.baseAddress.map { argmax($0, o.count) } ?? 0 }
    }

    /// Chapter 5: ‖∂C/∂b^l‖ for each layer with parameters (input side first), the bias gradient
    /// of the mean cost over the first `count` examples of `data` (the book uses 1,000), dropout
    /// off (inputs scaled by 1 - p as at inference). The book calls these the speeds at which the
    /// layers learn.
    /// - Throws: `TrainerError.invalidArgument` if `count` is not positive or `data` is empty or
    ///   does not fit the network.
    public func gradientNorms(on data: Dataset, count: Int = 1000) throws(TrainerError) -> [Double] {
        guard count > 0 else { throw TrainerError(.invalidArgument, "gradient norms need a positive example count, got \(count)") }
        guard data.count > 0 else { throw TrainerError(.invalidArgument, "dataset '\(data.name)' is empty") }
        try check(data)
        let total = min(count, data.count)
        let batch = min(total, 100)
        let ws = try Workspace(stages: stages, inputCount: inputSize, batchCapacity: batch)
        var nabla = [Float](repeating: 0, count: parameters.count)
        let topology = self.topology
        parameters.withUnsafeBufferPointer { pBuf in
            nabla.withUnsafeMutableBufferPointer { nBuf in
                guard let p = pBuf.baseAddress, let nb = nBuf.baseAddress else { return }
                var start = 0
                while start < total {
                    let rows = min(batch, total - start)
                    ws.gatherContiguous(data, start: start, rows: rows)
                    topology.backprop(p, ws, rows: rows, training: false, nabla: nb)
                    start += rows
                }
            }
        }
        return layout.map { v in
            var s = 0.0
            for j in 0..<v.outFeatures {
                let g = Double(nabla[v.biasOffset + j]) / Double(total)
                s += g * g
            }
            return s.squareRoot()
        }
    }
}

/// One part's counts during `evaluate`.
private final class EvaluationTally {
    var confusion: [[Int]]
    var correct = 0
    var costSum = 0.0

    init(classes: Int) {
        confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    }
}
