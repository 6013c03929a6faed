// The C ABI of libnnrt (Include/nnrt.h). Every `@_cdecl` export lives in this file, and each is
// thin: check pointers, sizes and overflow, call the Swift API (Model.swift, Inference.swift),
// and map errors to a status through `fail`, which records the calling thread's last error
// message. Nothing reachable from here traps on caller input: no force unwraps, no
// preconditions, no unchecked arithmetic on caller sizes.
//
// Handles are `Unmanaged<Model>` pointers: `nnrt_model_load` passes a retained reference out,
// `nnrt_model_free` releases it. Strings handed out are owned by the model (`CStrings`) or are
// static.

import NNKernels
import NNModel
import NNImaging

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Status and last error

/// The calling thread's last error message: a malloc'ed C string per thread, replaced (and the
/// old one freed) by the next failure on that thread, freed when the thread exits.
private let lastErrorKey: pthread_key_t? = {
    var key = pthread_key_t()
    guard pthread_key_create(&key, { free($0) }) == 0 else { return nil }
    return key
}()

private func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// Records `message` as this thread's last error and returns `code`'s status value.
private func fail(_ code: StatusCode, _ message: String) -> Int32 {
    if let key = lastErrorKey {
        let old = pthread_getspecific(key)
        let new = strdup(message)   // NULL on allocation failure: reported as "" below
        pthread_setspecific(key, new)
        free(old)
    }
    return code.rawValue
}

private func fail(_ error: ModelError) -> Int32 {
    fail(error.code, error.message)
}

private let ok = StatusCode.ok.rawValue

// MARK: - Handles

/// The object behind one `nnrt_model *`: each load or ensemble gives the caller a new one, which
/// `nnrt_model_free` releases. The model itself may live on (a session holds it), but the handle
/// object is gone, so later use of a freed handle can usually be recognised (`object(_:_:)`).
final class ModelHandle: Sendable {
    let model: Model
    init(_ model: Model) { self.model = model }
}

/// The live Swift object of type `T` at `handle`, or nil if `handle` is NULL or not one.
///
/// Every Swift object starts with a pointer to its class's metadata. A handle must be aligned,
/// above the first page, and start with `T`'s metadata: that rejects NULL, small integers, odd
/// pointers, a handle of the other type (a session passed as a model), a pointer to anything
/// else, and, in practice, a freed handle (the allocator reuses the first word of a freed block;
/// with glibc that is always so). It cannot catch every stray pointer: one into unmapped memory
/// still faults, and a freed block reused for a new handle of the same type looks live.
@inline(__always)
private func object<T: AnyObject>(_ handle: OpaquePointer?, _ type: T.Type) -> T? {
    guard let handle else { return nil }
    let raw = UnsafeRawPointer(handle)
    let address = UInt(bitPattern: raw)
    guard address >= 4096, address % UInt(MemoryLayout<UInt>.alignment) == 0 else { return nil }
    guard raw.load(as: UInt.self) == unsafeBitCast(type, to: UInt.self) else { return nil }
    return Unmanaged<T>.fromOpaque(raw).takeUnretainedValue()
}

private func unwrap(_ handle: OpaquePointer?) -> Model? {
    object(handle, ModelHandle.self)?.model
}

private func handle(_ model: Model) -> OpaquePointer {
    OpaquePointer(Unmanaged.passRetained(ModelHandle(model)).toOpaque())
}

/// The message for a model or session argument that `object` rejected.
private func invalidHandle(_ function: String, _ name: String, _ handle: OpaquePointer?, _ type: String) -> Int32 {
    guard handle != nil else { return fail(.invalidArgument, "\(function): \(name) is NULL") }
    return fail(.invalidArgument,
                "\(function): \(name) is not a live \(type) handle (freed already, a handle of another type, or a stray pointer): pass the handle that \(type == "nnrt_model" ? "nnrt_model_load or nnrt_ensemble_create" : "nnrt_session_create") gave you")
}

/// A caller's (pointer, length) pair as an optional buffer: NULL with length 0 means "not
/// requested"; NULL with a non-zero length is an invalid argument.
private func buffer<T>(_ p: UnsafeMutablePointer<T>?, _ length: Int, _ name: String) throws(ModelError) -> UnsafeMutableBufferPointer<T>? {
    guard let p else {
        if length != 0 { throw ModelError(.invalidArgument, "\(name) is NULL but \(name)_len is \(length)") }
        return nil
    }
    guard length >= 0 else { throw ModelError(.invalidArgument, "\(name)_len is too large: \(tooLarge(length))") }
    return UnsafeMutableBufferPointer(start: p, count: length)
}

