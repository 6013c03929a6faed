// The protobuf codec for nnrt model files: converts between the Swift model types (Model.swift)
// and the protoc-c structs generated from nnrt.proto. Every call into protobuf-c lives in this
// file.
//
// Encoding builds the C message tree in an arena that owns every allocation, packs it, and frees
// the arena. Decoding unpacks with protobuf-c, converts the tree to Swift types while checking
// every count, enum value and tensor size before any float is copied, frees the unpacked message,
// and finally runs `validateModel` on the result. Nothing here traps on any input.

import CModelProto

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Public API

/// Encodes a model as an nnrt model file (protobuf binary encoding of `nnrt.ModelFile`).
///
/// The model is validated first (`validateModel`), so an encoded file always loads. The file
/// carries the identifier "nnrt-model" and `file.minimumFormatVersion` (1 unless a layer is a
/// convolution or pooling layer or has dropout, then 2), whatever `file.formatVersion` says: a
/// writer stores the lowest version that describes the file, so version-1 readers keep reading
/// every file they can.
/// - Throws: `ModelError` with `.badModel` (also for counts and shapes that disagree), `.unsupportedVersion` or
///   `.unsupported` when the model is invalid, `.invalidArgument` for a value the format cannot
///   store (a string containing NUL, a count above 2^32-1), `.outOfMemory`.
public func encodeModel(_ file: ModelFile) throws(ModelError) -> [UInt8] {
    var stored = file
    stored.formatVersion = file.minimumFormatVersion
    try validateModel(stored)
    return try encodeModelUnvalidated(stored)
}

/// Raw values to write in place of the model's own, so tests can make files that the Swift types
/// cannot express (unknown enum values, a wrong identifier).
struct RawOverrides {
    var identifier: String?
    var layerKind: Int32?
    var activation: Int32?
    var polarity: Int32?
    var cost: Int32?
    var voting: Int32?
    var regularization: Int32?
    var dropBody = false
}

/// Encodes without validating: for tests that need deliberately broken files.
func encodeModelUnvalidated(_ file: ModelFile, overrides: RawOverrides = RawOverrides()) throws(ModelError) -> [UInt8] {
    let arena = CArena()
    let message = try arena.modelFile(file)
    if let id = overrides.identifier { message.pointee.identifier = try arena.string(id, "identifier") }
    if overrides.dropBody { message.pointee.body_case = NNRT__MODEL_FILE__BODY__NOT_SET }
    func patch(_ n: UnsafeMutablePointer<Nnrt__Network>) {
        if let v = overrides.cost { n.pointee.cost = Nnrt__Cost(rawValue: UInt32(bitPattern: v)) }
        if let v = overrides.polarity { n.pointee.input.pointee.polarity = Nnrt__Polarity(rawValue: UInt32(bitPattern: v)) }
        if let v = overrides.regularization, let h = n.pointee.provenance?.pointee.hyperparameters {
            h.pointee.regularization = Nnrt__Regularization(rawValue: UInt32(bitPattern: v))
        }
        for i in 0..<n.pointee.n_layers {
            guard let l = n.pointee.layers[i] else { continue }
            if let v = overrides.layerKind { l.pointee.kind = Nnrt__LayerKind(rawValue: UInt32(bitPattern: v)) }
            if let v = overrides.activation { l.pointee.activation = Nnrt__Activation(rawValue: UInt32(bitPattern: v)) }
        }
    }
    if message.pointee.body_case == NNRT__MODEL_FILE__BODY_NETWORK {
        patch(message.pointee.network)
    } else if message.pointee.body_case == NNRT__MODEL_FILE__BODY_ENSEMBLE, let e = message.pointee.ensemble {
        if let v = overrides.voting { e.pointee.voting = Nnrt__VotingRule(rawValue: UInt32(bitPattern: v)) }
        for i in 0..<e.pointee.n_members { if let m = e.pointee.members[i] { patch(m) } }
    }
    let size = nnrt__model_file__get_packed_size(message)
    var bytes = [UInt8](repeating: 0, count: size)
    let written = bytes.withUnsafeMutableBufferPointer { buffer -> Int in
        guard let base = buffer.baseAddress else { return 0 }
        return nnrt__model_file__pack(message, base)
    }
    guard written == size else {
        throw ModelError(.internal, "protobuf-c packed \(written) bytes, expected \(size)")
    }
    return bytes
}

