// fuzz-model: model files from memory (nnrt_model_load_from_memory). A file that loads is then
// used as a host would: every introspection function, a prediction on zero inputs (float and
// 8-bit, combined and per member, through a session and a re-voted ensemble), and for a model
// that takes images, preprocessing of a small pixel buffer and classification of two image files.
// Checks that each call returns a status its documentation allows, and that a model libnnrt loads
// is one the Swift codec decodes too.
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
    writeSeedsIfAsked(modelSeeds)
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let data else { return 0 }
    var model: OpaquePointer?
    let status = nnrt_model_load_from_memory(UnsafeRawPointer(data), size, &model)
    expect(status, in: [Status.ok, Status.badModel, Status.unsupportedVersion, Status.unsupported, Status.outOfMemory,
                        size == 0 ? Status.invalidArgument : Status.ok],
           "nnrt_model_load_from_memory")
    // The Swift codec is what the loader runs; it must agree on which files are models.
    let decoded: ModelFile?
    do throws(ModelError) {
        decoded = try decodeModel(UnsafeRawBufferPointer(start: data, count: size))
    } catch {
        decoded = nil
    }
    guard status == Status.ok, let model else {
        if model != nil { violated("nnrt_model_load_from_memory failed but set *out_model") }
        if let decoded, size > 0, status != Status.outOfMemory {
            violated("decodeModel accepts a file that nnrt_model_load_from_memory rejects: \(lastError()) (\(decoded.networks.count) networks)")
        }
        return 0
    }
    defer { nnrt_model_free(model) }
    guard let decoded else { violated("nnrt_model_load_from_memory loads a file that decodeModel rejects") }
    let facts = introspect(model, decoded)
    if workPerExample(decoded) <= workBudget && facts.inputSize <= inputBudget {
        predictZeros(model, facts)
        preprocessPixels(model, facts)
        classifyFiles(model, facts)
    }
    return 0
}

/// Bounds on what one input may make the harness compute, so that slow inputs are models that
/// are slow, not the harness's choice (the loader's own limits are far above these).
let inputBudget = 1 << 20
let workBudget = 1 << 26

/// Multiply-adds and pooled elements per example, the cost of one prediction.
func workPerExample(_ file: ModelFile) -> Int {
    var total = 0
    for n in file.networks {
        for l in n.layers {
            let inputs = checkedProduct(l.inputShape) ?? Int.max
            let outputs = checkedProduct(l.outputShape) ?? Int.max
            let cost: Int
            switch l.kind {
            case .dense: cost = saturatingProduct(inputs, outputs)
            case .conv2d: cost = saturatingProduct(outputs, checkedProduct(Array(l.weights.shape.dropFirst())) ?? Int.max)
            case .maxPool2d: cost = inputs
            }
            let (sum, overflow) = total.addingReportingOverflow(cost)
            total = overflow ? Int.max : sum
        }
    }
    return total
}

struct Facts {
    var inputSize = 0
    var classCount = 0
    var memberCount = 0
}

