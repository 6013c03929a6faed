// Accuracy, total cost and confusion matrix of a network over a dataset, computed in batches.

import NNKernels
import NNModel

/// The result of running a network over a labelled dataset.
public struct EvaluationResult: Sendable, Equatable {
    /// Number of examples.
    public var total: Int
    /// Examples whose largest output is their label (network2.py's `accuracy`).
    public var correct: Int
    /// network2.py's `total_cost`: mean cost per example plus ½(λ/n)Σw², where n is the size of
    /// the evaluated data (as network2.py does). nil when not computed.
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
    /// matrix and, if `includeCost`, the total cost with L2 term for `lambda`.
    ///
    /// The per-example cost is computed in Double from the output layer's z (see
    /// `CostKind.neuronCost`), so it is finite even where σ(z) rounds to 0 or 1 in Float.
    public func evaluate(_ data: Dataset, lambda: Double = 0, includeCost: Bool = true,
                         batchSize: Int = 250) throws(TrainerError) -> EvaluationResult {
        try check(data)
        let outputs = outputSize
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: outputs), count: outputs)
        var correct = 0
        var costSum = 0.0
        let batch = max(1, min(batchSize, data.count))
        let ws = Workspace(sizes: sizes, batchCapacity: batch)
        let last = layerCount
        var start = 0
        let topology = self.topology
        parameters.withUnsafeBufferPointer { pBuf in
            guard let p = pBuf.baseAddress else { return }
            while start < data.count {
                let rows = min(batch, data.count - start)
                ws.gatherContiguous(data, start: start, rows: rows)
                topology.forward(p, ws, rows: rows, keepOutputZ: includeCost)
                let a = ws.activation(last)
                for r in 0..<rows {
                    let label = Int(ws.labels[r])
                    let predicted = argmax(a + r &* outputs, outputs)
                    confusion[label][predicted] += 1
                    if predicted == label { correct += 1 }
                    if includeCost {
                        let z = ws.outputZ + r &* outputs
                        var c = 0.0
                        for j in 0..<outputs { c += cost.neuronCost(z: z[j], y: j == label ? 1 : 0) }
                        costSum += c
                    }
                }
                start += rows
            }
        }
        var total: Double? = nil
        if includeCost {
            let n = Double(max(data.count, 1))
            total = costSum / n + 0.5 * (lambda / n) * sumOfSquaredWeights
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
        return out.withUnsafeBufferPointer { argmax($0.baseAddress!, $0.count) }
    }
}
