// The C ABI exercised through its Swift @_cdecl functions: NULL pointers, zero sizes, bad files,
// buffer sizes, and the per-thread last error message.
import Testing
import Dispatch
import NNModel
import NNRuntime
#if canImport(Glibc)
import Glibc
#endif

private let OK: Int32 = 0, INVALID: Int32 = 1, IO: Int32 = 2, BAD_MODEL: Int32 = 3, UNSUPPORTED_VERSION: Int32 = 4
private let SHAPE: Int32 = 5, TOO_SMALL: Int32 = 6, NOT_FOUND: Int32 = 11

private func lastError() -> String { String(cString: nnrt_last_error_message()) }

/// Asserts `status` and that the thread's last error message changed to something containing
/// `fragment`.
private func expectFailure(_ status: Int32, _ expected: Int32, _ fragment: String = "",
                           sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(status == expected, "status \(status): \(lastError())", sourceLocation: sourceLocation)
    #expect(!lastError().isEmpty, sourceLocation: sourceLocation)
    if !fragment.isEmpty {
        #expect(lastError().contains(fragment), "message: \(lastError())", sourceLocation: sourceLocation)
    }
}

private func loadBytes(_ bytes: [UInt8]) -> (Int32, OpaquePointer?) {
    var handle: OpaquePointer?
    let status = bytes.withUnsafeBytes { nnrt_model_load_from_memory($0.baseAddress, $0.count, &handle) }
    return (status, handle)
}

private func loaded(_ file: ModelFile) throws -> OpaquePointer {
    let (status, handle) = loadBytes(try encodeModel(file))
    guard status == OK, let handle else { throw ModelError(.internal, "load failed: \(lastError())") }
    return handle
}

private func sampleFile() -> ModelFile {
    ModelFile(metadata: [(key: "description", value: "test model"), (key: "author", value: "me")],
              body: .network(makeNetwork([6, 4, 3], name: "sample", labels: ["x", "y", "z"])))
}

@Suite struct CAPI {

