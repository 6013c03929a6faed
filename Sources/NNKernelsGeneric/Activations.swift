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
            forEachVector(z, n) { v in 1 / (1 + exp8(-v)) }
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
                forEachVector(row, width) { v in exp8(v - m) }
                var sum: Float = 0
                for j in 0..<width { sum += row[j] }
                let inv = 1 / sum
                for j in 0..<width { row[j] *= inv }
            }
        }
    }
}

/// z[i] = f(z[i]) for i in 0..<n, eight at a time; the last partial vector goes through `f` too
/// (padded with zeros), so every element gets exactly the same arithmetic wherever it sits.
@inline(__always)
func forEachVector(_ z: UnsafeMutablePointer<Float>, _ n: Int, _ f: (SIMD8<Float>) -> SIMD8<Float>) {
    var i = 0
    while i &+ 8 <= n {
        let raw = UnsafeMutableRawPointer(z + i)
        raw.storeBytes(of: f(raw.loadUnaligned(as: SIMD8<Float>.self)), as: SIMD8<Float>.self)
        i &+= 8
    }
    if i < n {
        var v = SIMD8<Float>(repeating: 0)
        for j in 0..<(n &- i) { v[j] = z[i &+ j] }
        let r = f(v)
        for j in 0..<(n &- i) { z[i &+ j] = r[j] }
    }
}

/// e^x for eight lanes, within 2 ulp of expf over the range where it matters: 0 below -87.3, x
/// clamped to 88 above (1.65e38, so 1 + e^-z never overflows in the sigmoid), and in between
/// e^x = 2^n e^r with n = round(x / ln 2), r = x - n ln 2 (ln 2 in two parts, as Cody and Waite),
/// and e^r from Cephes' degree-7 polynomial. Only multiplies, adds, compares and integer bit
/// operations: no libm call and no instruction beyond SSE2, so both builds vectorize it.
@inline(__always)
func exp8(_ input: SIMD8<Float>) -> SIMD8<Float> {
    // Clamping with compares and selects: pointwiseMin/Max and Float-to-Int32 SIMD conversions
    // are generic library calls, not single instructions.
    var x = input
    x.replace(with: 88, where: x .> 88)
    x.replace(with: -87.3, where: x .< -87.3)
    // n = round(x / ln 2) by adding 1.5 * 2^23, which leaves no fraction bits: the float's low
    // mantissa bits then hold n + 2^22 as an integer.
    let magic = SIMD8<Float>(repeating: 12_582_912)
    let shifted = x * 1.442_695_040_888_963_4 + magic
    let n = shifted - magic
    let r = (x - n * 0.693_359_375) - n * -2.121_944_40e-4
    var p = SIMD8<Float>(repeating: 1.987_569_150_0e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    p = p * (r * r) + r + 1
    // 2^n as a float: the biased exponent n + 127 in bits 23...30. shifted's bits are
    // 0x4B400000 + n (1.5 * 2^23 is 0x4B400000), so n + 127 is bits - 0x4B400000 + 127.
    let bits = unsafeBitCast(shifted, to: SIMD8<Int32>.self)
    let exponent = (bits &- (0x4B40_0000 &- 127)) &<< 23
    var e = p * unsafeBitCast(exponent, to: SIMD8<Float>.self)
    e.replace(with: 0, where: input .< -87.3)    // below the smallest normal float: 0, as expf underflows
    return e
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
