import Foundation
@testable import NNTrainer
import NNModel

/// A fresh temporary directory, removed by the caller with `removeTemp`.
func makeTempDir(_ tag: String = "nnrt-trainer-tests") -> String {
    let path = NSTemporaryDirectory() + "/\(tag)-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func removeTemp(_ path: String) { try? FileManager.default.removeItem(atPath: path) }

/// XOR as a 2-class problem: inputs (x1, x2), label x1 xor x2.
func xorDataset() throws -> Dataset {
    try Dataset(name: "xor", inputSize: 2, images: [0, 0, 0, 1, 1, 0, 1, 1], labels: [0, 1, 1, 0])
}

/// A small random dataset.
func randomDataset(count: Int, inputSize: Int, classes: Int, seed: UInt64) throws -> Dataset {
    var rng = SeededGenerator(seed: seed)
    let images = (0..<(count * inputSize)).map { _ in Float(rng.nextUniform()) }
    let labels = (0..<count).map { _ in UInt8(rng.nextInt(below: classes)) }
    return try Dataset(name: "random", inputSize: inputSize, images: images, labels: labels)
}

func sigmoidD(_ z: Double) -> Double { 1 / (1 + exp(-z)) }

/// An independent Double-precision reference: the summed cost of `indices` of `data` for the
/// parameters `p` (arena layout), following the book's formulas directly.
func referenceCost(sizes: [Int], cost: CostKind, p: [Double], data: Dataset, indices: [Int]) -> Double {
    var total = 0.0
    for i in indices {
        var a = data.input(i).map(Double.init)
        var offset = 0
        for l in 0..<(sizes.count - 1) {
            let nIn = sizes[l], nOut = sizes[l + 1]
            var next = [Double](repeating: 0, count: nOut)
            for j in 0..<nOut {
                var z = p[offset + nOut * nIn + j]
                for k in 0..<nIn { z += p[offset + j * nIn + k] * a[k] }
                next[j] = sigmoidD(z)
            }
            offset += nOut * nIn + nOut
            a = next
        }
        for j in 0..<a.count {
            let y: Double = j == Int(data.labels[i]) ? 1 : 0
            if cost == .quadratic {
                total += 0.5 * (a[j] - y) * (a[j] - y)
            } else {
                total += -y * log(a[j]) - (1 - y) * log(1 - a[j])
            }
        }
    }
    return total
}

/// A small run with everything that carries state between mini-batches and epochs: momentum,
/// dropout masks, per-epoch rotations, the learning-rate schedule, keep-best. 4 epochs; with 80
/// training examples in mini-batches of 10, 8 mini-batches an epoch.
func statefulCheckpointConfig() -> TrainingConfig {
    var c = TrainingConfig(sizes: [784, 10], cost: .logLikelihood, eta: 0.2, lambda: 0.5, miniBatchSize: 10,
                           epochs: 4, seed: 21, evaluationSet: .validation)
    c.architecture = "fc12:relu:drop0.5,softmax10"
    c.momentum = 0.6
    c.schedulePatience = 1
    c.keepBest = true
    c.expansion = "rotate:5"
    c.monitorTest = true
    return c
}