    @Test func layerIntrospection() throws {
        let e = ModelFile(body: .ensemble(EnsembleModel(
            name: "e", members: [makeConvNetwork(seed: 1, name: "a"), makeConvNetwork(seed: 2, name: "b")], voting: .majority)))
        let m = try loaded(e)
        defer { nnrt_model_free(m) }
        var version: UInt32 = 0
        #expect(nnrt_model_format_version(m, &version) == OK && version == 2)
        var n = 0
        #expect(nnrt_model_layer_count(m, 0, &n) == OK && n == 4)
        #expect(nnrt_model_layer_count(m, 1, &n) == OK && n == 4)
        expectFailure(nnrt_model_layer_count(m, 2, &n), NOT_FOUND, "member 2 is not below the member count 2")
        expectFailure(nnrt_model_layer_count(m, -1, &n), NOT_FOUND)
        expectFailure(nnrt_model_layer_count(m, 0, nil), INVALID, "out_count is NULL")
        expectFailure(nnrt_model_layer_count(nil, 0, &n), INVALID, "model is NULL")

        var kind: Int32 = -1, activation: Int32 = -1
        var name: UnsafePointer<CChar>?, summary: UnsafePointer<CChar>?
        let expected: [(Int32, Int32, String)] = [(2, 4, "conv1"), (3, 3, "pool1"), (1, 2, "fc1"), (1, 5, "out")]
        for (i, (k, a, layerName)) in expected.enumerated() {
            #expect(nnrt_model_layer_info(m, 1, i, &kind, &activation, &name, &summary) == OK)
            #expect(kind == k && activation == a && String(cString: name!) == layerName)
            #expect(String(cString: summary!).hasPrefix(["dense", "conv2d", "max_pool2d"][Int(k) - 1] + " '\(layerName)' "))
        }
        #expect(nnrt_model_layer_info(m, 0, 0, &kind, &activation, &name, &summary) == OK)
        #expect(String(cString: summary!) == "conv2d 'conv1' [2,9,8] -> [3,7,7], 3x2 kernels, linear")
        // Every out pointer may be NULL.
        #expect(nnrt_model_layer_info(m, 0, 2, nil, nil, nil, nil) == OK)
        #expect(nnrt_model_layer_info(m, 0, 2, nil, nil, nil, &summary) == OK)
        #expect(String(cString: summary!) == "dense 'fc1' [3,3,3] -> [7], tanh, dropout 0.5 (inputs scaled by 0.5)")
        // Out of range: NOT_FOUND, and the outputs are cleared.
        expectFailure(nnrt_model_layer_info(m, 0, 4, &kind, &activation, &name, &summary), NOT_FOUND,
                      "layer 4 is not below member 0's layer count 4")
        #expect(kind == 0 && activation == 0 && name == nil && summary == nil)
        expectFailure(nnrt_model_layer_info(m, 2, 0, &kind, nil, nil, nil), NOT_FOUND, "member 2")
        expectFailure(nnrt_model_layer_info(m, -1, 0, &kind, nil, nil, nil), NOT_FOUND)
        expectFailure(nnrt_model_layer_info(m, 0, -1, &kind, nil, nil, nil), NOT_FOUND)
        expectFailure(nnrt_model_layer_info(nil, 0, 0, &kind, &activation, &name, &summary), INVALID, "model is NULL")

        // Run-time ensembles describe their members' layers too; the strings outlive the sources.
        var shallow = makeConvNetwork(seed: 3, name: "c")
        shallow.layers.removeLast()
        shallow.layers[2] = .dense(name: "fc", inputs: 27, outputs: 4, activation: .sigmoid,
                                   weights: [Float](repeating: 0.5, count: 108), bias: [0, 0, 0, 0])
        let single = try loaded(ModelFile(body: .network(shallow)))
        var members: [OpaquePointer?] = [single, m]
        var combined: OpaquePointer?
        #expect(nnrt_ensemble_create(&members, 2, 1, &combined) == OK, "\(lastError())")
        nnrt_model_free(single)
        defer { nnrt_model_free(combined) }
        #expect(nnrt_model_layer_count(combined, 0, &n) == OK && n == 3)
        #expect(nnrt_model_layer_count(combined, 2, &n) == OK && n == 4)
        expectFailure(nnrt_model_layer_count(combined, 3, &n), NOT_FOUND)
        #expect(nnrt_model_layer_info(combined, 0, 2, &kind, &activation, &name, &summary) == OK)
        #expect(kind == 1 && activation == 1 && String(cString: summary!) == "dense 'fc' [27] -> [4], sigmoid")
    }
    @Test func versionsAndStatusStrings() {
        #expect(String(cString: nnrt_version_string()) == NNRTVersion.string)
        #expect(nnrt_abi_version() == 1)
        var oldest: UInt32 = 0, newest: UInt32 = 0
        nnrt_supported_format_versions(&oldest, &newest)
        #expect(oldest == FormatVersion.oldestReadable && newest == FormatVersion.newestReadable)
        nnrt_supported_format_versions(nil, nil)
        #expect(String(cString: nnrt_status_string(0)) == "ok")
        #expect(String(cString: nnrt_status_string(6)) == "buffer too small")
        for code in Int32(0)...13 { #expect(String(cString: nnrt_status_string(code)) != "unknown status") }
        for code: Int32 in [-1, 14, 1000, .max, .min] { #expect(String(cString: nnrt_status_string(code)) == "unknown status") }
    }

    @Test func loadErrors() throws {
        var handle: OpaquePointer? = OpaquePointer(bitPattern: 0x1)
        expectFailure(nnrt_model_load(nil, &handle), INVALID, "path is NULL")
        #expect(handle == nil)
        expectFailure(nnrt_model_load("x", nil), INVALID, "out_model is NULL")
        expectFailure(nnrt_model_load("/nonexistent/m.nnrt", &handle), IO, "/nonexistent/m.nnrt")
        expectFailure(nnrt_model_load_from_memory(nil, 10, &handle), INVALID, "data is NULL")
        let byte: [UInt8] = [0]
        byte.withUnsafeBytes { expectFailure(nnrt_model_load_from_memory($0.baseAddress, 0, &handle), INVALID, "size is 0") }
        byte.withUnsafeBytes { expectFailure(nnrt_model_load_from_memory($0.baseAddress, 1, nil), INVALID) }
        byte.withUnsafeBytes { expectFailure(nnrt_model_load_from_memory($0.baseAddress, -1, &handle), INVALID, "too large") }
        let good = try encodeModel(sampleFile())
        for cut in [1, 5, 12, good.count / 2, good.count - 1] {
            let (status, h) = loadBytes(Array(good.prefix(cut)))
            expectFailure(status, BAD_MODEL, "not an nnrt model file")
            #expect(h == nil)
        }
        expectFailure(loadBytes(Array("garbage!".utf8)).0, BAD_MODEL)
        // encodeModel writes only versions it supports, so patch the version byte of a valid
        // file: field 2 is the two bytes 0x10 0x01 right after the identifier.
        var patched = good
        #expect(patched[12] == 0x10 && patched[13] == 0x01)
        patched[13] = 0x03
        expectFailure(loadBytes(patched).0, UNSUPPORTED_VERSION, "version 3")
        nnrt_model_free(nil)
    }

    @Test func introspection() throws {
        let m = try loaded(sampleFile())
        defer { nnrt_model_free(m) }
        var n = 0
        #expect(nnrt_model_input_size(m, &n) == OK && n == 6)
        expectFailure(nnrt_model_input_size(nil, &n), INVALID, "model is NULL")
        expectFailure(nnrt_model_input_size(m, nil), INVALID, "out_size is NULL")

        var dims = [Int](repeating: 0, count: 4)
        var rank = 0
        #expect(nnrt_model_input_shape(m, &dims, 4, &rank) == OK && rank == 1 && dims[0] == 6)
        rank = 0
        expectFailure(nnrt_model_input_shape(m, nil, 0, &rank), TOO_SMALL, "1 needed")
        #expect(rank == 1)
        expectFailure(nnrt_model_input_shape(m, nil, 3, &rank), INVALID)
        expectFailure(nnrt_model_input_shape(m, &dims, 4, nil), INVALID)
        expectFailure(nnrt_model_input_shape(nil, &dims, 4, &rank), INVALID)

        var scale: Float = 0, offset: Float = 1, polarity: Int32 = 0
        #expect(nnrt_model_input_contract(m, &scale, &offset, &polarity) == OK)
        #expect(scale == 1.0 / 255.0 && offset == 0 && polarity == 1)
        #expect(nnrt_model_input_contract(m, nil, nil, nil) == OK)
        expectFailure(nnrt_model_input_contract(nil, &scale, nil, nil), INVALID)

        #expect(nnrt_model_class_count(m, &n) == OK && n == 3)
        expectFailure(nnrt_model_class_count(m, nil), INVALID)
        expectFailure(nnrt_model_class_count(nil, &n), INVALID)
        var label: UnsafePointer<CChar>?
        #expect(nnrt_model_class_label(m, 2, &label) == OK && String(cString: label!) == "z")
        expectFailure(nnrt_model_class_label(m, 3, &label), NOT_FOUND, "index 3")
        #expect(label == nil)
        expectFailure(nnrt_model_class_label(m, -1, &label), NOT_FOUND)
        expectFailure(nnrt_model_class_label(m, 0, nil), INVALID)
        expectFailure(nnrt_model_class_label(nil, 0, &label), INVALID)

        #expect(nnrt_model_member_count(m, &n) == OK && n == 1)
        expectFailure(nnrt_model_member_count(m, nil), INVALID)
        expectFailure(nnrt_model_member_count(nil, &n), INVALID)
        var rule: Int32 = 0
        #expect(nnrt_model_voting(m, &rule) == OK && rule == 2)
        expectFailure(nnrt_model_voting(m, nil), INVALID)
        expectFailure(nnrt_model_voting(nil, &rule), INVALID)
        var version: UInt32 = 0
        #expect(nnrt_model_format_version(m, &version) == OK && version == 1)
        expectFailure(nnrt_model_format_version(m, nil), INVALID)
        expectFailure(nnrt_model_format_version(nil, &version), INVALID)

        var s1: UnsafePointer<CChar>?, s2: UnsafePointer<CChar>?
        #expect(nnrt_model_producer(m, &s1, &s2) == OK)
        #expect(String(cString: s1!) == "nnrt" && String(cString: s2!) == NNRTVersion.string)
        #expect(nnrt_model_producer(m, nil, nil) == OK)
        expectFailure(nnrt_model_producer(nil, &s1, &s2), INVALID)
        #expect(nnrt_model_name(m, &s1) == OK && String(cString: s1!) == "sample")
        expectFailure(nnrt_model_name(m, nil), INVALID)
        expectFailure(nnrt_model_name(nil, &s1), INVALID)

        #expect(nnrt_model_metadata_count(m, &n) == OK && n == 2)
        expectFailure(nnrt_model_metadata_count(m, nil), INVALID)
        expectFailure(nnrt_model_metadata_count(nil, &n), INVALID)
        #expect(nnrt_model_metadata_entry(m, 1, &s1, &s2) == OK)
        #expect(String(cString: s1!) == "author" && String(cString: s2!) == "me")
        #expect(nnrt_model_metadata_entry(m, 0, nil, &s2) == OK && String(cString: s2!) == "test model")
        expectFailure(nnrt_model_metadata_entry(m, 2, &s1, &s2), NOT_FOUND)
        expectFailure(nnrt_model_metadata_entry(m, 0, nil, nil), INVALID)
        expectFailure(nnrt_model_metadata_entry(nil, 0, &s1, &s2), INVALID)
        #expect(nnrt_model_metadata_get(m, "description", &s1) == OK && String(cString: s1!) == "test model")
        expectFailure(nnrt_model_metadata_get(m, "nope", &s1), NOT_FOUND, "'nope'")
        expectFailure(nnrt_model_metadata_get(m, nil, &s1), INVALID)
        expectFailure(nnrt_model_metadata_get(m, "description", nil), INVALID)
        expectFailure(nnrt_model_metadata_get(nil, "description", &s1), INVALID)
    }

    @Test func predictArguments() throws {
        let m = try loaded(sampleFile())
        defer { nnrt_model_free(m) }
        let x = [Float](repeating: 0.5, count: 12)
        let px = [UInt8](repeating: 128, count: 12)
        var labels = [Int32](repeating: -1, count: 2)
        var outputs = [Float](repeating: -1, count: 6)
        #expect(nnrt_model_predict(m, x, 2, 12, &labels, 2, &outputs, 6) == OK)
        #expect(labels.allSatisfy { $0 >= 0 && $0 < 3 })
        #expect(nnrt_model_predict_u8(m, px, 2, 12, &labels, 2, nil, 0) == OK)
        #expect(nnrt_model_predict(m, x, 2, 12, nil, 0, &outputs, 6) == OK)

        expectFailure(nnrt_model_predict(nil, x, 2, 12, &labels, 2, &outputs, 6), INVALID, "model is NULL")
        expectFailure(nnrt_model_predict(m, nil, 2, 12, &labels, 2, &outputs, 6), INVALID, "inputs is NULL")
        expectFailure(nnrt_model_predict(m, x, 0, 12, &labels, 2, &outputs, 6), INVALID, "count is 0")
        expectFailure(nnrt_model_predict(m, x, 2, 12, nil, 0, nil, 0), INVALID, "nothing requested")
        expectFailure(nnrt_model_predict(m, x, 2, 12, nil, 2, &outputs, 6), INVALID, "labels is NULL")
        expectFailure(nnrt_model_predict(m, x, 2, 12, &labels, 2, nil, 6), INVALID, "outputs is NULL")
        expectFailure(nnrt_model_predict(m, x, 2, 11, &labels, 2, &outputs, 6), SHAPE, "need 12")
        expectFailure(nnrt_model_predict(m, x, 2, 0, &labels, 2, &outputs, 6), SHAPE)
        labels = [-1, -1]
        outputs = [Float](repeating: -1, count: 6)
        expectFailure(nnrt_model_predict(m, x, 2, 12, &labels, 1, &outputs, 6), TOO_SMALL, "2 needed")
        expectFailure(nnrt_model_predict(m, x, 2, 12, &labels, 2, &outputs, 5), TOO_SMALL, "6 needed")
        expectFailure(nnrt_model_predict(m, x, 2, 12, &labels, 0, nil, 0), TOO_SMALL, "2 needed")
        #expect(labels == [-1, -1] && outputs.allSatisfy { $0 == -1 }, "nothing written on failure")
        // Sizes that overflow count * input_size, or that do not fit in a signed size.
        expectFailure(nnrt_model_predict(m, x, Int.max / 3, 12, &labels, 2, nil, 0), INVALID, "overflows")
        expectFailure(nnrt_model_predict(m, x, -1, 12, &labels, 2, nil, 0), INVALID)
        expectFailure(nnrt_model_predict(m, x, 2, -1, &labels, 2, nil, 0), INVALID)

        expectFailure(nnrt_model_predict_u8(nil, px, 2, 12, &labels, 2, nil, 0), INVALID)
        expectFailure(nnrt_model_predict_u8(m, nil, 2, 12, &labels, 2, nil, 0), INVALID)
        expectFailure(nnrt_model_predict_u8(m, px, 0, 12, &labels, 2, nil, 0), INVALID)
        expectFailure(nnrt_model_predict_u8(m, px, 2, 12, nil, 0, nil, 0), INVALID)
        expectFailure(nnrt_model_predict_u8(m, px, 3, 12, &labels, 2, nil, 0), SHAPE)
        expectFailure(nnrt_model_predict_u8(m, px, 2, 12, &labels, 2, &outputs, 1), TOO_SMALL, "6 needed")

        var ml = [Int32](repeating: 0, count: 2)
        var mo = [Float](repeating: 0, count: 6)
        #expect(nnrt_model_predict_members(m, x, 2, 12, &ml, 2, &mo, 6) == OK)
        #expect(nnrt_model_predict(m, x, 2, 12, &labels, 2, &outputs, 6) == OK)
        #expect(ml == labels && mo == outputs)
        expectFailure(nnrt_model_predict_members(nil, x, 2, 12, &ml, 2, &mo, 6), INVALID)
        expectFailure(nnrt_model_predict_members(m, nil, 2, 12, &ml, 2, &mo, 6), INVALID)
        expectFailure(nnrt_model_predict_members(m, x, 0, 12, &ml, 2, &mo, 6), INVALID)
        expectFailure(nnrt_model_predict_members(m, x, 2, 12, nil, 0, nil, 0), INVALID)
        expectFailure(nnrt_model_predict_members(m, x, 2, 12, &ml, 1, nil, 0), TOO_SMALL, "2 needed")
        expectFailure(nnrt_model_predict_members(m, x, 2, 12, nil, 0, &mo, 5), TOO_SMALL, "6 needed")
    }

    @Test func ensembles() throws {
        let a = try loaded(ModelFile(body: .network(makeNetwork([6, 3], name: "a", seed: 1))))
        let b = try loaded(ModelFile(body: .network(makeNetwork([6, 3], name: "b", seed: 2))))
        let c = try loaded(ModelFile(body: .network(makeNetwork([6, 3], name: "c", seed: 3))))
        let wide = try loaded(ModelFile(body: .network(makeNetwork([7, 3], name: "wide"))))
        let relabelled = try loaded(ModelFile(body: .network(makeNetwork([6, 3], labels: ["p", "q", "r"]))))
        var e: OpaquePointer? = OpaquePointer(bitPattern: 0x1)
        var members: [OpaquePointer?] = [a, b, c]
        expectFailure(nnrt_ensemble_create(nil, 3, 1, &e), INVALID, "members is NULL")
        #expect(e == nil)
        expectFailure(nnrt_ensemble_create(&members, 0, 1, &e), INVALID, "member_count is 0")
        expectFailure(nnrt_ensemble_create(&members, 3, 0, &e), INVALID, "unknown voting rule 0")
        expectFailure(nnrt_ensemble_create(&members, 3, 3, &e), INVALID)
        expectFailure(nnrt_ensemble_create(&members, 3, 1, nil), INVALID)
        var withNull: [OpaquePointer?] = [a, nil]
        expectFailure(nnrt_ensemble_create(&withNull, 2, 1, &e), INVALID, "members[1] is NULL")
        var bad: [OpaquePointer?] = [a, wide]
        expectFailure(nnrt_ensemble_create(&bad, 2, 1, &e), SHAPE, "takes 7 inputs")
        bad = [a, relabelled]
        expectFailure(nnrt_ensemble_create(&bad, 2, 2, &e), SHAPE, "class labels")

        #expect(nnrt_ensemble_create(&members, 3, 1, &e) == OK)
        // The members can go first: the ensemble holds its own references.
        nnrt_model_free(a); nnrt_model_free(b); nnrt_model_free(c)
        nnrt_model_free(wide); nnrt_model_free(relabelled)
        var n = 0, rule: Int32 = 0, version: UInt32 = 9
        #expect(nnrt_model_member_count(e, &n) == OK && n == 3)
        #expect(nnrt_model_voting(e, &rule) == OK && rule == 1)
        #expect(nnrt_model_format_version(e, &version) == OK && version == 0)
        var name: UnsafePointer<CChar>?, producerVersion: UnsafePointer<CChar>?
        #expect(nnrt_model_name(e, &name) == OK && name != nil)
        #expect(nnrt_model_producer(e, &name, &producerVersion) == OK && String(cString: name!) == "")
        let x = (0..<(6 * 5)).map { Float($0 % 7) / 7 }
        var labels = [Int32](repeating: 0, count: 5)
        var votes = [Float](repeating: 0, count: 15)
        #expect(nnrt_model_predict(e, x, 5, 30, &labels, 5, &votes, 15) == OK)
        for r in 0..<5 {
            #expect(abs(votes[(r * 3)..<(r * 3 + 3)].reduce(0, +) - 1) < 1e-6)
        }
        var ml = [Int32](repeating: 0, count: 15)
        #expect(nnrt_model_predict_members(e, x, 5, 30, &ml, 15, nil, 0) == OK)
        // Re-vote the ensemble under mean probability: members are flattened.
        var again: OpaquePointer?
        var one: [OpaquePointer?] = [e]
        #expect(nnrt_ensemble_create(&one, 1, 2, &again) == OK)
        nnrt_model_free(e)
        #expect(nnrt_model_member_count(again, &n) == OK && n == 3)
        #expect(nnrt_model_predict(again, x, 5, 30, &labels, 5, nil, 0) == OK)
        nnrt_model_free(again)
    }

    @Test func lastErrorIsPerThread() throws {
        var h: OpaquePointer?
        _ = nnrt_model_load(nil, &h)
        let here = lastError()
        #expect(here.contains("path is NULL"))
        let other = ResultBox(count: 1)
        runOnNewThread {
            // A fresh thread's failure does not disturb ours, and vice versa.
            var g: OpaquePointer?
            let status = nnrt_model_load("/nonexistent/other", &g)
            other.set(0, status == IO && String(cString: nnrt_last_error_message()).contains("/nonexistent/other"))
        }
        #expect(other.all)
        // Successful calls leave the message alone; the pointer stays valid until the next failure.
        let p = nnrt_last_error_message()
        var n = 0
        let m = try loaded(sampleFile())
        #expect(nnrt_model_class_count(m, &n) == OK)
        #expect(String(cString: p) == here)
        nnrt_model_free(m)
    }
}

private final class ThreadBody {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// Runs `body` on a new pthread and waits for it.
func runOnNewThread(_ body: @escaping @Sendable () -> Void) {
    let context = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let rc = pthread_create(&thread, nil, { arg in
        if let arg { Unmanaged<ThreadBody>.fromOpaque(arg).takeRetainedValue().body() }
        return nil
    }, context)
    #expect(rc == 0)
    if rc == 0 { pthread_join(thread, nil) }
}
