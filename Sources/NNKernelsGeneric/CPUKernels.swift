// This build of the kernels as one type. The same source files compile into two modules:
// NNKernelsGeneric (the platform's baseline instruction set) and, on x86-64, NNKernelsAVX2
// (`-target-cpu haswell -D NNRT_FMA`: AVX2 vectors and fused multiply-adds). Their files are
// symbolic links to these; NNKernels chooses between the two builds at run time.

@_exported import NNKernelTypes

/// The kernels of this build; see `KernelSet` and each function's documentation.
public enum CPUKernels: KernelSet {
#if NNRT_FMA
    public static let name = "avx2-fma"
#else
    public static let name = "generic"
#endif
}
