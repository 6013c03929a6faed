// The kernels the rest of nnrt calls: the build of NNKernelsGeneric's sources that this CPU runs
// fastest, chosen once, at first use, from what the CPU reports (CCPUFeatures). A host program
// needs no build flag or environment variable for it; NNRT_KERNELS=generic forces the portable
// build (to compare, or to reproduce a result bit for bit on another CPU).

@_exported import NNKernelTypes
import NNKernelsGeneric
#if canImport(NNKernelsAVX2)
import NNKernelsAVX2
#endif
import CCPUFeatures

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum Kernels {
    /// The builds of the kernels this CPU can run, the portable one first, the fastest last.
    public static let available: [any KernelSet.Type] = {
        var builds: [any KernelSet.Type] = [NNKernelsGeneric.CPUKernels.self]
#if canImport(NNKernelsAVX2)
        if nnrt_cpu_has_avx2_fma() != 0 { builds.append(NNKernelsAVX2.CPUKernels.self) }
#endif
        return builds
    }()

    /// The build in use: the one the environment variable NNRT_KERNELS names ("generic",
    /// "avx2-fma") if this CPU can run it, else the fastest available. Read once.
    public static let active: any KernelSet.Type = {
        if let requested = getenv("NNRT_KERNELS").map({ String(cString: $0) }),
           let build = named(requested) {
            return build
        }
        return available[available.count - 1]
    }()

    /// The available build called `name`, or nil.
    public static func named(_ name: String) -> (any KernelSet.Type)? {
        available.first { $0.name == name }
    }
}

/// Floats of scratch the active build's `conv2dForward`/`conv2dBackward` need for one call.
///
/// Returns 0 for an empty or invalid shape (a kernel larger than the input, a non-positive size),
/// for which the kernels do nothing, and Int.max if the count does not fit in an Int.
public func conv2dScratchCount(batch: Int, channels: Int, height: Int, width: Int,
                               maps: Int, kernelHeight: Int, kernelWidth: Int) -> Int {
    Kernels.active.conv2dScratchCount(batch: batch, channels: channels, height: height, width: width,
                                      maps: maps, kernelHeight: kernelHeight, kernelWidth: kernelWidth)
}
