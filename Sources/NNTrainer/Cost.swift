// The three costs of the book: network2.py's quadratic and cross-entropy, and network3.py's
// log-likelihood for a softmax output layer. Each has
//   the cost of one example, and
//   the output error δ^L = ∂C/∂z^L of (BP1).
// With a one-hot y from the label:
//   quadratic:      C = ½‖a − y‖²,                                δ^L = (a − y) ⊙ f'(z^L)  (any elementwise f)
//   cross-entropy:  C = −Σ_j [y_j ln a_j + (1−y_j) ln(1−a_j)],    δ^L = a − y   (sigmoid output: σ' cancels, eq. 66)
//   log-likelihood: C = −ln a_y,                                   δ^L = a − y   (softmax output, eq. 81-84)

import NNKernels
import NNModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension CostKind {
    /// Whether the trainer can train a sigmoid MLP (`Network(sizes:...)`) with this cost; the
    /// log-likelihood cost needs a softmax output layer (see `check(outputActivation:)`).
    public var isTrainable: Bool { self == .quadratic || self == .crossEntropy }

    /// The class name network2.py writes into its JSON ("QuadraticCost", "CrossEntropyCost").
    public var network2ClassName: String? {
        switch self {
        case .quadratic: "QuadraticCost"
        case .crossEntropy: "CrossEntropyCost"
        case .logLikelihood: nil
        }
    }

    /// Checks that this cost goes with an output layer of `activation`: quadratic with any
    /// elementwise activation, cross-entropy with sigmoid, log-likelihood with softmax.
    /// - Throws: `TrainerError.unsupported` naming the pair and what would work.
    public func check(outputActivation activation: Activation) throws(TrainerError) {
        switch (self, activation) {
        case (.quadratic, .softmax):
            throw TrainerError(.unsupported, "the quadratic cost needs an elementwise output activation, not softmax; use the log-likelihood cost with a softmax output layer")
        case (.quadratic, _), (.crossEntropy, .sigmoid), (.logLikelihood, .softmax):
            return
        case (.crossEntropy, _):
            throw TrainerError(.unsupported, "the cross-entropy cost needs a sigmoid output layer, not \(activation.name); use the log-likelihood cost with softmax, or the quadratic cost")
        case (.logLikelihood, _):
            throw TrainerError(.unsupported, "the log-likelihood cost needs a softmax output layer (softmax<units>), not \(activation.name)")
        }
    }

    /// Writes the output error δ^L (BP1) for `rows` examples, given the output activations
    /// a = f(z) (rows, width) and each example's label (the target y is one-hot). The pair
    /// (cost, activation) must have passed `check(outputActivation:)`.
    func outputDelta(activations a: UnsafePointer<Float>, labels: UnsafePointer<UInt8>, rows: Int, width: Int,
                     activation: Activation, delta: UnsafeMutablePointer<Float>) {
        // a − y for every pair; the quadratic cost then multiplies by f'(z).
        for r in 0..<rows {
            let label = Int(labels[r])
            let base = r &* width
            for j in 0..<width {
                let aj = a[base &+ j]
                let y: Float = j == label ? 1 : 0
                if self == .quadratic && activation == .sigmoid {
                    delta[base &+ j] = (aj - y) * aj * (1 - aj)     // (a − y) σ'(z), σ'(z) = a(1 − a)
                } else {
                    delta[base &+ j] = aj - y
                }
            }
        }
        if self == .quadratic && activation != .sigmoid {
            Kernels.active.activationBackward(ActivationFunction(activation), activations: a, delta: delta, count: rows &* width)
        }
    }

    /// The cost of one example from the output layer's weighted inputs z (width values) and its
    /// label, in Double.
    ///
    /// Computed from z rather than from the Float32 activations, so the cross-entropy and
    /// log-likelihood stay finite where the activation rounds to 0 or 1 (network2.py guards the
    /// same case with `np.nan_to_num`): −ln σ(z) = softplus(−z), −ln(1 − σ(z)) = softplus(z), and
    /// −ln softmax(z)_y = logsumexp(z) − z_y.
    func exampleCost(z: UnsafePointer<Float>, width: Int, label: Int, activation: Activation) -> Double {
        switch self {
        case .crossEntropy:
            var c = 0.0
            for j in 0..<width {
                let zd = Double(z[j])
                c += j == label ? softplus(-zd) : softplus(zd)
            }
            return c
        case .logLikelihood:
            var m = -Double.infinity
            for j in 0..<width { m = max(m, Double(z[j])) }
            var sum = 0.0
            for j in 0..<width { sum += exp(Double(z[j]) - m) }
            return m + log(sum) - Double(z[label])
        case .quadratic:
            var c = 0.0
            for j in 0..<width {
                let d = activationD(activation, Double(z[j])) - (j == label ? 1 : 0)
                c += 0.5 * d * d
            }
            return c
        }
    }
}

/// An elementwise activation in Double (softmax is not elementwise: linear here).
func activationD(_ f: Activation, _ z: Double) -> Double {
    switch f {
    case .sigmoid: 1 / (1 + exp(-z))
    case .tanh: tanh(z)
    case .relu: max(0, z)
    case .linear, .softmax: z
    }
}

/// ln(1 + eˣ) without overflow.
func softplus(_ x: Double) -> Double {
    max(x, 0) + log1p(exp(-abs(x)))
}