/// Decodes and validates an nnrt model file held in memory.
///
/// Every count and shape is checked before any weight is copied; the result has passed
/// `validateModel`. Never traps, whatever the bytes.
/// - Throws: `ModelError` with `.badModel` (not protobuf, wrong identifier, inconsistent or
///   non-finite contents, shapes that disagree), `.unsupportedVersion`, `.unsupported` (a layer kind or
///   activation reserved for later format versions), `.outOfMemory`.
public func decodeModel(_ bytes: UnsafeRawBufferPointer) throws(ModelError) -> ModelFile {
    guard bytes.count > 0, let base = bytes.baseAddress else {
        throw ModelError(.badModel, "not an nnrt model file: the data is empty")
    }
    guard let message = nnrt__model_file__unpack(nil, bytes.count,
                                                  base.assumingMemoryBound(to: UInt8.self)) else {
        throw ModelError(.badModel,
                         "not an nnrt model file: \(bytes.count) bytes that do not parse as a protobuf ModelFile (corrupt or truncated?)")
    }
    defer { nnrt__model_file__free_unpacked(message, nil) }
    let file = try convertModelFile(message.pointee)
    try validateModel(file)
    return file
}

/// Decodes and validates an nnrt model file held in memory. See the `UnsafeRawBufferPointer`
/// overload.
public func decodeModel(_ bytes: [UInt8]) throws(ModelError) -> ModelFile {
    do {
        return try bytes.withUnsafeBytes { buffer in try decodeModel(buffer) }
    } catch let error as ModelError {
        throw error
    } catch {
        throw ModelError(.internal, "unexpected error: \(error)")
    }
}

// MARK: - Encoding: Swift -> protobuf-c structs

/// Owns every allocation of a C message tree under construction; frees them all on deinit.
private final class CArena {
    private var blocks: [UnsafeMutableRawPointer] = []

    deinit {
        for block in blocks { free(block) }
    }

    /// Zeroed memory for `count` values of T (at least one byte, so never NULL on success).
    func allocate<T>(_ type: T.Type, count: Int = 1) throws(ModelError) -> UnsafeMutablePointer<T> {
        let (bytes, overflow) = MemoryLayout<T>.stride.multipliedReportingOverflow(by: max(count, 1))
        guard !overflow, let raw = calloc(1, bytes) else {
            throw ModelError(.outOfMemory, "cannot allocate \(count) values while encoding")
        }
        blocks.append(raw)
        return raw.bindMemory(to: T.self, capacity: max(count, 1))
    }

    func string(_ s: String, _ what: @autoclosure () -> String) throws(ModelError) -> UnsafeMutablePointer<CChar> {
        var utf8 = Array(s.utf8)
        if utf8.contains(0) {
            throw ModelError(.invalidArgument, "\(what()) contains a NUL character, which the model format cannot store")
        }
        utf8.append(0)
        let p = try allocate(CChar.self, count: utf8.count)
        utf8.withUnsafeBytes { src in
            UnsafeMutableRawPointer(p).copyMemory(from: src.baseAddress!, byteCount: src.count)
        }
        return p
    }

    func u32(_ v: Int, _ what: @autoclosure () -> String) throws(ModelError) -> UInt32 {
        guard let u = UInt32(exactly: v) else {
            throw ModelError(.invalidArgument, "\(what()) is \(v), outside 0...\(UInt32.max)")
        }
        return u
    }

    func u32Array(_ values: [Int], _ what: String) throws(ModelError) -> (Int, UnsafeMutablePointer<UInt32>?) {
        if values.isEmpty { return (0, nil) }
        let p = try allocate(UInt32.self, count: values.count)
        for (i, v) in values.enumerated() { p[i] = try u32(v, what) }
        return (values.count, p)
    }

    func doubles(_ values: [Double]) throws(ModelError) -> (Int, UnsafeMutablePointer<Double>?) {
        if values.isEmpty { return (0, nil) }
        let p = try allocate(Double.self, count: values.count)
        values.withUnsafeBufferPointer { src in p.update(from: src.baseAddress!, count: src.count) }
        return (values.count, p)
    }

