// The inputs kept in fuzz/regressions/ (issue 6: crashes, hangs, leaks and absurd allocations
// found while fuzzing, or by review of what the fuzzer could reach), replayed through the C ABI
// with the outcome each must have. Every kept file needs an entry here, so nothing is kept without
// a test. scripts/fuzz.sh replays the same files under AddressSanitizer.
import Foundation
import Testing
import NNModel
@testable import NNRuntime

/// The repository's fuzz/regressions/<harness> directory.
private func regressionDir(_ harness: String) -> String {
    var path = #filePath
    for _ in 0..<3 { path = (path as NSString).deletingLastPathComponent }   // Tests/NNRuntimeTests/<file>
    return path + "/fuzz/regressions/" + harness
}

private func keptFiles(_ harness: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: regressionDir(harness))) ?? []).sorted()
}

private func bytes(_ harness: String, _ name: String) throws -> [UInt8] {
    let path = regressionDir(harness) + "/" + name
    guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(.io, "cannot read \(path)") }
    return [UInt8](data)
}

private func lastError() -> String { String(cString: nnrt_last_error_message()) }

@Suite struct FuzzRegressions {
    /// Model files: the status nnrt_model_load_from_memory must give, and a fragment of its message.
    static let models: [String: (status: Int32, message: String)] = [
        // A max_pool2d over 60000x60000 (3.6e9 floats per example) in 102 bytes: refused at load
        // instead of allocating 14 GB per prediction.
        "pool-over-60000x60000.nnrt": (10, "layer 1 'pool': its input [1, 60000, 60000] holds 3600000000 values per example"),
        // One 1x1 kernel over the same input: its output and im2col matrix would be 14 GB each.
        "conv1x1-over-60000x60000.nnrt": (10, "layer 1 'conv': its input [1, 60000, 60000] holds 3600000000 values"),
        // Activations within the limit, but 16x16 kernels unroll to 4e9 floats (16 GB of scratch).
        "conv16x16-unroll-over-4000x4000.nnrt": (10, "unroll to 4065337600 values per example, over this library's limit of 67108864"),
    ]

    @Test func everyKeptModelFileHasItsOutcome() throws {
        let files = keptFiles("model")
        #expect(Set(files) == Set(Self.models.keys), "fuzz/regressions/model and this table must list the same files")
        for name in files {
            guard let expected = Self.models[name] else { continue }
            let data = try bytes("model", name)
            var model: OpaquePointer?
            let status = data.withUnsafeBytes { nnrt_model_load_from_memory($0.baseAddress, $0.count, &model) }
            #expect(status == expected.status, "\(name): status \(status): \(lastError())")
            #expect(model == nil, "\(name)")
            #expect(lastError().contains(expected.message), "\(name): \(lastError())")
            nnrt_model_free(model)
        }
    }

    /// Encoded images: the status nnrt_model_classify_image must give with an MNIST model, and a
    /// fragment of its message (empty for success).
    static let images: [String: (status: Int32, message: String)] = [
        // 122 bytes: a palette PNG whose tRNS chunk's CRC is wrong and whose next bytes declare
        // an sPLT chunk of 1,847,620,705 bytes; libpng allocated that much before reading it
        // (peak RSS 1.8 GB). Its allocator now refuses it: the file is simply truncated.
        "png-chunk-declares-1.8GB.png": (8, "truncated"),
    ]

    @Test func everyKeptImageHasItsOutcome() throws {
        let files = keptFiles("image")
        #expect(Set(files) == Set(Self.images.keys), "fuzz/regressions/image and this table must list the same files")
        guard !files.isEmpty else { return }
        let network = NetworkModel(name: "mnist", layers: [
            .dense(name: "out", inputs: 784, outputs: 10, activation: .softmax,
                   weights: [Float](repeating: 0.01, count: 7840), bias: [Float](repeating: 0, count: 10)),
        ], classLabels: (0..<10).map(String.init), input: .mnist, cost: .logLikelihood)
        let encoded = try encodeModel(ModelFile(body: .network(network)))
        var model: OpaquePointer?
        #expect(encoded.withUnsafeBytes { nnrt_model_load_from_memory($0.baseAddress, $0.count, &model) } == 0)
        defer { nnrt_model_free(model) }
        for name in files {
            guard let expected = Self.images[name] else { continue }
            let data = try bytes("image", name)
            var label: Int32 = -1
            let status = data.withUnsafeBytes { nnrt_model_classify_image(model, $0.baseAddress, $0.count, &label, nil, 0, nil) }
            #expect(status == expected.status, "\(name): status \(status): \(lastError())")
            if status != 0 { #expect(lastError().contains(expected.message), "\(name): \(lastError())") }
        }
    }

    /// A model may take up to 2^24 inputs (a 4096x4096 field); a block of 256 files of that
    /// size would be 16 GiB of rows, so blocks shrink to what the scratch budget holds.
    @Test func imageBlocksStayWithinTheScratchBudget() {
        #expect(Session.imageBlockRows(count: 10_000, inputSize: 784) == 256)
        #expect(Session.imageBlockRows(count: 3, inputSize: 784) == 3)
        #expect(Session.imageBlockRows(count: 10_000, inputSize: 1 << 16) == 64)
        #expect(Session.imageBlockRows(count: 300, inputSize: ModelLimits.maxLayerElements) == 1)
        for inputSize in [1, 784, 50_000, 1 << 22, 1 << 24] {
            let rows = Session.imageBlockRows(count: 1_000, inputSize: inputSize)
            #expect(rows >= 1 && (rows == 1 || rows * inputSize <= scratchBudget))
        }
    }
}