/// Every introspection function, checked against the decoded file.
func introspect(_ model: OpaquePointer, _ file: ModelFile) -> Facts {
    var f = Facts()
    let networks = file.networks
    expect(nnrt_model_input_size(model, &f.inputSize), in: [Status.ok], "nnrt_model_input_size")
    guard let first = networks.first, f.inputSize == checkedProduct(first.input.shape) else {
        violated("input size \(f.inputSize) differs from the file's input contract")
    }
    var rank = 0
    let s = nnrt_model_input_shape(model, nil, 0, &rank)
    expect(s, in: [Status.bufferTooSmall], "nnrt_model_input_shape with capacity 0")
    var dims = [Int](repeating: 0, count: rank)
    expect(nnrt_model_input_shape(model, &dims, rank, &rank), in: [Status.ok], "nnrt_model_input_shape")
    if dims != first.input.shape { violated("input shape \(dims), file says \(first.input.shape)") }
    var scale: Float = 0, offset: Float = 0, polarity: Int32 = 0
    expect(nnrt_model_input_contract(model, &scale, &offset, &polarity), in: [Status.ok], "nnrt_model_input_contract")
    expect(nnrt_model_class_count(model, &f.classCount), in: [Status.ok], "nnrt_model_class_count")
    if f.classCount != first.classLabels.count || f.classCount < 1 { violated("class count \(f.classCount)") }
    for i in 0...f.classCount {
        var label: UnsafePointer<CChar>?
        let st = nnrt_model_class_label(model, i, &label)
        expect(st, in: [i < f.classCount ? Status.ok : Status.notFound], "nnrt_model_class_label(\(i))")
        if st == Status.ok { checkedString(label, "class label \(i)") }
    }
    expect(nnrt_model_member_count(model, &f.memberCount), in: [Status.ok], "nnrt_model_member_count")
    if f.memberCount != networks.count { violated("\(f.memberCount) members, file has \(networks.count)") }
    var voting: Int32 = 0
    expect(nnrt_model_voting(model, &voting), in: [Status.ok], "nnrt_model_voting")
    var version: UInt32 = 0
    expect(nnrt_model_format_version(model, &version), in: [Status.ok], "nnrt_model_format_version")
    if version != file.formatVersion { violated("format version \(version), file says \(file.formatVersion)") }
    var producer: UnsafePointer<CChar>?, producerVersion: UnsafePointer<CChar>?, name: UnsafePointer<CChar>?
    expect(nnrt_model_producer(model, &producer, &producerVersion), in: [Status.ok], "nnrt_model_producer")
    checkedString(producer, "producer")
    checkedString(producerVersion, "producer version")
    expect(nnrt_model_name(model, &name), in: [Status.ok], "nnrt_model_name")
    checkedString(name, "name")
    var entries = 0
    expect(nnrt_model_metadata_count(model, &entries), in: [Status.ok], "nnrt_model_metadata_count")
    if entries != file.metadata.count { violated("\(entries) metadata entries, file has \(file.metadata.count)") }
    for i in 0...entries {
        var key: UnsafePointer<CChar>?, value: UnsafePointer<CChar>?
        let st = nnrt_model_metadata_entry(model, i, &key, &value)
        expect(st, in: [i < entries ? Status.ok : Status.notFound], "nnrt_model_metadata_entry(\(i))")
        if st == Status.ok {
            checkedString(key, "metadata key")
            checkedString(value, "metadata value")
            var found: UnsafePointer<CChar>?
            // Keys with NUL cut short may find an earlier entry, or none.
            expect(nnrt_model_metadata_get(model, key, &found), in: [Status.ok, Status.notFound], "nnrt_model_metadata_get")
        }
    }
    for m in 0...f.memberCount {
        var layers = 0
        let st = nnrt_model_layer_count(model, m, &layers)
        expect(st, in: [m < f.memberCount ? Status.ok : Status.notFound], "nnrt_model_layer_count(\(m))")
        guard st == Status.ok else { continue }
        if layers != networks[m].layers.count { violated("member \(m): \(layers) layers, file has \(networks[m].layers.count)") }
        for i in 0...layers {
            var kind: Int32 = 0, activation: Int32 = 0
            var layerName: UnsafePointer<CChar>?, summary: UnsafePointer<CChar>?
            let li = nnrt_model_layer_info(model, m, i, &kind, &activation, &layerName, &summary)
            expect(li, in: [i < layers ? Status.ok : Status.notFound], "nnrt_model_layer_info(\(m), \(i))")
            if li == Status.ok {
                if !(1...3).contains(kind) || !(1...5).contains(activation) { violated("layer kind \(kind), activation \(activation)") }
                checkedString(layerName, "layer name")
                checkedString(summary, "layer summary")
            }
        }
    }
    return f
}

/// Predictions on two zero examples through every prediction function.
func predictZeros(_ model: OpaquePointer, _ f: Facts) {
    let count = 2
    let floats = [Float](repeating: 0, count: count * f.inputSize)
    let pixels = [UInt8](repeating: 0, count: count * f.inputSize)
    var labels = [Int32](repeating: -1, count: count)
    var outputs = [Float](repeating: 0, count: count * f.classCount)
    let allowed: Set<Int32> = [Status.ok, Status.outOfMemory]
    func checkLabels(_ what: String) {
        for l in labels where l < 0 || Int(l) >= f.classCount { violated("\(what): label \(l) of \(f.classCount) classes") }
    }
    expect(nnrt_model_predict(model, floats, count, floats.count, &labels, count, &outputs, outputs.count), in: allowed,
           "nnrt_model_predict")
    checkLabels("nnrt_model_predict")
    labels = [-1, -1]
    expect(nnrt_model_predict_u8(model, pixels, count, pixels.count, &labels, count, nil, 0), in: allowed,
           "nnrt_model_predict_u8")
    checkLabels("nnrt_model_predict_u8")
    var memberLabels = [Int32](repeating: 0, count: count * f.memberCount)
    var memberOutputs = [Float](repeating: 0, count: count * f.memberCount * f.classCount)
    expect(nnrt_model_predict_members(model, floats, count, floats.count, &memberLabels, memberLabels.count,
                                      &memberOutputs, memberOutputs.count), in: allowed, "nnrt_model_predict_members")
    // A short output buffer is refused before anything runs.
    expect(nnrt_model_predict(model, floats, count, floats.count, nil, 0, &outputs, outputs.count - 1),
           in: [Status.bufferTooSmall], "nnrt_model_predict with a short buffer")

    var session: OpaquePointer?
    expect(nnrt_session_create(model, 1, &session), in: allowed, "nnrt_session_create")
    if let session {
        labels = [-1, -1]
        expect(nnrt_session_predict(session, floats, count, floats.count, &labels, count, &outputs, outputs.count),
               in: allowed, "nnrt_session_predict")
        checkLabels("nnrt_session_predict")
        expect(nnrt_session_predict_u8(session, pixels, count, pixels.count, &labels, count, nil, 0),
               in: allowed, "nnrt_session_predict_u8")
        nnrt_session_free(session)
    }

    // The model twice, re-voted by majority.
    var ensemble: OpaquePointer?
    let members: [OpaquePointer?] = [model, model]
    expect(nnrt_ensemble_create(members, 2, 1, &ensemble), in: allowed, "nnrt_ensemble_create")
    if let ensemble {
        labels = [-1, -1]
        expect(nnrt_model_predict(ensemble, floats, count, floats.count, &labels, count, &outputs, outputs.count),
               in: allowed, "nnrt_model_predict (ensemble)")
        checkLabels("nnrt_model_predict (ensemble)")
        nnrt_model_free(ensemble)
    }
}