    func floats(_ values: [Float]) throws(ModelError) -> (Int, UnsafeMutablePointer<Float>?) {
        if values.isEmpty { return (0, nil) }
        let p = try allocate(Float.self, count: values.count)
        values.withUnsafeBufferPointer { src in p.update(from: src.baseAddress!, count: src.count) }
        return (values.count, p)
    }

    func pointerArray<T>(_ count: Int, _ type: T.Type) throws(ModelError) -> UnsafeMutablePointer<UnsafeMutablePointer<T>?>? {
        count == 0 ? nil : try allocate(UnsafeMutablePointer<T>?.self, count: count)
    }

    // One builder per message type.

    func modelFile(_ file: ModelFile) throws(ModelError) -> UnsafeMutablePointer<Nnrt__ModelFile> {
        let m = try allocate(Nnrt__ModelFile.self)
        nnrt__model_file__init(m)
        m.pointee.identifier = try string(FormatVersion.identifier, "identifier")
        m.pointee.format_version = file.formatVersion
        let producer = try allocate(Nnrt__Producer.self)
        nnrt__producer__init(producer)
        producer.pointee.name = try string(file.producer.name, "producer name")
        producer.pointee.version = try string(file.producer.version, "producer version")
        m.pointee.producer = producer
        m.pointee.n_metadata = file.metadata.count
        m.pointee.metadata = try pointerArray(file.metadata.count, Nnrt__MetadataEntry.self)
        for (i, entry) in file.metadata.enumerated() {
            let e = try allocate(Nnrt__MetadataEntry.self)
            nnrt__metadata_entry__init(e)
            e.pointee.key = try string(entry.key, "metadata key \(i)")
            e.pointee.value = try string(entry.value, "metadata value '\(entry.key)'")
            m.pointee.metadata[i] = e
        }
        switch file.body {
        case .network(let n):
            m.pointee.body_case = NNRT__MODEL_FILE__BODY_NETWORK
            m.pointee.network = try network(n)
        case .ensemble(let e):
            m.pointee.body_case = NNRT__MODEL_FILE__BODY_ENSEMBLE
            m.pointee.ensemble = try ensemble(e)
        }
        return m
    }

    func ensemble(_ e: EnsembleModel) throws(ModelError) -> UnsafeMutablePointer<Nnrt__Ensemble> {
        let m = try allocate(Nnrt__Ensemble.self)
        nnrt__ensemble__init(m)
        m.pointee.name = try string(e.name, "ensemble name")
        m.pointee.n_members = e.members.count
        m.pointee.members = try pointerArray(e.members.count, Nnrt__Network.self)
        for (i, member) in e.members.enumerated() { m.pointee.members[i] = try network(member) }
        m.pointee.voting = Nnrt__VotingRule(rawValue: numericCast(e.voting.rawValue))
        (m.pointee.n_evaluations, m.pointee.evaluations) = try evaluations(e.evaluations)
        return m
    }

    func network(_ n: NetworkModel) throws(ModelError) -> UnsafeMutablePointer<Nnrt__Network> {
        let m = try allocate(Nnrt__Network.self)
        nnrt__network__init(m)
        m.pointee.name = try string(n.name, "network name")
        m.pointee.n_layers = n.layers.count
        m.pointee.layers = try pointerArray(n.layers.count, Nnrt__Layer.self)
        for (i, l) in n.layers.enumerated() { m.pointee.layers[i] = try layer(l, index: i + 1) }
        m.pointee.n_class_labels = n.classLabels.count
        m.pointee.class_labels = try pointerArray(n.classLabels.count, CChar.self)
        for (i, label) in n.classLabels.enumerated() {
            m.pointee.class_labels[i] = try string(label, "class label \(i)")
        }
        let input = try allocate(Nnrt__InputContract.self)
        nnrt__input_contract__init(input)
        (input.pointee.n_shape, input.pointee.shape) = try u32Array(n.input.shape, "input shape")
        input.pointee.scale = n.input.scale
        input.pointee.offset = n.input.offset
        input.pointee.polarity = Nnrt__Polarity(rawValue: numericCast(n.input.polarity.rawValue))
        if let image = n.input.image {
            let i = try allocate(Nnrt__ImageNormalization.self)
            nnrt__image_normalization__init(i)
            i.pointee.method = Nnrt__ImageNormalizationMethod(rawValue: numericCast(image.method.rawValue))
            i.pointee.box_size = try u32(image.boxSize, "input contract: image box size")
            i.pointee.centring = Nnrt__Centring(rawValue: numericCast(image.centring.rawValue))
            input.pointee.image = i
        }
        m.pointee.input = input
        m.pointee.cost = Nnrt__Cost(rawValue: numericCast(n.cost.rawValue))
        if let p = n.provenance { m.pointee.provenance = try provenance(p) }
        (m.pointee.n_evaluations, m.pointee.evaluations) = try evaluations(n.evaluations)
        return m
    }

