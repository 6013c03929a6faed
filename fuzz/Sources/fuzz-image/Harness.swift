// fuzz-image: encoded images from memory through every decoder (PNG via libpng, JPEG via
// libjpeg-turbo with the EXIF orientation reader, PGM/PPM natively) and the MNIST-style
// preprocessing. Each input goes through nnrt_model_classify_image with a 28x28 MNIST model and
// nnrt_model_preprocess_image with a 16x16 dark-on-light model centred by bounding box; a JPEG is
// also decoded at full size and in colour (the hints the CLI's --show and the tests use). Checks
// that the two C calls agree on the status, that results are in range, and that each status is one
// the header documents for a bad image.
import FuzzSupport
import NNImaging
import NNModel
import NNRuntime
#if canImport(Glibc)
import Glibc
#endif

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<Int32>?,
                           _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> Int32 {
    writeSeedsIfAsked(imageSeeds)
    _ = models
    return 0
}

/// The two models, loaded once through the C ABI (freed at exit by the OS; libFuzzer's leak
/// check only counts memory lost during an input).
nonisolated(unsafe) let models: (mnist: OpaquePointer, small: OpaquePointer) = {
    var rng = SeedRNG(5)
    func load(_ n: NetworkModel) -> OpaquePointer {
        do throws(ModelError) {
            let bytes = try encodeModel(ModelFile(body: .network(n)))
            var model: OpaquePointer?
            let status = nnrt_model_load_from_memory(bytes, bytes.count, &model)
            guard status == Status.ok, let model else { violated("model does not load: \(lastError())") }
            return model
        } catch {
            violated("model does not encode: \(error.message)")
        }
    }
    let mnist = NetworkModel(name: "mnist", layers: [
        .dense(name: "out", inputs: 784, outputs: 10, activation: .softmax, weights: rng.floats(7840), bias: rng.floats(10)),
    ], classLabels: (0..<10).map(String.init), input: .mnist, cost: .logLikelihood)
    let small = NetworkModel(name: "small", layers: [
        .dense(name: "out", inputs: 256, outputs: 3, activation: .sigmoid, weights: rng.floats(768), bias: rng.floats(3)),
    ], classLabels: ["a", "b", "c"],
       input: InputContract(shape: [1, 16, 16], scale: 2.0 / 255.0, offset: -1, polarity: .darkOnLight,
                            image: ImageNormalization(method: .mnistDigit, boxSize: 11, centring: .boundingBox)),
       cost: .crossEntropy)
    return (load(mnist), load(small))
}()

/// What a bad image may give (Include/nnrt.h, "Images").
let imageStatuses: Set<Int32> = [Status.ok, Status.imageDecode, Status.imageFormat, Status.imageTooLarge,
                                 Status.unsupported, Status.outOfMemory]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    let raw = UnsafeRawPointer(data)

    var label: Int32 = -1, flags: UInt32 = 0
    var outputs = [Float](repeating: -1, count: 10)
    let classified = nnrt_model_classify_image(models.mnist, raw, size, &label, &outputs, outputs.count, &flags)
    expect(classified, in: imageStatuses, "nnrt_model_classify_image")
    if classified == Status.ok {
        guard (0..<10).contains(label), flags & ~UInt32(7) == 0 else { violated("classify: label \(label), flags \(flags)") }
        let sum = outputs.reduce(0, +)
        guard outputs.allSatisfy({ $0 >= 0 && $0 <= 1 }), abs(sum - 1) < 1e-3 else {
            violated("classify: softmax outputs \(outputs) (sum \(sum))")
        }
        guard outputs[Int(label)] == outputs.max() else { violated("classify: label \(label) is not the argmax of \(outputs)") }
    }

    var input = [Float](repeating: .nan, count: 256)
    flags = 0
    let preprocessed = nnrt_model_preprocess_image(models.small, raw, size, &input, input.count, &flags)
    expect(preprocessed, in: imageStatuses, "nnrt_model_preprocess_image")
    // Both decode with the same hints: the same bytes must fail the same way.
    if preprocessed != classified && preprocessed != Status.outOfMemory && classified != Status.outOfMemory {
        violated("classify_image gave \(classified), preprocess_image gave \(preprocessed): \(lastError())")
    }
    if preprocessed == Status.ok {
        // Inputs are 8-bit levels p scaled by the contract: p * 2/255 - 1, in [-1, 1].
        guard input.allSatisfy({ $0 >= -1.0001 && $0 <= 1.0001 }), flags & ~UInt32(7) == 0 else {
            violated("preprocess: values outside [-1, 1] or flags \(flags)")
        }
    }

    // JPEG only (the other decoders ignore hints): full size and colour.
    if size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF {
        do throws(ImageError) {
            let image = try decodeImage(UnsafeRawBufferPointer(start: raw, count: size), hints: .full)
            guard image.samples.count == image.width * image.height * image.layout.channels else {
                violated("decodeImage: \(image.samples.count) samples for \(image.width)x\(image.height)")
            }
        } catch {
            if error.message.isEmpty { violated("decodeImage failed without a message") }
        }
    }
    return 0
}