/// The reason a size_t above Int.max (seen here as a negative Int) is refused.
private func tooLarge(_ n: Int) -> String {
    "\(UInt(bitPattern: n)) is above SIZE_MAX / 2 (a negative number converted to size_t?)"
}

/// Sizes arrive as size_t and are seen here as Int; values above Int.max are negative.
/// `name` is only built when the size is refused (a predict call makes no string otherwise).
private func size(_ n: Int, _ name: @autoclosure () -> String) throws(ModelError) -> Int {
    guard n >= 0 else { throw ModelError(.invalidArgument, "\(name()) is too large: \(tooLarge(n))") }
    return n
}

// MARK: - Versions

@_cdecl("nnrt_version_string")
public func nnrt_version_string() -> UnsafePointer<CChar> {
    cString("0.3.0")
}

@_cdecl("nnrt_kernel_build")
public func nnrt_kernel_build() -> UnsafePointer<CChar> {
    switch Kernels.active.name {
    case "avx2-fma": return cString("avx2-fma")
    default: return cString("generic")
    }
}

@_cdecl("nnrt_abi_version")
public func nnrt_abi_version() -> UInt32 {
    1
}

@_cdecl("nnrt_supported_format_versions")
public func nnrt_supported_format_versions(_ oldest: UnsafeMutablePointer<UInt32>?,
                                           _ newest: UnsafeMutablePointer<UInt32>?) {
    oldest?.pointee = FormatVersion.oldestReadable
    newest?.pointee = FormatVersion.newestReadable
}

// MARK: - Status codes and errors

@_cdecl("nnrt_status_string")
public func nnrt_status_string(_ status: Int32) -> UnsafePointer<CChar> {
    guard let code = StatusCode(rawValue: status) else { return cString("unknown status") }
    switch code {
    case .ok: return cString("ok")
    case .invalidArgument: return cString("invalid argument")
    case .io: return cString("I/O error")
    case .badModel: return cString("bad model")
    case .unsupportedVersion: return cString("unsupported model format version")
    case .shapeMismatch: return cString("shape mismatch")
    case .bufferTooSmall: return cString("buffer too small")
    case .outOfMemory: return cString("out of memory")
    case .imageDecode: return cString("image decode error")
    case .internal: return cString("internal error")
    case .unsupported: return cString("unsupported feature")
    case .notFound: return cString("not found")
    case .imageFormat: return cString("not a supported image format")
    case .imageTooLarge: return cString("image too large")
    }
}

@_cdecl("nnrt_last_error_message")
public func nnrt_last_error_message() -> UnsafePointer<CChar> {
    guard let key = lastErrorKey, let p = pthread_getspecific(key) else { return cString("") }
    return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
}

// MARK: - Models

@_cdecl("nnrt_model_load")
public func nnrt_model_load(_ path: UnsafePointer<CChar>?, _ outModel: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    outModel?.pointee = nil
    guard let outModel else { return fail(.invalidArgument, "nnrt_model_load: out_model is NULL") }
    guard let path else { return fail(.invalidArgument, "nnrt_model_load: path is NULL") }
    do {
        outModel.pointee = handle(try Model.load(cPath: path))
        return ok
    } catch {
        return fail(error)
    }
}

@_cdecl("nnrt_model_load_from_memory")
public func nnrt_model_load_from_memory(_ data: UnsafeRawPointer?, _ size: Int,
                                        _ outModel: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    outModel?.pointee = nil
    guard let outModel else { return fail(.invalidArgument, "nnrt_model_load_from_memory: out_model is NULL") }
    guard let data else { return fail(.invalidArgument, "nnrt_model_load_from_memory: data is NULL") }
    guard size > 0 else {
        return fail(.invalidArgument, "nnrt_model_load_from_memory: size is \(size == 0 ? "0: pass the number of bytes at data" : "too large: \(tooLarge(size))")")
    }
    do {
        outModel.pointee = handle(try Model.load(bytes: UnsafeRawBufferPointer(start: data, count: size)))
        return ok
    } catch {
        return fail(error)
    }
}

@_cdecl("nnrt_model_free")
public func nnrt_model_free(_ model: OpaquePointer?) {
    // NULL and anything that is not a live model handle (e.g. one freed already) are ignored.
    guard let box = object(model, ModelHandle.self) else { return }
    Unmanaged.passUnretained(box).release()
}

