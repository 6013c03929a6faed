// Types shared by every build of the kernels (NNKernelsGeneric, NNKernelsAVX2) and the dispatcher
// (NNKernels): the activation functions, the protocol of kernel entry points one build provides,
// and `argmax`, which callers inline.

/// Activation functions, numbered as in the model format's `Activation` enum.
public enum ActivationFunction: Int32, Sendable {
    case sigmoid = 1, tanh = 2, relu = 3, linear = 4, softmax = 5
}

/// One build of the kernels (NNKernelsGeneric or NNKernelsAVX2, each as its `CPUKernels` type):
/// every entry point works on a whole layer or matrix, so calling through the protocol costs
/// nothing measurable. NNKernels chooses the build the CPU supports (`Kernels.active`); see each
/// build's `CPUKernels` for what every function computes.
///
/// Results are deterministic for one build: every sum runs in an order fixed by the shapes. Two
/// builds may differ in the last bits (the AVX2 build rounds a fused multiply-add once).
public protocol KernelSet: Sendable {
    /// "generic" (the platform's baseline instruction set) or "avx2-fma".
    static var name: String { get }

    static func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)

    /// Floats `packGEMMB` writes for an op(B) of (k, n).
    static func packedBCount(k: Int, n: Int) -> Int

    /// Packs op(B) once for `sgemmPackedB` (for this build's `sgemmPackedB` only: the panel width differs between builds).
    static func packGEMMB(transposed: Bool, b: UnsafePointer<Float>, ldb: Int, k: Int, n: Int,
                          into packed: UnsafeMutablePointer<Float>)

    /// Floats of scratch `sgemmPackedB` needs.
    static func gemmScratchCount(m: Int, k: Int) -> Int

    /// C = alpha * A * packed B + beta * C, allocating nothing.
    static func sgemmPackedB(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             packedB: UnsafePointer<Float>, beta: Float,
                             c: UnsafeMutablePointer<Float>, ldc: Int, scratch: UnsafeMutablePointer<Float>)

    /// Columns of C per micro-panel of packed B: where the `columns` ranges below may start.
    static var gemmPanelWidth: Int { get }

    /// `sgemmPackedB` on a range of C's columns alone (starting at a multiple of `gemmPanelWidth`),
    /// each element exactly as the whole product computes it.
    static func sgemmPackedB(m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
                             packedB: UnsafePointer<Float>, beta: Float,
                             c: UnsafeMutablePointer<Float>, ldc: Int, scratch: UnsafeMutablePointer<Float>,
                             columns: Range<Int>)

    /// Whether `sgemmPackedBSparseA` is likely faster than `sgemmPackedB` for this A (m, k) and n.
    static func zeroSkippingPays(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int) -> Bool

    /// C += A * packed B (`sgemmPackedB` with alpha 1 and beta 1, the same values for finite B), in
    /// time proportional to A's nonzeros.
    static func sgemmPackedBSparseA(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                    packedB: UnsafePointer<Float>,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, scratch: UnsafeMutablePointer<Float>)

    /// `sgemmPackedBSparseA` on a range of C's columns alone, as `sgemmPackedB(...columns:)`.
    static func sgemmPackedBSparseA(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int,
                                    packedB: UnsafePointer<Float>,
                                    c: UnsafeMutablePointer<Float>, ldc: Int, scratch: UnsafeMutablePointer<Float>,
                                    columns: Range<Int>)

    static func denseForward(input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
                             weights: UnsafePointer<Float>, bias: UnsafePointer<Float>, outFeatures: Int,
                             output: UnsafeMutablePointer<Float>)

    static func denseBackward(input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
                              weights: UnsafePointer<Float>, outFeatures: Int, delta: UnsafePointer<Float>,
                              nablaW: UnsafeMutablePointer<Float>, nablaB: UnsafeMutablePointer<Float>,
                              inputDelta: UnsafeMutablePointer<Float>?)

    /// `denseBackward`'s inputDelta alone (delta · weights), bit for bit.
    static func denseInputDelta(batch: Int, inFeatures: Int, weights: UnsafePointer<Float>, outFeatures: Int,
                                delta: UnsafePointer<Float>, inputDelta: UnsafeMutablePointer<Float>)

    /// A plain SGD step of a dense layer fused with its weight gradient: weights = decay · weights
    /// − step · deltaᵀ · input, bias = bias − step · column sums of delta, with delta's rows
    /// deltaStride (≥ outFeatures) floats apart, so a block of a layer's output rows can be updated.
    static func denseUpdate(input: UnsafePointer<Float>, batch: Int, inFeatures: Int,
                            delta: UnsafePointer<Float>, outFeatures: Int, deltaStride: Int,
                            weights: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>,
                            decay: Float, step: Float)

    /// Floats of scratch this build's conv2dForward/conv2dBackward need for one call.
    static func conv2dScratchCount(batch: Int, channels: Int, height: Int, width: Int,
                                   maps: Int, kernelHeight: Int, kernelWidth: Int) -> Int

    static func conv2dForward(input: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                              weights: UnsafePointer<Float>, bias: UnsafePointer<Float>?, maps: Int,
                              kernelHeight: Int, kernelWidth: Int,
                              output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>)

    static func conv2dBackward(input: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                               weights: UnsafePointer<Float>, maps: Int, kernelHeight: Int, kernelWidth: Int,
                               delta: UnsafePointer<Float>,
                               nablaW: UnsafeMutablePointer<Float>, nablaB: UnsafeMutablePointer<Float>,
                               inputDelta: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>)

    /// Winograd F(2x2, 5x5) convolution for inference (see each build's `Winograd.swift`).
    static func winogradSupports(channels: Int, height: Int, width: Int, maps: Int,
                                 kernelHeight: Int, kernelWidth: Int) -> Bool

    static func winogradWeightsCount(maps: Int, channels: Int) -> Int

    static func winogradPackWeights(weights: UnsafePointer<Float>, maps: Int, channels: Int,
                                    into packed: UnsafeMutablePointer<Float>)

    static func winogradScratchCount(channels: Int, height: Int, width: Int, maps: Int) -> Int

    static func winogradConvForward(input: UnsafePointer<Float>, transformed: UnsafePointer<Float>?,
                                    batch: Int, channels: Int, height: Int, width: Int,
                                    packedWeights: UnsafePointer<Float>, bias: UnsafePointer<Float>, maps: Int,
                                    mapRange: Range<Int>, activation: ActivationFunction, pool2x2: Bool,
                                    output: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>)

    static func winogradTransformed(scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float>

    static func winogradTransformInput(input: UnsafePointer<Float>, channels: Int, height: Int, width: Int,
                                       channelRange: Range<Int>, into transformed: UnsafeMutablePointer<Float>,
                                       scratch: UnsafeMutablePointer<Float>)

    static func maxPool2dForward(input: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                                 poolHeight: Int, poolWidth: Int,
                                 output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?)

    static func maxPool2dBackward(delta: UnsafePointer<Float>, batch: Int, channels: Int, height: Int, width: Int,
                                  poolHeight: Int, poolWidth: Int, argmax: UnsafePointer<Int32>,
                                  inputDelta: UnsafeMutablePointer<Float>)

    static func activationForward(_ f: ActivationFunction, _ z: UnsafeMutablePointer<Float>, rows: Int, width: Int)

    @discardableResult
    static func activationBackward(_ f: ActivationFunction, activations a: UnsafePointer<Float>,
                                   delta: UnsafeMutablePointer<Float>, count n: Int) -> Bool
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