    func layer(_ l: Layer, index: Int) throws(ModelError) -> UnsafeMutablePointer<Nnrt__Layer> {
        let m = try allocate(Nnrt__Layer.self)
        nnrt__layer__init(m)
        let what = "layer \(index) '\(l.name)'"
        m.pointee.name = try string(l.name, "\(what) name")
        m.pointee.kind = Nnrt__LayerKind(rawValue: numericCast(l.kind.rawValue))
        (m.pointee.n_input_shape, m.pointee.input_shape) = try u32Array(l.inputShape, "\(what) input shape")
        (m.pointee.n_output_shape, m.pointee.output_shape) = try u32Array(l.outputShape, "\(what) output shape")
        m.pointee.activation = Nnrt__Activation(rawValue: numericCast(l.activation.rawValue))
        // Layers without parameters (max_pool2d) store no tensors at all.
        if !(l.weights.shape.isEmpty && l.weights.data.isEmpty) {
            m.pointee.weights = try tensor(l.weights, "\(what) weights")
        }
        if !(l.bias.shape.isEmpty && l.bias.data.isEmpty) {
            m.pointee.bias = try tensor(l.bias, "\(what) bias")
        }
        (m.pointee.n_pool_shape, m.pointee.pool_shape) = try u32Array(l.poolShape, "\(what) pool shape")
        m.pointee.dropout = l.dropout
        return m
    }

    func tensor(_ t: Tensor, _ what: String) throws(ModelError) -> UnsafeMutablePointer<Nnrt__Tensor> {
        let m = try allocate(Nnrt__Tensor.self)
        nnrt__tensor__init(m)
        (m.pointee.n_shape, m.pointee.shape) = try u32Array(t.shape, "\(what) shape")
        (m.pointee.n_data, m.pointee.data) = try floats(t.data)
        return m
    }