@_cdecl("nnrt_ensemble_create")
public func nnrt_ensemble_create(_ members: UnsafePointer<OpaquePointer?>?, _ memberCount: Int, _ rule: Int32,
                                 _ outModel: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    outModel?.pointee = nil
    guard let outModel else { return fail(.invalidArgument, "nnrt_ensemble_create: out_model is NULL") }
    guard let members else { return fail(.invalidArgument, "nnrt_ensemble_create: members is NULL") }
    guard memberCount > 0 else {
        return fail(.invalidArgument, "nnrt_ensemble_create: member_count is \(memberCount == 0 ? "0: an ensemble needs at least one member" : "too large: \(tooLarge(memberCount))")")
    }
    guard let voting = VotingRule(rawValue: rule) else {
        return fail(.invalidArgument,
                    "nnrt_ensemble_create: unknown voting rule \(rule) (use NNRT_VOTING_MAJORITY or NNRT_VOTING_MEAN_PROBABILITY)")
    }
    var models: [Model] = []
    for i in 0..<memberCount {
        guard let m = unwrap(members[i]) else {
            return invalidHandle("nnrt_ensemble_create", "members[\(i)]", members[i], "nnrt_model")
        }
        models.append(m)
    }
    do {
        outModel.pointee = handle(try Model(ensembleOf: models, voting: voting))
        return ok
    } catch {
        return fail(error)
    }
}

// MARK: - Introspection

private func invalidModel(_ function: String, _ model: OpaquePointer?) -> Int32 {
    invalidHandle(function, "model", model, "nnrt_model")
}

private func invalidSession(_ function: String, _ session: OpaquePointer?) -> Int32 {
    invalidHandle(function, "session", session, "nnrt_session")
}

private func nullOut(_ function: String, _ name: String) -> Int32 {
    fail(.invalidArgument, "\(function): \(name) is NULL")
}

@_cdecl("nnrt_model_input_size")
public func nnrt_model_input_size(_ model: OpaquePointer?, _ outSize: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_input_size", model) }
    guard let outSize else { return nullOut("nnrt_model_input_size", "out_size") }
    outSize.pointee = m.inputSize
    return ok
}

@_cdecl("nnrt_model_input_shape")
public func nnrt_model_input_shape(_ model: OpaquePointer?, _ dims: UnsafeMutablePointer<Int>?, _ capacity: Int,
                                   _ outRank: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_input_shape", model) }
    guard let outRank else { return nullOut("nnrt_model_input_shape", "out_rank") }
    if dims == nil && capacity != 0 {
        return fail(.invalidArgument, "nnrt_model_input_shape: dims is NULL but capacity is \(UInt(bitPattern: capacity))")
    }
    let shape = m.input.shape
    outRank.pointee = shape.count
    // A capacity above Int.max arrives negative: it is plenty.
    guard let dims, capacity < 0 || capacity >= shape.count else {
        return fail(.bufferTooSmall,
                    "nnrt_model_input_shape: dims holds \(capacity) values; \(shape.count) needed (the input rank)")
    }
    for (i, d) in shape.enumerated() { dims[i] = d }
    return ok
}

@_cdecl("nnrt_model_input_contract")
public func nnrt_model_input_contract(_ model: OpaquePointer?, _ outScale: UnsafeMutablePointer<Float>?,
                                      _ outOffset: UnsafeMutablePointer<Float>?,
                                      _ outPolarity: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_input_contract", model) }
    outScale?.pointee = m.input.scale
    outOffset?.pointee = m.input.offset
    outPolarity?.pointee = m.input.polarity.rawValue
    return ok
}

@_cdecl("nnrt_model_class_count")
public func nnrt_model_class_count(_ model: OpaquePointer?, _ outCount: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_class_count", model) }
    guard let outCount else { return nullOut("nnrt_model_class_count", "out_count") }
    outCount.pointee = m.classCount
    return ok
}

@_cdecl("nnrt_model_class_label")
public func nnrt_model_class_label(_ model: OpaquePointer?, _ index: Int,
                                   _ outLabel: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    outLabel?.pointee = nil
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_class_label", model) }
    guard let outLabel else { return nullOut("nnrt_model_class_label", "out_label") }
    let labels = m.cStrings.labels
    guard index >= 0, index < labels.count else {
        return fail(.notFound, "nnrt_model_class_label: index \(UInt(bitPattern: index)) is not below the class count \(labels.count)")
    }
    outLabel.pointee = labels[index]
    return ok
}

