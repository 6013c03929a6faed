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

/// The straightforward forward pass in double precision, layer by layer, straight from the
/// definitions in nnrt.proto:
/// - dense: a = f((1 - p) W x + b) over the flattened input;
/// - conv2d: a[m][y][x] = f(b[m] + sum_{c,i,j} W[m][c][i][j] * in[c][y+i][x+j]);
/// - max_pool2d: a[c][y][x] = f(max over in[c][y*PH+i][x*PW+j]).
func referenceForward(_ n: NetworkModel, _ x: [Float]) -> [Double] {
    var a = x.map(Double.init)
    for layer in n.layers {
        var z: [Double]
        switch layer.kind {
        case .dense:
            let inF = layer.inputShape.reduce(1, *), outF = layer.outputShape[0]
            let keep = 1 - Double(layer.dropout)
            z = [Double](repeating: 0, count: outF)
            for j in 0..<outF {
                var s = 0.0
                for k in 0..<inF { s += Double(layer.weights.data[j * inF + k]) * a[k] }
                z[j] = keep * s + Double(layer.bias.data[j])
            }
        case .conv2d:
            let (c, h, w) = (layer.inputShape[0], layer.inputShape[1], layer.inputShape[2])
            let (maps, kh, kw) = (layer.weights.shape[0], layer.weights.shape[2], layer.weights.shape[3])
            let (oh, ow) = (h - kh + 1, w - kw + 1)
            z = [Double](repeating: 0, count: maps * oh * ow)
            for m in 0..<maps {
                for y in 0..<oh {
                    for xx in 0..<ow {
                        var s = Double(layer.bias.data[m])
                        for ch in 0..<c {
                            for i in 0..<kh {
                                for j in 0..<kw {
                                    s += Double(layer.weights.data[((m * c + ch) * kh + i) * kw + j])
                                        * a[(ch * h + y + i) * w + xx + j]
                                }
                            }
                        }
                        z[(m * oh + y) * ow + xx] = s
                    }
                }
            }
        case .maxPool2d:
            let (c, h, w) = (layer.inputShape[0], layer.inputShape[1], layer.inputShape[2])
            let (ph, pw) = (layer.poolShape[0], layer.poolShape[1])
            let (oh, ow) = (h / ph, w / pw)
            z = [Double](repeating: 0, count: c * oh * ow)
            for ch in 0..<c {
                for y in 0..<oh {
                    for xx in 0..<ow {
                        var best = -Double.infinity
                        for i in 0..<ph {
                            for j in 0..<pw { best = max(best, a[(ch * h + y * ph + i) * w + xx * pw + j]) }
                        }
                        z[(ch * oh + y) * ow + xx] = best
                    }
                }
            }
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

/// A random network conv2d -> max_pool2d -> dense (with dropout) -> dense, with `channels` input
/// channels of height x width, `maps` kernels of kh x kw, a ph x pw pool, and the given
/// activations (conv, pool, hidden dense, output dense).
func makeConvNetwork(channels: Int = 2, height: Int = 9, width: Int = 8, maps: Int = 3, kernel: (Int, Int) = (3, 2),
                     pool: (Int, Int) = (2, 2), hidden: Int = 7, classes: Int = 4, dropout: Float = 0.5,
                     activations: [Activation] = [.linear, .relu, .tanh, .softmax], seed: UInt64 = 1,
                     name: String = "conv") -> NetworkModel {
    var rng = TestRNG(seed: seed)
    func floats(_ n: Int) -> [Float] { (0..<n).map { _ in rng.float() } }
    let (oh, ow) = (height - kernel.0 + 1, width - kernel.1 + 1)
    let pooled = [maps, oh / pool.0, ow / pool.1]
    let flat = pooled.reduce(1, *)
    let layers: [Layer] = [
        .conv2d(name: "conv1", input: [channels, height, width], maps: maps, kernel: [kernel.0, kernel.1],
                activation: activations[0], weights: floats(maps * channels * kernel.0 * kernel.1), bias: floats(maps)),
        .maxPool2d(name: "pool1", input: [maps, oh, ow], pool: [pool.0, pool.1], activation: activations[1]),
        Layer(name: "fc1", inputShape: pooled, outputShape: [hidden], activation: activations[2],
              weights: Tensor(shape: [hidden, flat], data: floats(hidden * flat)), bias: Tensor(shape: [hidden], data: floats(hidden)),
              dropout: dropout),
        .dense(name: "out", inputs: hidden, outputs: classes, activation: activations[3],
               weights: floats(classes * hidden), bias: floats(classes), dropout: dropout / 2),
    ]
    return NetworkModel(name: name, layers: layers, classLabels: (0..<classes).map(String.init),
                        input: InputContract(shape: [channels, height, width], scale: 1.0 / 255.0, offset: 0,
                                             polarity: .lightOnDark),
                        cost: .logLikelihood)
}

func referenceArgmax(_ v: [Double]) -> Int {
    var best = 0
    for i in v.indices where v[i] > v[best] { best = i }
    return best
}