    func provenance(_ p: Provenance) throws(ModelError) -> UnsafeMutablePointer<Nnrt__Provenance> {
        let m = try allocate(Nnrt__Provenance.self)
        nnrt__provenance__init(m)
        m.pointee.dataset = try string(p.dataset, "provenance dataset")
        m.pointee.training_split = try string(p.trainingSplit, "provenance training split")
        m.pointee.evaluation_split = try string(p.evaluationSplit, "provenance evaluation split")
        if let h = p.hyperparameters {
            let hm = try allocate(Nnrt__Hyperparameters.self)
            nnrt__hyperparameters__init(hm)
            (hm.pointee.n_sizes, hm.pointee.sizes) = try u32Array(h.sizes, "hyper-parameter sizes")
            hm.pointee.cost = Nnrt__Cost(rawValue: numericCast(h.cost.rawValue))
            hm.pointee.eta = h.eta
            hm.pointee.lambda = h.lambda
            hm.pointee.mini_batch_size = try u32(h.miniBatchSize, "mini-batch size")
            hm.pointee.epochs = try u32(h.epochs, "epochs")
            hm.pointee.weight_init = Nnrt__WeightInit(rawValue: numericCast(h.weightInit.rawValue))
            hm.pointee.training_examples = try u32(h.trainingExamples, "training examples")
            hm.pointee.regularization = Nnrt__Regularization(rawValue: numericCast(h.regularization.rawValue))
            hm.pointee.momentum = h.momentum
            hm.pointee.schedule_patience = try u32(h.schedulePatience, "schedule patience")
            hm.pointee.schedule_factor = h.scheduleFactor
            hm.pointee.schedule_stop_fraction = h.scheduleStopFraction
            hm.pointee.early_stopping_patience = try u32(h.earlyStoppingPatience, "early-stopping patience")
            hm.pointee.expansion = try string(h.expansion, "hyper-parameter expansion")
            hm.pointee.architecture = try string(h.architecture, "hyper-parameter architecture")
            m.pointee.hyperparameters = hm
        }
        m.pointee.seed = p.seed
        m.pointee.n_epochs = p.epochs.count
        m.pointee.epochs = try pointerArray(p.epochs.count, Nnrt__EpochMetrics.self)
        for (i, e) in p.epochs.enumerated() {
            let em = try allocate(Nnrt__EpochMetrics.self)
            nnrt__epoch_metrics__init(em)
            em.pointee.epoch = try u32(e.epoch, "epoch number")
            if let t = e.training { em.pointee.training = try splitMetrics(t) }
            if let v = e.evaluation { em.pointee.evaluation = try splitMetrics(v) }
            em.pointee.seconds = e.seconds
            em.pointee.eta = e.eta ?? 0
            (em.pointee.n_gradient_norms, em.pointee.gradient_norms) = try doubles(e.gradientNorms)
            if let t = e.test { em.pointee.test = try splitMetrics(t) }
            m.pointee.epochs[i] = em
        }
        (m.pointee.n_initial_gradient_norms, m.pointee.initial_gradient_norms) = try doubles(p.initialGradientNorms)
        if let s = p.selectedEpoch { m.pointee.selected_epoch = try u32(s, "selected epoch") }
        m.pointee.created_at = try string(p.createdAt, "provenance created_at")
        m.pointee.command = try string(p.command, "provenance command")
        m.pointee.preset = try string(p.preset, "provenance preset")
        m.pointee.imported_from = try string(p.importedFrom, "provenance imported_from")
        return m
    }

    func splitMetrics(_ s: SplitMetrics) throws(ModelError) -> UnsafeMutablePointer<Nnrt__SplitMetrics> {
        let m = try allocate(Nnrt__SplitMetrics.self)
        nnrt__split_metrics__init(m)
        m.pointee.total = try u32(s.total, "metrics total")
        if let c = s.cost {
            m.pointee.cost_measured = 1
            m.pointee.cost = c
        }
        if let c = s.correct {
            m.pointee.accuracy_measured = 1
            m.pointee.correct = try u32(c, "metrics correct")
        }
        return m
    }

    func evaluations(_ list: [Evaluation]) throws(ModelError) -> (Int, UnsafeMutablePointer<UnsafeMutablePointer<Nnrt__Evaluation>?>?) {
        let array = try pointerArray(list.count, Nnrt__Evaluation.self)
        for (i, e) in list.enumerated() {
            let m = try allocate(Nnrt__Evaluation.self)
            nnrt__evaluation__init(m)
            m.pointee.dataset = try string(e.dataset, "evaluation dataset")
            m.pointee.metrics = try splitMetrics(e.metrics)
            array?[i] = m
        }
        return (list.count, array)
    }
}

// MARK: - Decoding: protobuf-c structs -> Swift

/// A C string from an unpacked message (protobuf-c never leaves string fields NULL, but be safe).
private func str(_ p: UnsafeMutablePointer<CChar>?) -> String {
    guard let p else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)
}

/// The i-th element of a repeated message field, or an error if protobuf-c left it NULL.
private func element<T>(_ array: UnsafeMutablePointer<UnsafeMutablePointer<T>?>?, _ count: Int, _ i: Int,
                        _ what: @autoclosure () -> String) throws(ModelError) -> T {
    guard let array, i < count, let p = array[i] else {
        throw ModelError(.badModel, "\(what()) is missing")
    }
    return p.pointee
}

private func dims(_ p: UnsafeMutablePointer<UInt32>?, _ n: Int) -> [Int] {
    guard let p, n > 0 else { return [] }
    return (0..<n).map { Int(p[$0]) }
}

/// The product of `dims` (1 for none); nil if one is negative or the product overflows.
public func checkedProduct(_ dims: [Int]) -> Int? {
    var product = 1
    for d in dims {
        guard d >= 0 else { return nil }
        let (p, overflow) = product.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        product = p
    }
    return product
}