@_cdecl("nnrt_model_member_count")
public func nnrt_model_member_count(_ model: OpaquePointer?, _ outCount: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_member_count", model) }
    guard let outCount else { return nullOut("nnrt_model_member_count", "out_count") }
    outCount.pointee = m.members.count
    return ok
}

@_cdecl("nnrt_model_voting")
public func nnrt_model_voting(_ model: OpaquePointer?, _ outRule: UnsafeMutablePointer<Int32>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_voting", model) }
    guard let outRule else { return nullOut("nnrt_model_voting", "out_rule") }
    outRule.pointee = m.voting.rawValue
    return ok
}

@_cdecl("nnrt_model_format_version")
public func nnrt_model_format_version(_ model: OpaquePointer?, _ outVersion: UnsafeMutablePointer<UInt32>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_format_version", model) }
    guard let outVersion else { return nullOut("nnrt_model_format_version", "out_version") }
    outVersion.pointee = m.formatVersion
    return ok
}

@_cdecl("nnrt_model_producer")
public func nnrt_model_producer(_ model: OpaquePointer?, _ outName: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                _ outVersion: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_producer", model) }
    outName?.pointee = m.cStrings.producerName
    outVersion?.pointee = m.cStrings.producerVersion
    return ok
}

@_cdecl("nnrt_model_name")
public func nnrt_model_name(_ model: OpaquePointer?, _ outName: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_name", model) }
    guard let outName else { return nullOut("nnrt_model_name", "out_name") }
    outName.pointee = m.cStrings.name
    return ok
}

@_cdecl("nnrt_model_metadata_count")
public func nnrt_model_metadata_count(_ model: OpaquePointer?, _ outCount: UnsafeMutablePointer<Int>?) -> Int32 {
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_metadata_count", model) }
    guard let outCount else { return nullOut("nnrt_model_metadata_count", "out_count") }
    outCount.pointee = m.metadata.count
    return ok
}

@_cdecl("nnrt_model_metadata_entry")
public func nnrt_model_metadata_entry(_ model: OpaquePointer?, _ index: Int,
                                      _ outKey: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                      _ outValue: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    outKey?.pointee = nil
    outValue?.pointee = nil
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_metadata_entry", model) }
    guard outKey != nil || outValue != nil else {
        return fail(.invalidArgument, "nnrt_model_metadata_entry: out_key and out_value are both NULL")
    }
    let keys = m.cStrings.metadataKeys, values = m.cStrings.metadataValues
    guard index >= 0, index < keys.count, index < values.count else {
        return fail(.notFound,
                    "nnrt_model_metadata_entry: index \(UInt(bitPattern: index)) is not below the entry count \(keys.count)")
    }
    outKey?.pointee = keys[index]
    outValue?.pointee = values[index]
    return ok
}

@_cdecl("nnrt_model_metadata_get")
public func nnrt_model_metadata_get(_ model: OpaquePointer?, _ key: UnsafePointer<CChar>?,
                                    _ outValue: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    outValue?.pointee = nil
    guard let m = unwrap(model) else { return invalidModel("nnrt_model_metadata_get", model) }
    guard let key else { return nullOut("nnrt_model_metadata_get", "key") }
    guard let outValue else { return nullOut("nnrt_model_metadata_get", "out_value") }
    let keys = m.cStrings.metadataKeys, values = m.cStrings.metadataValues
    for i in 0..<min(keys.count, values.count) where strcmp(keys[i], key) == 0 {
        outValue.pointee = values[i]
        return ok
    }
    return fail(.notFound, "nnrt_model_metadata_get: no metadata entry with key '\(String(cString: key))'")
}

@_cdecl("nnrt_model_layer_count")
public func nnrt_model_layer_count(_ model: OpaquePointer?, _ member: Int, _ outCount: UnsafeMutablePointer<Int>?) -> Int32 {
    let function = "nnrt_model_layer_count"
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    guard let outCount else { return nullOut(function, "out_count") }
    guard member >= 0, member < m.members.count else {
        return fail(.notFound, "\(function): member \(UInt(bitPattern: member)) is not below the member count \(m.members.count)")
    }
    outCount.pointee = m.members[member].layerInfo.count
    return ok
}

