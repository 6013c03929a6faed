import Foundation
@testable import NNTrainer
import NNModel

// An independent Double-precision reference for every layer kind, written straight from
// network3.py's definitions (no stages, no kernels): the tests compare the trainer's Float
// backpropagation with central differences of this.

func activateD(_ f: Activation, _ z: [Double]) -> [Double] {
    switch f {
    case .sigmoid: return z.map { 1 / (1 + exp(-$0)) }
    case .tanh: return z.map { tanh($0) }
    case .relu: return z.map { max(0, $0) }
    case .linear: return z
    case .softmax:
        let m = z.max() ?? 0
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}

/// The output activations of `architecture` for one input, with parameters `p` in the arena
/// layout (per layer with parameters: weights, then biases). `masks[i]`, if given, is the dropout
/// mask of spec layer i's inputs; dense layers without a mask scale their input by 1 - p.
func referenceForward(_ architecture: Architecture, p: [Double], input: [Double], masks: [Int: [Double]] = [:]) -> [Double] {
    var a = input
    var shape = architecture.inputShape
    var offset = 0
    for (i, layer) in architecture.layers.enumerated() {
        switch layer {
        case .dense(let units, _, let dropout), .softmax(let units, let dropout):
            let act: Activation
            if case .dense(_, let f, _) = layer { act = f } else { act = .softmax }
            let n = a.count
            let x = masks[i].map { m in zip(a, m).map { $0 * $1 } } ?? a.map { $0 * (1 - dropout) }
            var z = [Double](repeating: 0, count: units)
            for j in 0..<units {
                var s = p[offset + units * n + j]
                for k in 0..<n { s += p[offset + j * n + k] * x[k] }
                z[j] = s
            }
            offset += units * n + units
            a = activateD(act, z)
            shape = [units]
        case .conv(let maps, let kernel, let f), .convPool(let maps, let kernel, _, let f):
            let (c, h, w) = (shape[0], shape[1], shape[2])
            let oh = h - kernel + 1, ow = w - kernel + 1
            let bias = offset + maps * c * kernel * kernel
            // network3: conv without bias, then (pool), then + b, then the activation.
            var conv = [Double](repeating: 0, count: maps * oh * ow)
            for m in 0..<maps {
                for y in 0..<oh {
                    for x in 0..<ow {
                        var s = 0.0
                        for ch in 0..<c {
                            for u in 0..<kernel {
                                for v in 0..<kernel {
                                    s += p[offset + ((m * c + ch) * kernel + u) * kernel + v] * a[(ch * h + y + u) * w + x + v]
                                }
                            }
                        }
                        conv[(m * oh + y) * ow + x] = s
                    }
                }
            }
            var outShape = [maps, oh, ow]
            if case .convPool(_, _, let pool, _) = layer {
                conv = maxPoolD(conv, [maps, oh, ow], pool)
                outShape = [maps, oh / pool, ow / pool]
            }
            let plane = outShape[1] * outShape[2]
            let z = conv.enumerated().map { $0.element + p[bias + $0.offset / plane] }
            offset = bias + maps
            a = activateD(f, z)
            shape = outShape
        case .pool(let size, let f):
            a = activateD(f, maxPoolD(a, shape, size))
            shape = [shape[0], shape[1] / size, shape[2] / size]
        }
    }
    return a
}

/// Max over non-overlapping size x size windows of x (C, H, W), remainder ignored.
func maxPoolD(_ x: [Double], _ shape: [Int], _ size: Int) -> [Double] {
    let (c, h, w) = (shape[0], shape[1], shape[2])
    let oh = h / size, ow = w / size
    var out = [Double](repeating: -.infinity, count: c * oh * ow)
    for ch in 0..<c {
        for y in 0..<oh {
            for xx in 0..<ow {
                for u in 0..<size {
                    for v in 0..<size {
                        out[(ch * oh + y) * ow + xx] = max(out[(ch * oh + y) * ow + xx], x[(ch * h + y * size + u) * w + xx * size + v])
                    }
                }
            }
        }
    }
    return out
}

/// The cost of one example from its output activations.
func referenceExampleCost(_ cost: CostKind, _ a: [Double], label: Int) -> Double {
    switch cost {
    case .quadratic:
        return a.enumerated().reduce(0) { $0 + 0.5 * pow($1.element - ($1.offset == label ? 1 : 0), 2) }
    case .crossEntropy:
        return a.enumerated().reduce(0) { s, e in
            s - (e.offset == label ? log(e.element) : log(1 - e.element))
        }
    case .logLikelihood:
        return -log(a[label])
    }
}

/// The cost summed over `indices`, with per-example masks (`masks[example][specLayer]`).
func referenceSummedCost(_ architecture: Architecture, _ cost: CostKind, p: [Double], data: Dataset, indices: [Int],
                         masks: [[Int: [Double]]]? = nil) -> Double {
    var total = 0.0
    for (r, i) in indices.enumerated() {
        let a = referenceForward(architecture, p: p, input: data.input(i).map(Double.init), masks: masks?[r] ?? [:])
        total += referenceExampleCost(cost, a, label: Int(data.labels[i]))
    }
    return total
}

/// The largest relative error between `gradient` and central differences of `f` at `p`
/// (relative to max(1e-3, |numeric| + |analytic|), as the MLP check does).
func worstRelativeError(_ gradient: [Float], at p: [Double], h: Double = 1e-6, _ f: ([Double]) -> Double) -> Double {
    var worst = 0.0
    for i in 0..<p.count {
        var plus = p, minus = p
        plus[i] += h
        minus[i] -= h
        let numeric = (f(plus) - f(minus)) / (2 * h)
        let err = abs(numeric - Double(gradient[i])) / max(1e-3, abs(numeric) + abs(Double(gradient[i])))
        worst = max(worst, err)
    }
    return worst
}

/// 8x8 images, each one bar (a full row or column, at a random position away from the border,
/// with noise): label 0 for horizontal, 1 for vertical. No linear classifier separates them (each
/// image has the same total ink), so a network must find the edges.
func barsDataset(count: Int, seed: UInt64) throws -> Dataset {
    var rng = SeededGenerator(seed: seed)
    var images: [Float] = []
    var labels: [UInt8] = []
    for _ in 0..<count {
        let vertical = rng.nextInt(below: 2) == 1
        let at = 1 + rng.nextInt(below: 6)
        for y in 0..<8 {
            for x in 0..<8 {
                let on = vertical ? x == at : y == at
                images.append((on ? 0.8 : 0) + Float(rng.nextUniform()) * 0.2)
            }
        }
        labels.append(vertical ? 1 : 0)
    }
    return try Dataset(name: "bars", inputSize: 64, images: images, labels: labels)
}