/// Converts a protobuf enum value; 0 (unspecified) and unknown values are bad-model errors, and
/// values in `reserved` (kept for later format versions) are unsupported.
private func enumValue<E: RawRepresentable>(_ raw: UInt32, _ type: E.Type, _ what: @autoclosure () -> String,
                                            reserved: ClosedRange<Int32>? = nil) throws(ModelError) -> E
where E.RawValue == Int32 {
    let value = Int32(bitPattern: raw)
    if let e = E(rawValue: value), value != 0 { return e }
    if value == 0 { throw ModelError(.badModel, "\(what()) is unspecified (0)") }
    if let reserved, reserved.contains(value) {
        throw ModelError(.unsupported,
                         "\(what()) \(value) is reserved for a later format version and not supported by this version (\(NNRTVersion.string))")
    }
    throw ModelError(.badModel, "\(what()) has unknown value \(value)")
}

private func convertModelFile(_ m: Nnrt__ModelFile) throws(ModelError) -> ModelFile {
    let identifier = str(m.identifier)
    guard identifier == FormatVersion.identifier else {
        let shown = identifier.count > 40 ? String(identifier.prefix(40)) + "..." : identifier
        throw ModelError(.badModel,
                         "not an nnrt model file: identifier is '\(shown)', expected '\(FormatVersion.identifier)'")
    }
    guard m.format_version != 0 else {
        throw ModelError(.badModel, "not an nnrt model file: it has no format_version (truncated?)")
    }
    try checkFormatVersion(m.format_version)
    var producer = Producer(name: "", version: "")
    if let p = m.producer {
        producer = Producer(name: str(p.pointee.name), version: str(p.pointee.version))
    }
    var metadata: [(key: String, value: String)] = []
    metadata.reserveCapacity(m.n_metadata)
    for i in 0..<m.n_metadata {
        let e = try element(m.metadata, m.n_metadata, i, "metadata entry \(i)")
        metadata.append((key: str(e.key), value: str(e.value)))
    }
    let body: ModelBody
    switch m.body_case {
    case NNRT__MODEL_FILE__BODY_NETWORK:
        guard let n = m.network else { throw ModelError(.badModel, "the model file has no network or ensemble") }
        body = .network(try convertNetwork(n.pointee, context: ""))
    case NNRT__MODEL_FILE__BODY_ENSEMBLE:
        guard let e = m.ensemble else { throw ModelError(.badModel, "the model file has no network or ensemble") }
        body = .ensemble(try convertEnsemble(e.pointee))
    default:
        throw ModelError(.badModel, "the model file has no network or ensemble (body is missing)")
    }
    return ModelFile(formatVersion: m.format_version, producer: producer, metadata: metadata, body: body)
}

func checkFormatVersion(_ v: UInt32) throws(ModelError) {
    guard v >= FormatVersion.oldestReadable && v <= FormatVersion.newestReadable else {
        let supported = FormatVersion.oldestReadable == FormatVersion.newestReadable
            ? "version \(FormatVersion.oldestReadable)"
            : "versions \(FormatVersion.oldestReadable) to \(FormatVersion.newestReadable)"
        throw ModelError(.unsupportedVersion,
                         "model format version \(v) is not supported; this nnrt (\(NNRTVersion.string)) reads format \(supported)")
    }
}

private func convertEnsemble(_ e: Nnrt__Ensemble) throws(ModelError) -> EnsembleModel {
    let name = str(e.name)
    guard e.n_members > 0 else { throw ModelError(.badModel, "ensemble '\(name)' has no members") }
    var members: [NetworkModel] = []
    members.reserveCapacity(e.n_members)
    for i in 0..<e.n_members {
        let n = try element(e.members, e.n_members, i, "ensemble '\(name)': member \(i + 1)")
        members.append(try convertNetwork(n, context: "member \(i + 1) '\(str(n.name))': "))
    }
    let voting = try enumValue(e.voting.rawValue, VotingRule.self, "ensemble '\(name)': voting rule")
    return EnsembleModel(name: name, members: members, voting: voting,
                         evaluations: try convertEvaluations(e.evaluations, e.n_evaluations))
}