@_cdecl("nnrt_model_layer_info")
public func nnrt_model_layer_info(_ model: OpaquePointer?, _ member: Int, _ index: Int,
                                  _ outKind: UnsafeMutablePointer<Int32>?, _ outActivation: UnsafeMutablePointer<Int32>?,
                                  _ outName: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                  _ outSummary: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    let function = "nnrt_model_layer_info"
    outKind?.pointee = 0
    outActivation?.pointee = 0
    outName?.pointee = nil
    outSummary?.pointee = nil
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    guard member >= 0, member < m.members.count, member < m.cStrings.layers.count else {
        return fail(.notFound, "\(function): member \(UInt(bitPattern: member)) is not below the member count \(m.members.count)")
    }
    let info = m.members[member].layerInfo
    let strings = m.cStrings.layers[member]
    guard index >= 0, index < info.count, index < strings.count else {
        return fail(.notFound,
                    "\(function): layer \(UInt(bitPattern: index)) is not below member \(member)'s layer count \(info.count)")
    }
    outKind?.pointee = info[index].kind.rawValue
    outActivation?.pointee = info[index].activation.rawValue
    outName?.pointee = strings[index].name
    outSummary?.pointee = strings[index].summary
    return ok
}

// MARK: - Inference

/// The shared body of the four predict functions: checks the sizes and the optional output
/// buffers, runs `predict`, and turns its error into a status with the function's name.
private func predictCall<Element>(_ function: String, _ data: UnsafePointer<Element>, _ dataName: String,
                                  _ count: Int, _ length: Int,
                                  _ labels: UnsafeMutablePointer<Int32>?, _ labelsLen: Int,
                                  _ outputs: UnsafeMutablePointer<Float>?, _ outputsLen: Int,
                                  _ predict: (UnsafeBufferPointer<Element>, Int, UnsafeMutableBufferPointer<Int32>?,
                                              UnsafeMutableBufferPointer<Float>?) throws(ModelError) -> Void) -> Int32 {
    do {
        let n = try size(count, "count")
        let available = try size(length, "\(dataName)_len")
        try predict(UnsafeBufferPointer(start: data, count: available), n,
                    try buffer(labels, labelsLen, "labels"), try buffer(outputs, outputsLen, "outputs"))
        return ok
    } catch {
        return fail(error.code, "\(function): \(error.message)")
    }
}

@_cdecl("nnrt_model_predict")
public func nnrt_model_predict(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?, _ count: Int, _ inputsLen: Int,
                               _ labels: UnsafeMutablePointer<Int32>?, _ labelsLen: Int,
                               _ outputs: UnsafeMutablePointer<Float>?, _ outputsLen: Int) -> Int32 {
    let function = "nnrt_model_predict"
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    guard let inputs else { return nullOut(function, "inputs") }
    return predictCall(function, inputs, "inputs", count, inputsLen, labels, labelsLen, outputs, outputsLen) { x, n, l, o throws(ModelError) in
        try m.predict(x, count: n, labels: l, outputs: o)
    }
}

@_cdecl("nnrt_model_predict_u8")
public func nnrt_model_predict_u8(_ model: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ count: Int, _ pixelsLen: Int,
                                  _ labels: UnsafeMutablePointer<Int32>?, _ labelsLen: Int,
                                  _ outputs: UnsafeMutablePointer<Float>?, _ outputsLen: Int) -> Int32 {
    let function = "nnrt_model_predict_u8"
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    guard let pixels else { return nullOut(function, "pixels") }
    return predictCall(function, pixels, "pixels", count, pixelsLen, labels, labelsLen, outputs, outputsLen) { x, n, l, o throws(ModelError) in
        try m.predict(pixels: x, count: n, labels: l, outputs: o)
    }
}

@_cdecl("nnrt_model_predict_members")
public func nnrt_model_predict_members(_ model: OpaquePointer?, _ inputs: UnsafePointer<Float>?, _ count: Int, _ inputsLen: Int,
                                       _ memberLabels: UnsafeMutablePointer<Int32>?, _ memberLabelsLen: Int,
                                       _ memberOutputs: UnsafeMutablePointer<Float>?, _ memberOutputsLen: Int) -> Int32 {
    let function = "nnrt_model_predict_members"
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    guard let inputs else { return nullOut(function, "inputs") }
    do {
        let n = try size(count, "count")
        let length = try size(inputsLen, "inputs_len")
        try m.predictMembers(UnsafeBufferPointer(start: inputs, count: length), count: n,
                             memberLabels: try buffer(memberLabels, memberLabelsLen, "member_labels"),
                             memberOutputs: try buffer(memberOutputs, memberOutputsLen, "member_outputs"))
        return ok
    } catch {
        return fail(error.code, "\(function): \(error.message)")
    }
}

// MARK: - Sessions

private func unwrapSession(_ handle: OpaquePointer?) -> Session? {
    object(handle, Session.self)
}

