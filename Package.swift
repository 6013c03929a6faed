// swift-tools-version:6.0
// nnrt: train the networks of "Neural Networks and Deep Learning" in Swift, export them as
// protobuf model files, and run them anywhere through libnnrt's C ABI (Include/nnrt.h).
import PackageDescription

let package = Package(
    name: "nnrt",
    products: [
        // libnnrt.so: the embeddable runtime. Build the self-contained copy with scripts/build.sh,
        // which adds -static-stdlib and the export list (Sources/NNRuntime/exports.map).
        .library(name: "nnrt", type: .dynamic, targets: ["NNRuntime"]),
        // The `nnrt` command-line tool (train, eval, inspect, import); scripts/build.sh installs it
        // as build/bin/nnrt. (SwiftPM forbids a second product named "nnrt".)
        .executable(name: "nnrt-cli", targets: ["NNCLI"]),
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

        // MARK: Shared core
        .target(name: "NNKernels"),
        .target(name: "NNModel", dependencies: ["CModelProto"]),

        // MARK: Trainer
        .target(name: "NNTrainer", dependencies: ["NNKernels", "NNModel", "CZlib"]),
        .executableTarget(
            name: "NNCLI",
            dependencies: [
                "NNTrainer", "NNModel", "NNRuntime", "NNKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Runtime (libnnrt.so)
        .target(name: "NNRuntime", dependencies: ["NNKernels", "NNModel"], exclude: ["exports.map"]),

        // MARK: Tests
        .testTarget(name: "NNKernelsTests", dependencies: ["NNKernels"]),
        .testTarget(name: "NNModelTests", dependencies: ["NNModel"]),
        .testTarget(name: "NNTrainerTests", dependencies: ["NNTrainer", "NNModel", "NNKernels"]),
        .testTarget(name: "NNRuntimeTests", dependencies: ["NNRuntime", "NNModel", "NNTrainer"]),
        .testTarget(name: "CLITests", dependencies: ["NNCLI", "NNModel", "NNTrainer"]),
    ]
)
