#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Activation functions, numbered as in the model format's `Activation` enum.
public enum ActivationFunction: Int32, Sendable {
    case sigmoid = 1, tanh = 2, relu = 3, linear = 4, softmax = 5
}

/// σ(z) = 1 / (1 + e^-z), computed without overflow for large |z|.
@inlinable
public func sigmoid(_ z: Float) -> Float {
    if z >= 0 {
        return 1 / (1 + expf(-z))
    } else {
        let e = expf(z)
        return e / (1 + e)
    }
}

/// Applies `f` in place to `rows` rows of `width` values (softmax works row by row).
@inlinable
public func activationForward(_ f: ActivationFunction, _ z: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
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

/// Multiplies `delta` in place by f'(z), given the activations a = f(z) (all four elementwise
/// functions' derivatives are expressible through a). Softmax is not elementwise: its delta is
/// formed together with the cost (log-likelihood), so it is rejected here by returning false.
@inlinable
@discardableResult
public func activationBackward(_ f: ActivationFunction, activations a: UnsafePointer<Float>,
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

/// Index of the largest of n values; the smallest index wins ties (NaN never wins).
@inlinable
public func argmax(_ x: UnsafePointer<Float>, _ n: Int) -> Int {
    var best = 0
    var bestValue = -Float.infinity
    var i = 0
    while i < n {
        if x[i] > bestValue {
            bestValue = x[i]
            best = i
        }
        i &+= 1
    }
    return best
}