@_cdecl("nnrt_session_create")
public func nnrt_session_create(_ model: OpaquePointer?, _ threads: Int,
                                _ outSession: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    let function = "nnrt_session_create"
    guard let outSession else { return nullOut(function, "out_session") }
    outSession.pointee = nil
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    do {
        let session = try Session(model: m, threads: try size(threads, "threads"))
        outSession.pointee = OpaquePointer(Unmanaged.passRetained(session).toOpaque())
        return ok
    } catch {
        return fail(error.code, "\(function): \(error.message)")
    }
}

@_cdecl("nnrt_session_free")
public func nnrt_session_free(_ session: OpaquePointer?) {
    // NULL and anything that is not a live session handle (e.g. one freed already) are ignored.
    guard let s = unwrapSession(session) else { return }
    Unmanaged.passUnretained(s).release()
}

@_cdecl("nnrt_session_threads")
public func nnrt_session_threads(_ session: OpaquePointer?, _ outThreads: UnsafeMutablePointer<Int>?) -> Int32 {
    let function = "nnrt_session_threads"
    guard let s = unwrapSession(session) else { return invalidSession(function, session) }
    guard let outThreads else { return nullOut(function, "out_threads") }
    outThreads.pointee = s.threads
    return ok
}

@_cdecl("nnrt_session_predict")
public func nnrt_session_predict(_ session: OpaquePointer?, _ inputs: UnsafePointer<Float>?, _ count: Int,
                                 _ inputsLen: Int, _ labels: UnsafeMutablePointer<Int32>?, _ labelsLen: Int,
                                 _ outputs: UnsafeMutablePointer<Float>?, _ outputsLen: Int) -> Int32 {
    let function = "nnrt_session_predict"
    guard let s = unwrapSession(session) else { return invalidSession(function, session) }
    guard let inputs else { return nullOut(function, "inputs") }
    return predictCall(function, inputs, "inputs", count, inputsLen, labels, labelsLen, outputs, outputsLen) { x, n, l, o throws(ModelError) in
        try s.predict(x, count: n, labels: l, outputs: o)
    }
}

@_cdecl("nnrt_session_predict_u8")
public func nnrt_session_predict_u8(_ session: OpaquePointer?, _ pixels: UnsafePointer<UInt8>?, _ count: Int,
                                    _ pixelsLen: Int, _ labels: UnsafeMutablePointer<Int32>?, _ labelsLen: Int,
                                    _ outputs: UnsafeMutablePointer<Float>?, _ outputsLen: Int) -> Int32 {
    let function = "nnrt_session_predict_u8"
    guard let s = unwrapSession(session) else { return invalidSession(function, session) }
    guard let pixels else { return nullOut(function, "pixels") }
    return predictCall(function, pixels, "pixels", count, pixelsLen, labels, labelsLen, outputs, outputsLen) { x, n, l, o throws(ModelError) in
        try s.predict(pixels: x, count: n, labels: l, outputs: o)
    }
}

// MARK: - Images

/// Layout of `nnrt_file_result` (Include/nnrt.h): status, label, confidence, flags, message.
private enum FileResultLayout {
    static let size = 256
    static let messageOffset = 16
    static let messageCapacity = 240
}

