// The two costs of network2.py, for sigmoid output neurons. Each has
//   fn(a, y)       the cost of one example, and
//   delta(z, a, y) the output error δ^L = ∂C/∂z^L of (BP1).
// With a one-hot y from the label:
//   quadratic:      C = ½‖a − y‖²,                       δ^L = (a − y) ⊙ σ'(z^L)     (BP1)
//   cross-entropy:  C = −Σ_j [y_j ln a_j + (1−y_j) ln(1−a_j)],  δ^L = a − y   (eq. 66: σ' cancels)

import NNModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension CostKind {
    /// Whether the trainer can train a sigmoid network with this cost (the log-likelihood cost
    /// belongs with a softmax output layer, which this trainer does not build).
    public var isTrainable: Bool { self == .quadratic || self == .crossEntropy }

    /// The class name network2.py writes into its JSON ("QuadraticCost", "CrossEntropyCost").
    public var network2ClassName: String? {
        switch self {
        case .quadratic: "QuadraticCost"
        case .crossEntropy: "CrossEntropyCost"
        case .logLikelihood: nil
        }
    }

    /// Writes the output error δ^L (BP1) for `rows` examples, given the output activations
    /// a = σ(z) (rows, width) and each example's label (the target y is one-hot).
    @inlinable
    func outputDelta(activations a: UnsafePointer<Float>, labels: UnsafePointer<UInt8>, rows: Int, width: Int,
                     delta: UnsafeMutablePointer<Float>) {
        let quadratic = self == .quadratic
        for r in 0..<rows {
            let label = Int(labels[r])
            let base = r &* width
            for j in 0..<width {
                let aj = a[base &+ j]
                let y: Float = j == label ? 1 : 0
                // quadratic: (a − y) σ'(z), σ'(z) = a(1 − a);  cross-entropy: a − y.
                delta[base &+ j] = quadratic ? (aj - y) * aj * (1 - aj) : aj - y
            }
        }
    }

    /// The cost of one output neuron with weighted input z and target y ∈ {0, 1}, in Double.
    ///
    /// Computed from z rather than from the Float32 activation, so the cross-entropy stays finite
    /// where σ(z) rounds to 0 or 1 (network2.py guards the same case with `np.nan_to_num`):
    /// −ln σ(z) = softplus(−z) and −ln(1 − σ(z)) = softplus(z).
    @inlinable
    func neuronCost(z: Float, y: Double) -> Double {
        let zd = Double(z)
        switch self {
        case .crossEntropy:
            return y * softplus(-zd) + (1 - y) * softplus(zd)
        default:
            let a = 1 / (1 + exp(-zd))
            let d = a - y
            return 0.5 * d * d
        }
    }
}

/// ln(1 + eˣ) without overflow.
@inlinable
func softplus(_ x: Double) -> Double {
    max(x, 0) + log1p(exp(-abs(x)))
}