private func convertNetwork(_ n: Nnrt__Network, context: String) throws(ModelError) -> NetworkModel {
    let name = str(n.name)
    guard n.n_layers > 0 else { throw ModelError(.badModel, "\(context)network '\(name)' has no layers") }
    // Structure first: every layer's kind, activation, shapes and tensor sizes, before any weight
    // is copied.
    for i in 0..<n.n_layers {
        let l = try element(n.layers, n.n_layers, i, "\(context)layer \(i + 1)")
        let what = "\(context)layer \(i + 1) '\(str(l.name))'"
        let kind = try enumValue(l.kind.rawValue, LayerKind.self, "\(what): layer kind", reserved: 4...15)
        _ = try enumValue(l.activation.rawValue, Activation.self, "\(what): activation", reserved: 6...15)
        for (tensor, label) in [(l.weights, "weights"), (l.bias, "bias")] {
            if kind == .maxPool2d {
                // No parameters: the tensor is absent, or present but empty.
                if let t = tensor, t.pointee.n_shape != 0 || t.pointee.n_data != 0 {
                    throw ModelError(.badModel,
                                     "\(what): a max_pool2d layer has no \(label), but the file stores a \(label) tensor of shape \(dims(t.pointee.shape, t.pointee.n_shape)) with \(t.pointee.n_data) floats")
                }
                continue
            }
            guard let t = tensor else { throw ModelError(.badModel, "\(what): \(label) tensor is missing") }
            let shape = dims(t.pointee.shape, t.pointee.n_shape)
            guard let needed = checkedProduct(shape) else {
                throw ModelError(.badModel, "\(what): \(label) shape \(shape) overflows")
            }
            guard needed == t.pointee.n_data else {
                throw ModelError(.badModel,
                                 "\(what): \(label) hold \(t.pointee.n_data) floats, shape \(shape) needs \(needed)")
            }
        }
    }
    var layers: [Layer] = []
    layers.reserveCapacity(n.n_layers)
    for i in 0..<n.n_layers {
        let l = try element(n.layers, n.n_layers, i, "\(context)layer \(i + 1)")
        let what = "\(context)layer \(i + 1) '\(str(l.name))'"
        layers.append(Layer(
            name: str(l.name),
            kind: try enumValue(l.kind.rawValue, LayerKind.self, "\(what): layer kind", reserved: 4...15),
            inputShape: dims(l.input_shape, l.n_input_shape),
            outputShape: dims(l.output_shape, l.n_output_shape),
            activation: try enumValue(l.activation.rawValue, Activation.self, "\(what): activation", reserved: 6...15),
            weights: tensor(l.weights),
            bias: tensor(l.bias),
            poolShape: dims(l.pool_shape, l.n_pool_shape),
            dropout: l.dropout))
    }
    var labels: [String] = []
    labels.reserveCapacity(n.n_class_labels)
    if n.n_class_labels > 0 {
        guard let array = n.class_labels else { throw ModelError(.badModel, "\(context)class labels are missing") }
        for i in 0..<n.n_class_labels { labels.append(str(array[i])) }
    }
    guard let input = n.input?.pointee else {
        throw ModelError(.badModel, "\(context)network '\(name)' has no input contract")
    }
    var image: ImageNormalization?
    if let i = input.image?.pointee {
        image = ImageNormalization(
            method: try enumValue(i.method.rawValue, ImageNormalization.Method.self, "\(context)input contract: image method",
                              reserved: 2...Int32.max),
            boxSize: Int(i.box_size),
            centring: try enumValue(i.centring.rawValue, ImageNormalization.Centring.self, "\(context)input contract: image centring",
                                reserved: 3...Int32.max))
    }
    let contract = InputContract(
        shape: dims(input.shape, input.n_shape), scale: input.scale, offset: input.offset,
        polarity: try enumValue(input.polarity.rawValue, Polarity.self, "\(context)input contract: polarity"),
        image: image)
    let cost = try enumValue(n.cost.rawValue, CostKind.self, "\(context)network '\(name)': cost")
    var provenance: Provenance?
    if let p = n.provenance?.pointee { provenance = try convertProvenance(p, context: context) }
    return NetworkModel(name: name, layers: layers, classLabels: labels, input: contract, cost: cost,
                        provenance: provenance,
                        evaluations: try convertEvaluations(n.evaluations, n.n_evaluations))
}