/// Writes one `nnrt_file_result` at `base`.
private func storeFileResult(_ r: ImageClassification, at base: UnsafeMutableRawPointer) {
    base.storeBytes(of: r.error?.code.rawValue ?? ok, toByteOffset: 0, as: Int32.self)
    base.storeBytes(of: r.label, toByteOffset: 4, as: Int32.self)
    base.storeBytes(of: r.confidence, toByteOffset: 8, as: Float.self)
    base.storeBytes(of: r.flags.rawValue, toByteOffset: 12, as: UInt32.self)
    let message = base + FileResultLayout.messageOffset
    var bytes = Array((r.error?.message ?? "").utf8)
    if bytes.count >= FileResultLayout.messageCapacity {
        // Cut at 239 bytes, back to the start of a UTF-8 sequence.
        var end = FileResultLayout.messageCapacity - 1
        while end > 0 && bytes[end] & 0xC0 == 0x80 { end -= 1 }
        bytes.removeSubrange(end...)
    }
    bytes.withUnsafeBytes { message.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    message.storeBytes(of: 0, toByteOffset: bytes.count, as: UInt8.self)
}

@_cdecl("nnrt_session_classify_files")
public func nnrt_session_classify_files(_ session: OpaquePointer?, _ paths: UnsafePointer<UnsafePointer<CChar>?>?,
                                        _ count: Int, _ results: UnsafeMutableRawPointer?, _ resultsLen: Int,
                                        _ outputs: UnsafeMutablePointer<Float>?, _ outputsLen: Int) -> Int32 {
    let function = "nnrt_session_classify_files"
    guard let s = unwrapSession(session) else { return invalidSession(function, session) }
    guard let paths else { return nullOut(function, "paths") }
    guard let results else { return nullOut(function, "results") }
    do throws(ModelError) {
        let n = try size(count, "count")
        let available = try size(resultsLen, "results_len")
        for i in 0..<n where paths[i] == nil {
            throw ModelError(.invalidArgument, "paths[\(i)] is NULL")
        }
        guard available >= n else {
            throw ModelError(.bufferTooSmall, "results holds \(available) entries; \(n) files need \(n)")
        }
        var classifications = [ImageClassification](repeating: ImageClassification(), count: n)
        try classifications.withUnsafeMutableBufferPointer { r throws(ModelError) in
            try s.classifyImages(count: n, load: { i throws(ImageError) in try readImageFile(cPath: paths[i]!, hints: .recognition) },
                                 results: r, outputs: try buffer(outputs, outputsLen, "outputs"))
        }
        for i in 0..<n { storeFileResult(classifications[i], at: results + i * FileResultLayout.size) }
        return ok
    } catch {
        return fail(error.code, "\(function): \(error.message)")
    }
}

/// Decodes `size` bytes at `data` as an image, for the functions below.
private func decodeCallerImage(_ data: UnsafeRawPointer, _ size: Int) throws(ModelError) -> RawImage {
    do throws(ImageError) {
        return try decodeImage(UnsafeRawBufferPointer(start: data, count: size), hints: .recognition)
    } catch {
        throw ModelError(error)
    }
}

@_cdecl("nnrt_model_classify_image")
public func nnrt_model_classify_image(_ model: OpaquePointer?, _ data: UnsafeRawPointer?, _ dataSize: Int,
                                      _ outLabel: UnsafeMutablePointer<Int32>?,
                                      _ outputs: UnsafeMutablePointer<Float>?, _ outputsLen: Int,
                                      _ outFlags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    let function = "nnrt_model_classify_image"
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    guard let data else { return nullOut(function, "data") }
    guard let outLabel else { return nullOut(function, "out_label") }
    do throws(ModelError) {
        // The caller's buffers and the model first, then the image.
        let row = try buffer(outputs, outputsLen, "outputs")
        _ = try m.digitNormalization()
        if let row, row.count < m.classCount {
            throw ModelError(.bufferTooSmall, "outputs holds \(row.count) floats; one image needs \(m.classCount)")
        }
        let image = try decodeCallerImage(data, try size(dataSize, "size"))
        let (label, flags) = try m.classify(image, outputs: row)
        outLabel.pointee = label
        outFlags?.pointee = flags.rawValue
        return ok
    } catch {
        return fail(error.code, "\(function): \(error.message)")
    }
}

/// Shared tail of the preprocess functions: checks the input buffer, writes the vector and flags.
private func preprocessCall(_ function: String, _ m: Model, _ input: UnsafeMutablePointer<Float>?, _ inputLen: Int,
                            _ outFlags: UnsafeMutablePointer<UInt32>?,
                            _ image: () throws(ModelError) -> RawImage) -> Int32 {
    guard let input else { return nullOut(function, "input") }
    do throws(ModelError) {
        let row = UnsafeMutableBufferPointer(start: input, count: try size(inputLen, "input_len"))
        _ = try m.digitNormalization()   // a model without images fails before any file is read
        guard row.count >= m.inputSize else {
            throw ModelError(.bufferTooSmall, "input holds \(row.count) floats; the model's input needs \(m.inputSize)")
        }
        let flags = try m.preprocess(try image(), into: row)
        outFlags?.pointee = flags.rawValue
        return ok
    } catch {
        return fail(error.code, "\(function): \(error.message)")
    }
}

@_cdecl("nnrt_model_preprocess_file")
public func nnrt_model_preprocess_file(_ model: OpaquePointer?, _ path: UnsafePointer<CChar>?,
                                       _ input: UnsafeMutablePointer<Float>?, _ inputLen: Int,
                                       _ outFlags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    let function = "nnrt_model_preprocess_file"
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    guard let path else { return nullOut(function, "path") }
    return preprocessCall(function, m, input, inputLen, outFlags) { () throws(ModelError) in
        do throws(ImageError) {
            return try readImageFile(cPath: path, hints: .recognition)
        } catch {
            let shown = String(validatingCString: path) ?? String(decoding: Array(UnsafeBufferPointer(start: path, count: strlen(path))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw ModelError(ModelError(error).code, "\(shown): \(error.message)")
        }
    }
}

@_cdecl("nnrt_model_preprocess_image")
public func nnrt_model_preprocess_image(_ model: OpaquePointer?, _ data: UnsafeRawPointer?, _ dataSize: Int,
                                        _ input: UnsafeMutablePointer<Float>?, _ inputLen: Int,
                                        _ outFlags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    let function = "nnrt_model_preprocess_image"
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    guard let data else { return nullOut(function, "data") }
    return preprocessCall(function, m, input, inputLen, outFlags) { () throws(ModelError) in
        try decodeCallerImage(data, try size(dataSize, "size"))
    }
}

@_cdecl("nnrt_model_preprocess_pixels")
public func nnrt_model_preprocess_pixels(_ model: OpaquePointer?, _ pixels: UnsafeRawPointer?,
                                         _ width: Int, _ height: Int, _ channels: Int,
                                         _ bytesPerSample: Int, _ rowBytes: Int,
                                         _ input: UnsafeMutablePointer<Float>?, _ inputLen: Int,
                                         _ outFlags: UnsafeMutablePointer<UInt32>?) -> Int32 {
    let function = "nnrt_model_preprocess_pixels"
    guard let m = unwrap(model) else { return invalidModel(function, model) }
    guard let pixels else { return nullOut(function, "pixels") }
    return preprocessCall(function, m, input, inputLen, outFlags) { () throws(ModelError) in
        try rawImage(pixels, width: try size(width, "width"), height: try size(height, "height"),
                     channels: try size(channels, "channels"), bytesPerSample: try size(bytesPerSample, "bytes_per_sample"),
                     rowBytes: try size(rowBytes, "row_bytes"))
    }
}

/// A caller's pixel buffer as a RawImage (copied), every size checked for overflow and limits.
func rawImage(_ pixels: UnsafeRawPointer, width: Int, height: Int, channels: Int,
              bytesPerSample: Int, rowBytes: Int, limits: ImageLimits = .default) throws(ModelError) -> RawImage {
    guard width > 0, height > 0 else {
        throw ModelError(.invalidArgument, "width and height must be positive, got \(width) x \(height)")
    }
    guard let layout = RawImage.Layout(rawValue: channels) else {
        throw ModelError(.invalidArgument, "channels must be 1 (grey), 2 (grey, alpha), 3 (RGB) or 4 (RGBA), got \(channels)")
    }
    guard bytesPerSample == 1 || bytesPerSample == 2 else {
        throw ModelError(.invalidArgument, "bytes_per_sample must be 1 or 2, got \(bytesPerSample)")
    }
    let (pixelCount, o1) = width.multipliedReportingOverflow(by: height)
    guard !o1, width <= limits.maxDimension, height <= limits.maxDimension, pixelCount <= limits.maxPixels else {
        throw ModelError(.imageTooLarge, "\(width) x \(height) pixels is over the limit (\(limits.maxPixels) pixels, \(limits.maxDimension) a side)")
    }
    let samplesPerRow = width * channels                    // bounded by the limits above
    let tight = samplesPerRow * bytesPerSample
    let stride = rowBytes == 0 ? tight : rowBytes
    guard stride >= tight else {
        throw ModelError(.invalidArgument, "row_bytes \(rowBytes) is less than a row's \(tight) bytes (\(width) pixels x \(channels) channels x \(bytesPerSample) bytes)")
    }
    let samples: RawImage.Samples
    if bytesPerSample == 1 {
        var s = [UInt8](repeating: 0, count: samplesPerRow * height)
        s.withUnsafeMutableBytes { d in
            for y in 0..<height { (d.baseAddress! + y * tight).copyMemory(from: pixels + y * stride, byteCount: tight) }
        }
        samples = .eightBit(s)
    } else {
        var s = [UInt16](repeating: 0, count: samplesPerRow * height)
        s.withUnsafeMutableBytes { d in
            for y in 0..<height { (d.baseAddress! + y * tight).copyMemory(from: pixels + y * stride, byteCount: tight) }
        }
        samples = .sixteenBit(s)
    }
    guard let image = RawImage(width: width, height: height, layout: layout,
                               maxValue: bytesPerSample == 1 ? 255 : 65535, samples: samples) else {
        throw ModelError(.internal, "pixel buffer: inconsistent sizes")
    }
    return image
}
