// swift-tools-version:6.0
// nnrt: train the networks of "Neural Networks and Deep Learning" in Swift, export them as
// protobuf model files, and run them anywhere through libnnrt's C ABI (Include/nnrt.h).
import PackageDescription

/// The CPU-specific builds of the kernels: on x86-64, AVX2 with fused multiply-adds (Haswell, 2013,
/// and every later x86-64 CPU of both vendors that has those). `unsafeFlags` is allowed here because
/// this is a root package; the flags only affect this one module.
#if arch(x86_64)
let variantKernelTargets: [Target] = [
    .target(name: "NNKernelsAVX2", dependencies: ["NNKernelTypes"],
            swiftSettings: [.define("NNRT_FMA"), .unsafeFlags(["-target-cpu", "haswell"])]),
]
#else
let variantKernelTargets: [Target] = []
#endif

let package = Package(
    name: "nnrt",
    products: [
        // libnnrt.so: the embeddable runtime. Build the self-contained copy with scripts/build.sh,
        // which adds -static-stdlib and the export list (Sources/NNRuntime/exports.map).
        .library(name: "nnrt", type: .dynamic, targets: ["NNRuntime"]),
        // The `nnrt` command-line tool (train, eval, inspect, import); scripts/build.sh installs it
        // as build/bin/nnrt. (SwiftPM forbids a second product named "nnrt".)
        .executable(name: "nnrt-cli", targets: ["NNCLI"]),
        // nnrt-testimages: writes the image-input test set (scanned MNIST test digits and broken
        // files); scripts/build.sh installs it as build/bin/nnrt-testimages.
        .executable(name: "nnrt-testimages", targets: ["NNTestImages"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // MARK: C libraries
        .systemLibrary(
            name: "CProtobufC",
            pkgConfig: "libprotobuf-c",
            providers: [.apt(["libprotobuf-c-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .target(
            name: "CModelProto",
            dependencies: ["CProtobufC"],
            exclude: ["nnrt.proto", "regenerate.sh"]
        ),
        // PNG and JPEG through Debian's libpng 1.6 and libjpeg-turbo (libpng-dev,
        // libjpeg62-turbo-dev; at run time libpng16-16 and libjpeg62-turbo). Every setjmp/longjmp
        // of the two libraries stays inside this C target.
        .target(
            name: "CImageCodecs",
            cSettings: [.unsafeFlags(["-std=c99"])],
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]
        ),

        // MARK: Shared core
        // The numeric kernels, compiled twice from one source (NNKernelsGeneric): once for the
        // baseline CPU of the platform, and on x86-64 once more for AVX2 + FMA (NNKernelsAVX2,
        // whose files are symbolic links). NNKernels picks one at run time from what the CPU
        // supports (CCPUFeatures), so no host program or build flag has to know.
        .target(name: "CCPUFeatures"),
        .target(name: "NNKernelTypes"),
        .target(name: "NNKernelsGeneric", dependencies: ["NNKernelTypes"]),
        .target(name: "NNKernels", dependencies: ["NNKernelTypes", "NNKernelsGeneric", "CCPUFeatures"]
                    + variantKernelTargets.map { .target(name: $0.name) }),
        .target(name: "NNModel", dependencies: ["CModelProto"]),

        // MARK: Image input (decoding and MNIST-style preprocessing; part of libnnrt.so)
        .target(name: "NNImaging", dependencies: ["CImageCodecs"]),
        // Synthetic "scans" of MNIST digits (seeded), for tests and test-image generation; not in libnnrt.
        .target(name: "NNImageSynthesis", dependencies: ["NNImaging"]),

        // MARK: Trainer
        .target(name: "NNTrainer", dependencies: ["NNKernels", "NNKernelTypes", "NNModel", "CZlib"]),
        .executableTarget(
            name: "NNCLI",
            dependencies: [
                "NNTrainer", "NNModel", "NNRuntime", "NNKernels", "NNKernelTypes", "NNImaging",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .executableTarget(name: "NNTestImages", dependencies: ["NNImaging", "NNImageSynthesis", "NNTrainer"]),

        // MARK: Runtime (libnnrt.so)
        // Release builds leave out the run-time exclusivity checks (swift_beginAccess on every
        // access to a class's stored property that the compiler cannot prove exclusive): they
        // took 4-6% of a batch-1 call of 784-30-10 (1.07 -> 1.03 µs), and a failed check traps,
        // which the library must never do in its host. Debug builds, and so `swift test` and the
        // sanitizer runs, keep them.
        .target(name: "NNRuntime", dependencies: ["NNKernels", "NNKernelTypes", "NNModel", "NNImaging"], exclude: ["exports.map"],
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),

        // MARK: Tests
        .testTarget(name: "NNKernelsTests", dependencies: ["NNKernels", "NNKernelsGeneric", "CCPUFeatures"]),
        .testTarget(name: "NNModelTests", dependencies: ["NNModel"]),
        .testTarget(name: "NNTrainerTests", dependencies: ["NNTrainer", "NNModel", "NNKernels"]),
        .testTarget(name: "NNRuntimeTests", dependencies: ["NNRuntime", "NNModel", "NNTrainer"]),
        .testTarget(name: "CLITests", dependencies: ["NNCLI", "NNModel", "NNTrainer"]),
        .testTarget(name: "NNImagingTests", dependencies: ["NNImaging", "NNImageSynthesis", "NNTrainer"]),
    ] + variantKernelTargets
)

// MARK: Fuzzing (scripts/fuzz.sh; README "Fuzzing")
// libFuzzer harnesses for the C ABI: model files from memory, encoded images, checkpoints. They
// exist only when NNRT_FUZZ is set, because they link only with `--sanitize=fuzzer` (libFuzzer
// supplies `main`); an ordinary `swift build` or `swift test` never sees them.
if Context.environment["NNRT_FUZZ"] != nil {
    package.targets += [
        .target(name: "FuzzSupport", dependencies: ["NNRuntime", "NNModel", "NNImaging"], path: "fuzz/Sources/FuzzSupport"),
        .executableTarget(name: "fuzz-model", dependencies: ["FuzzSupport", "NNRuntime", "NNModel", "NNImaging"],
                          path: "fuzz/Sources/fuzz-model"),
        .executableTarget(name: "fuzz-image", dependencies: ["FuzzSupport", "NNRuntime", "NNModel", "NNImaging", "CImageCodecs"],
                          path: "fuzz/Sources/fuzz-image"),
        .executableTarget(name: "fuzz-checkpoint", dependencies: ["FuzzSupport", "NNTrainer", "NNModel", "CZlib"],
                          path: "fuzz/Sources/fuzz-checkpoint"),
    ]
}
