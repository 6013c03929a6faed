// fuzz-image: encoded images from memory through every decoder (PNG via libpng, JPEG via
// libjpeg-turbo with the EXIF orientation reader, PGM/PPM natively) and the MNIST-style
// preprocessing. An input of even length goes through nnrt_model_classify_image with a 28x28 MNIST
// model; one of odd length through nnrt_model_preprocess_image with a 16x16 dark-on-light model
// centred by bounding box, and a JPEG is then also decoded at full size and in colour (the hints
// the tests and image writers use). Checks that each status is one the header documents for a bad
// image and that results are in range.
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
    // One decode per input keeps the rate up: the length's parity picks the path (every decoder
    // ignores bytes after the image, so the fuzzer reaches both with any file).
    if size % 2 == 0 {
        classify(UnsafeRawPointer(data), size)
    } else {
        preprocess(UnsafeRawPointer(data), size)
    }
    return 0
}

/// nnrt_model_classify_image with the MNIST model: a label, softmax outputs, flags.
func classify(_ data: UnsafeRawPointer, _ size: Int) {
    var label: Int32 = -1, flags: UInt32 = 0
    var outputs = [Float](repeating: -1, count: 10)
    let status = nnrt_model_classify_image(models.mnist, data, size, &label, &outputs, outputs.count, &flags)
    expect(status, in: imageStatuses, "nnrt_model_classify_image")
    guard status == Status.ok else { return }
    guard (0..<10).contains(label), flags & ~UInt32(7) == 0 else { violated("classify: label \(label), flags \(flags)") }
    let sum = outputs.reduce(0, +)
    guard outputs.allSatisfy({ $0 >= 0 && $0 <= 1 }), abs(sum - 1) < 1e-3 else {
        violated("classify: softmax outputs \(outputs) (sum \(sum))")
    }
    guard outputs[Int(label)] == outputs.max() else { violated("classify: label \(label) is not the argmax of \(outputs)") }
}

/// nnrt_model_preprocess_image with the small dark-on-light model; a JPEG is then also decoded
/// at full size and in colour (the other decoders ignore hints).
func preprocess(_ data: UnsafeRawPointer, _ size: Int) {
    var input = [Float](repeating: .nan, count: 256)
    var flags: UInt32 = 0
    let status = nnrt_model_preprocess_image(models.small, data, size, &input, input.count, &flags)
    expect(status, in: imageStatuses, "nnrt_model_preprocess_image")
    if status == Status.ok {
        // Inputs are 8-bit levels p scaled by the contract: p * 2/255 - 1, in [-1, 1].
        guard input.allSatisfy({ $0 >= -1.0001 && $0 <= 1.0001 }), flags & ~UInt32(7) == 0 else {
            violated("preprocess: values outside [-1, 1] or flags \(flags)")
        }
    }
    let bytes = data.assumingMemoryBound(to: UInt8.self)
    guard size >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF else { return }
    do throws(ImageError) {
        let image = try decodeImage(UnsafeRawBufferPointer(start: data, count: size), hints: .full)
        guard image.samples.count == image.width * image.height * image.layout.channels else {
            violated("decodeImage: \(image.samples.count) samples for \(image.width)x\(image.height)")
        }
    } catch {
        if error.message.isEmpty { violated("decodeImage failed without a message") }
    }
}
