// Activation functions, forward and backward, applied in place to whole layers.

import NNKernelTypes

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension CPUKernels {
    /// Applies `f` in place to `rows` rows of `width` values (softmax works row by row).
    public static func activationForward(_ f: ActivationFunction, _ z: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
        let n = rows &* width
        switch f {
        case .sigmoid:
            for i in 0..<n { z[i] = sigmoid(z[i]) }
        case .tanh:
            for i in 0..<n { z[i] = tanhf(z[i]) }
        case .relu:
            for i in 0..<n { z[i] = max(0, z[i]) }
        case .linear:
            break
        case .softmax:
            for r in 0..<rows {
                let row = z + r &* width
                var m = -Float.infinity
                for j in 0..<width { m = max(m, row[j]) }
                var sum: Float = 0
                for j in 0..<width {
                    let e = expf(row[j] - m)
                    row[j] = e
                    sum += e
                }
                let inv = 1 / sum
                for j in 0..<width { row[j] *= inv }
            }
        }
    }
}

extension CPUKernels {
    /// Multiplies `delta` in place by f'(z), given the activations a = f(z) (all four elementwise
    /// functions' derivatives are expressible through a). Softmax is not elementwise: its delta is
    /// formed together with the cost (log-likelihood), so it is rejected here by returning false.
    @discardableResult
    public static func activationBackward(_ f: ActivationFunction, activations a: UnsafePointer<Float>,
                                   delta: UnsafeMutablePointer<Float>, count n: Int) -> Bool {
        switch f {
        case .sigmoid:
            for i in 0..<n { delta[i] *= a[i] * (1 - a[i]) }      // σ'(z) = σ(z)(1 − σ(z))
        case .tanh:
            for i in 0..<n { delta[i] *= 1 - a[i] * a[i] }
        case .relu:
            for i in 0..<n where a[i] <= 0 { delta[i] = 0 }
        case .linear:
            break
        case .softmax:
            return false
        }
        return true
    }
}
