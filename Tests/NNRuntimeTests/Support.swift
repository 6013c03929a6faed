import NNModel
@testable import NNRuntime
#if canImport(Glibc)
import Glibc
#endif

/// xorshift64* generator for test data.
struct TestRNG {
    var state: UInt64
    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }
    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(next() >> 40) / Float(1 << 23) - 1 }
}

func makeNetwork(_ sizes: [Int], name: String = "net", seed: UInt64 = 1,
                 activations: [Activation]? = nil, labels: [String]? = nil,
                 scale: Float = 1.0 / 255.0, offset: Float = 0) -> NetworkModel {
    var rng = TestRNG(seed: seed)
    var layers: [Layer] = []
    for i in 1..<sizes.count {
        layers.append(.dense(name: "fc\(i)", inputs: sizes[i - 1], outputs: sizes[i],
                             activation: activations?[i - 1] ?? .sigmoid,
                             weights: (0..<(sizes[i] * sizes[i - 1])).map { _ in rng.float() },
                             bias: (0..<sizes[i]).map { _ in rng.float() }))
    }
    return NetworkModel(name: name, layers: layers, classLabels: labels ?? (0..<sizes.last!).map(String.init),
                        input: InputContract(shape: [sizes[0]], scale: scale, offset: offset, polarity: .lightOnDark),
                        cost: .crossEntropy)
}

/// A one-layer linear network whose output is `outputs` whatever the input (zero weights).
func constantNetwork(_ outputs: [Float], inputs: Int = 2, name: String = "const") -> NetworkModel {
    NetworkModel(name: name,
                 layers: [.dense(name: "fc1", inputs: inputs, outputs: outputs.count, activation: .linear,
                                 weights: [Float](repeating: 0, count: inputs * outputs.count), bias: outputs)],
                 classLabels: (0..<outputs.count).map(String.init),
                 input: InputContract(shape: [inputs], scale: 1, offset: 0, polarity: .lightOnDark), cost: .quadratic)
}

func model(_ n: NetworkModel) throws -> Model { try Model(file: ModelFile(body: .network(n))) }

func ensemble(_ members: [NetworkModel], _ rule: VotingRule) throws -> Model {
    try Model(file: ModelFile(body: .ensemble(EnsembleModel(name: "ens", members: members, voting: rule))))
}

/// The straightforward forward pass in double precision: a = f(W a + b), layer by layer.
func referenceForward(_ n: NetworkModel, _ x: [Float]) -> [Double] {
    var a = x.map(Double.init)
    for layer in n.layers {
        let inF = layer.inputShape[0], outF = layer.outputShape[0]
        var z = [Double](repeating: 0, count: outF)
        for j in 0..<outF {
            var s = Double(layer.bias.data[j])
            for k in 0..<inF { s += Double(layer.weights.data[j * inF + k]) * a[k] }
            z[j] = s
        }
        switch layer.activation {
        case .sigmoid: a = z.map { 1 / (1 + exp(-$0)) }
        case .tanh: a = z.map { tanh($0) }
        case .relu: a = z.map { max(0, $0) }
        case .linear: a = z
        case .softmax:
            let m = z.max()!
            let e = z.map { exp($0 - m) }
            let s = e.reduce(0, +)
            a = e.map { $0 / s }
        }
    }
    return a
}

func referenceArgmax(_ v: [Double]) -> Int {
    var best = 0
    for i in v.indices where v[i] > v[best] { best = i }
    return best
}