private func floatArray(_ p: UnsafeMutablePointer<Float>?, _ n: Int) -> [Float] {
    guard let p, n > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: p, count: n))
}

private func doubleArray(_ p: UnsafeMutablePointer<Double>?, _ n: Int) -> [Double] {
    guard let p, n > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: p, count: n))
}

/// A tensor from an unpacked message; an absent tensor is the empty one (shape [], no data).
private func tensor(_ t: UnsafeMutablePointer<Nnrt__Tensor>?) -> Tensor {
    guard let t else { return Tensor(shape: [], data: []) }
    return Tensor(shape: dims(t.pointee.shape, t.pointee.n_shape), data: floatArray(t.pointee.data, t.pointee.n_data))
}

private func convertProvenance(_ p: Nnrt__Provenance, context: String) throws(ModelError) -> Provenance {
    var out = Provenance()
    out.dataset = str(p.dataset)
    out.trainingSplit = str(p.training_split)
    out.evaluationSplit = str(p.evaluation_split)
    if let h = p.hyperparameters?.pointee {
        out.hyperparameters = Hyperparameters(
            sizes: dims(h.sizes, h.n_sizes),
            cost: try enumValue(h.cost.rawValue, CostKind.self, "\(context)provenance: hyper-parameter cost"),
            eta: h.eta, lambda: h.lambda,
            miniBatchSize: Int(h.mini_batch_size), epochs: Int(h.epochs),
            weightInit: try enumValue(h.weight_init.rawValue, WeightInit.self, "\(context)provenance: weight init"),
            trainingExamples: Int(h.training_examples),
            // Unspecified (version-1 files) is read as L2, the only norm version 1 knew.
            regularization: h.regularization.rawValue == 0
                ? .l2 : try enumValue(h.regularization.rawValue, Regularization.self, "\(context)provenance: regularization"),
            momentum: h.momentum,
            schedulePatience: Int(h.schedule_patience),
            scheduleFactor: h.schedule_factor,
            scheduleStopFraction: h.schedule_stop_fraction,
            earlyStoppingPatience: Int(h.early_stopping_patience),
            expansion: str(h.expansion),
            architecture: str(h.architecture))
    }
    out.seed = p.seed
    for i in 0..<p.n_epochs {
        let e = try element(p.epochs, p.n_epochs, i, "\(context)provenance: epoch \(i + 1)")
        out.epochs.append(EpochMetrics(epoch: Int(e.epoch), training: e.training.map { convertSplit($0.pointee) },
                                       evaluation: e.evaluation.map { convertSplit($0.pointee) },
                                       seconds: e.seconds,
                                       eta: e.eta == 0 ? nil : e.eta,
                                       gradientNorms: doubleArray(e.gradient_norms, e.n_gradient_norms),
                                       test: e.test.map { convertSplit($0.pointee) }))
    }
    out.initialGradientNorms = doubleArray(p.initial_gradient_norms, p.n_initial_gradient_norms)
    out.selectedEpoch = p.selected_epoch == 0 ? nil : Int(p.selected_epoch)
    out.createdAt = str(p.created_at)
    out.command = str(p.command)
    out.preset = str(p.preset)
    out.importedFrom = str(p.imported_from)
    return out
}

private func convertSplit(_ s: Nnrt__SplitMetrics) -> SplitMetrics {
    SplitMetrics(total: Int(s.total), cost: s.cost_measured != 0 ? s.cost : nil,
                 correct: s.accuracy_measured != 0 ? Int(s.correct) : nil)
}

private func convertEvaluations(_ array: UnsafeMutablePointer<UnsafeMutablePointer<Nnrt__Evaluation>?>?,
                                _ count: Int) throws(ModelError) -> [Evaluation] {
    var out: [Evaluation] = []
    for i in 0..<count {
        let e = try element(array, count, i, "evaluation \(i + 1)")
        out.append(Evaluation(dataset: str(e.dataset),
                              metrics: e.metrics.map { convertSplit($0.pointee) } ?? SplitMetrics(total: 0)))
    }
    return out
}