/// For a model that takes images: a small grey digit through nnrt_model_preprocess_pixels, which
/// runs the file's image normalisation (field size, box size, centring).
func preprocessPixels(_ model: OpaquePointer, _ f: Facts) {
    let width = 12, height = 9
    var pixels = [UInt8](repeating: 250, count: width * height)
    for y in 2..<7 { for x in 4..<7 { pixels[y * width + x] = 10 } }
    var input = [Float](repeating: 0, count: f.inputSize)
    var flags: UInt32 = 0
    let st = nnrt_model_preprocess_pixels(model, pixels, width, height, 1, 1, 0, &input, input.count, &flags)
    expect(st, in: [Status.ok, Status.unsupported, Status.outOfMemory], "nnrt_model_preprocess_pixels")
    if st == Status.ok && flags & ~UInt32(7) != 0 { violated("preprocess flags \(flags)") }
}

/// Two small image files (a PGM and a PNG), as paths nnrt_session_classify_files can open:
/// created once, unlinked at once and named through /proc/self/fd, so nothing is left behind.
nonisolated(unsafe) let imageFiles: [String] = {
    var pixels = [UInt8](repeating: 240, count: 10 * 8)
    for y in 1..<7 { pixels[y * 10 + 4] = 20; pixels[y * 10 + 5] = 30 }
    let pgm = Array("P5\n10 8\n255\n".utf8) + pixels
    let png: [UInt8]
    do throws(ImageError) {
        guard let image = RawImage(width: 10, height: 8, layout: .grey, maxValue: 255, samples: .eightBit(pixels)) else {
            violated("image file: inconsistent sizes")
        }
        png = try encodePNG(image)
    } catch {
        violated("image file: \(error.message)")
    }
    return [pgm, png].map { bytes in
        var template = Array("/tmp/nnrt-fuzz-image-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { violated("cannot create a temporary image file") }
        unlink(template)
        guard bytes.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == bytes.count else {
            violated("cannot write a temporary image file")
        }
        return "/proc/self/fd/\(fd)"
    }
}()

/// For a model that takes images: nnrt_session_classify_files on two valid image files, read,
/// decoded and normalised by the file's own image contract.
func classifyFiles(_ model: OpaquePointer, _ f: Facts) {
    var session: OpaquePointer?
    guard nnrt_session_create(model, 1, &session) == Status.ok, let session else { return }
    defer { nnrt_session_free(session) }
    let resultSize = 256
    let results = UnsafeMutableRawPointer.allocate(byteCount: 2 * resultSize, alignment: 8)
    defer { results.deallocate() }
    var outputs = [Float](repeating: 0, count: 2 * f.classCount)
    let paths = imageFiles.map { strdup($0) }
    defer { paths.forEach { free($0) } }
    let cPaths = paths.map { UnsafePointer($0) }
    let status = cPaths.withUnsafeBufferPointer { p in
        nnrt_session_classify_files(session, p.baseAddress, 2, results, 2, &outputs, outputs.count)
    }
    expect(status, in: [Status.ok, Status.unsupported, Status.outOfMemory], "nnrt_session_classify_files")
    guard status == Status.ok else { return }
    for i in 0..<2 {
        let r = results + i * resultSize
        let fileStatus = r.load(as: Int32.self), label = r.load(fromByteOffset: 4, as: Int32.self)
        let message = String(cString: (r + 16).assumingMemoryBound(to: CChar.self))
        guard fileStatus == Status.ok || fileStatus == Status.outOfMemory else {
            violated("nnrt_session_classify_files: a valid image file gave \(fileStatus): \(message)")
        }
        if fileStatus == Status.ok && !(0..<Int32(f.classCount)).contains(label) {
            violated("nnrt_session_classify_files: label \(label) of \(f.classCount) classes")
        }
    }
}
