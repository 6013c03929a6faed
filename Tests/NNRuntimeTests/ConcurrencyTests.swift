// Many threads x many calls through the C ABI on shared models and ensembles, with sessions of
// their own and one shared session used under a lock, every result compared bit for bit with a
// single-threaded reference: the concurrent paths of Tests/c/test_stress.c, in Swift so that
// ThreadSanitizer instruments the runtime itself:
//
//   swift test --sanitize=thread --filter ConcurrencyTests
//
// NNRT_STRESS_ITERATIONS sets the calls per thread (default 500: the networks are small, as a
// debug or sanitizer build computes slowly).
import Testing
import NNModel
@testable import NNRuntime
#if canImport(Glibc)
import Glibc
#endif

/// The handles the threads share, as bit patterns (pointers are not Sendable).
private struct Shared: Sendable {
    var models: [UInt]           // dense, conv, majority ensemble, mean ensemble
    var sharedSession: UInt      // of the majority ensemble, used under `lock`
    var denseBytes: [UInt8]      // a model file the threads load themselves
}

private func pointer(_ bits: UInt) -> OpaquePointer? { OpaquePointer(bitPattern: bits) }
private func bits(_ p: OpaquePointer?) -> UInt { UInt(bitPattern: p) }

/// Labels and outputs of one call, for bit-for-bit comparison.
private struct Result: Equatable, Sendable {
    var labels: [Int32]
    var outputs: [UInt32]        // the floats' bit patterns
}

private let classes = 5
private let inputSize = 36
private let combos: [(offset: Int, count: Int)] = [(0, 1), (3, 1), (0, 5), (2, 17), (0, 32)]
private let rows = 32

private func inputs() -> [Float] {
    var rng = TestRNG(seed: 99)
    return (0..<(rows * inputSize)).map { _ in (rng.float() + 1) / 2 }
}

private func pixels() -> [UInt8] {
    var rng = TestRNG(seed: 98)
    return (0..<(rows * inputSize)).map { _ in UInt8(truncatingIfNeeded: rng.next() >> 56) }
}

/// One prediction through `call` (nnrt_model_predict and its kin) into fresh buffers.
private func run(_ count: Int, _ call: (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Float>) -> Int32) -> (Int32, Result) {
    var labels = [Int32](repeating: -1, count: count)
    var outputs = [Float](repeating: .nan, count: count * classes)
    let status = labels.withUnsafeMutableBufferPointer { l in
        outputs.withUnsafeMutableBufferPointer { o in call(l.baseAddress!, o.baseAddress!) }
    }
    return (status, Result(labels: labels, outputs: outputs.map(\.bitPattern)))
}

private func predict(_ model: OpaquePointer?, _ x: [Float], _ offset: Int, _ count: Int) -> (Int32, Result) {
    x.withUnsafeBufferPointer { xs in
        run(count) { l, o in
            nnrt_model_predict(model, xs.baseAddress! + offset * inputSize, count, count * inputSize, l, count, o, count * classes)
        }
    }
}

private func predictU8(_ model: OpaquePointer?, _ p: [UInt8], _ offset: Int, _ count: Int) -> (Int32, Result) {
    p.withUnsafeBufferPointer { ps in
        run(count) { l, o in
            nnrt_model_predict_u8(model, ps.baseAddress! + offset * inputSize, count, count * inputSize, l, count, o, count * classes)
        }
    }
}

private func sessionPredict(_ session: OpaquePointer?, _ x: [Float], _ offset: Int, _ count: Int) -> (Int32, Result) {
    x.withUnsafeBufferPointer { xs in
        run(count) { l, o in
            nnrt_session_predict(session, xs.baseAddress! + offset * inputSize, count, count * inputSize, l, count, o, count * classes)
        }
    }
}

/// Starts `count` threads running body(0..<count) at once and waits for all of them.
private func runInParallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Context {
        let body: @Sendable (Int) -> Void
        let index: Int
        init(_ body: @escaping @Sendable (Int) -> Void, _ index: Int) { self.body = body; self.index = index }
    }
    var threads: [pthread_t] = []
    for i in 0..<count {
        let context = Unmanaged.passRetained(Context(body, i)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            if let arg {
                let c = Unmanaged<Context>.fromOpaque(arg).takeRetainedValue()
                c.body(c.index)
            }
            return nil
        }, context)
        #expect(rc == 0)
        if rc == 0 { threads.append(thread) } else { Unmanaged<Context>.fromOpaque(context).release() }
    }
    for thread in threads { pthread_join(thread, nil) }
}

/// Failures seen by the threads, reported by the test's own thread.
private final class Failures: @unchecked Sendable {
    private var list: [String] = []
    private let lock = NSLockLite()
    func add(_ s: String) { lock.with { list.append(s) } }
    var all: [String] { lock.with { list } }
}

@Suite struct ConcurrencyTests {

    @Test func sharedModelsEnsemblesAndSessionsGiveTheSingleThreadedResults() throws {
        let iterations = Int(environment("NNRT_STRESS_ITERATIONS") ?? "") ?? 500
        let threadCount = 8
        let x = inputs(), p = pixels()

        // The models: through the C ABI, as a C caller makes them.
        let dense = makeNetwork([inputSize, 12, classes], name: "dense", seed: 3)
        let conv = makeConvNetwork(channels: 1, height: 6, width: 6, maps: 2, kernel: (3, 3), pool: (2, 2), hidden: 6,
                                   classes: classes, seed: 4, name: "conv")
        let third = makeNetwork([inputSize, 7, classes], name: "third", seed: 5,
                                activations: [.relu, .softmax])
        func load(_ n: NetworkModel) throws -> OpaquePointer {
            var h: OpaquePointer?
            let bytes = try encodeModel(ModelFile(body: .network(n)))
            let status = bytes.withUnsafeBytes { nnrt_model_load_from_memory($0.baseAddress, $0.count, &h) }
            guard status == 0, let h else { throw ModelError(.internal, String(cString: nnrt_last_error_message())) }
            return h
        }
        // The conv network's input is [1, 6, 6]: give the dense ones the same contract.
        func shaped(_ n: NetworkModel) -> NetworkModel {
            var n = n
            n.input = conv.input
            return n
        }
        let d = try load(shaped(dense)), c = try load(conv), t = try load(shaped(third))
        var members: [OpaquePointer?] = [d, c, t]
        var majority: OpaquePointer?, mean: OpaquePointer?
        #expect(nnrt_ensemble_create(&members, 3, 1, &majority) == 0)
        #expect(nnrt_ensemble_create(&members, 2, 2, &mean) == 0)
        nnrt_model_free(t)   // the ensembles keep it alive
        var shared: OpaquePointer?
        #expect(nnrt_session_create(majority, 2, &shared) == 0)
        let models = [d, c, majority, mean]
        let state = Shared(models: models.map(bits), sharedSession: bits(shared),
                           denseBytes: try encodeModel(ModelFile(body: .network(shaped(dense)))))

        // The single-threaded reference.
        var reference: [[Result]] = []
        var referenceU8: [[Result]] = []
        for m in models {
            reference.append(combos.map { predict(m, x, $0.offset, $0.count).1 })
            referenceU8.append(combos.map { predictU8(m, p, $0.offset, $0.count).1 })
        }
        let want = reference, wantU8 = referenceU8

        let failures = Failures()
        let sharedLock = NSLockLite()
        runInParallel(threadCount) { index in
            var rng = TestRNG(seed: UInt64(index + 1))
            var own: OpaquePointer?, own2: OpaquePointer?
            guard nnrt_session_create(pointer(state.models[0]), 1, &own) == 0,
                  nnrt_session_create(pointer(state.models[1]), 2, &own2) == 0 else {
                failures.add("thread \(index): cannot create its sessions")
                return
            }
            defer {
                nnrt_session_free(own)
                nnrt_session_free(own2)
            }
            for _ in 0..<iterations {
                let r = rng.next()
                let op = Int(r % 7), m = Int((r >> 8) % 4), k = Int((r >> 16) % UInt64(combos.count))
                let (offset, count) = combos[k]
                let model = pointer(state.models[m])
                var status: Int32 = 0
                var got = Result(labels: [], outputs: [])
                var expected = want[m][k]
                switch op {
                case 0, 1:
                    (status, got) = predict(model, x, offset, count)
                case 2:
                    (status, got) = predictU8(model, p, offset, count)
                    expected = wantU8[m][k]
                case 3:
                    let session = (r >> 24) & 1 == 0 ? own : own2
                    (status, got) = sessionPredict(session, x, offset, count)
                    expected = want[session == own ? 0 : 1][k]
                case 4:
                    (status, got) = sharedLock.with { sessionPredict(pointer(state.sharedSession), x, offset, count) }
                    expected = want[2][k]
                case 5:
                    // A failure whose message names a number only this thread uses.
                    let wrong = index * 4 + Int(r >> 40) % 4    // below one example's 36 values
                    status = x.withUnsafeBufferPointer { xs in
                        var label: Int32 = 0
                        return nnrt_model_predict(model, xs.baseAddress, 1, wrong, &label, 1, nil, 0)
                    }
                    let message = String(cString: nnrt_last_error_message())
                    if status != 5 || !message.contains("inputs hold \(wrong) values") {
                        failures.add("thread \(index): last error '\(message)' for \(wrong) values")
                    }
                    continue
                default:
                    // A model of its own, and an ensemble of it with a shared one, freed here.
                    var mine: OpaquePointer?, both: OpaquePointer?
                    status = state.denseBytes.withUnsafeBytes { nnrt_model_load_from_memory($0.baseAddress, $0.count, &mine) }
                    var list: [OpaquePointer?] = [mine, pointer(state.models[1])]
                    if status == 0 { status = nnrt_ensemble_create(&list, 2, 2, &both) }
                    nnrt_model_free(mine)
                    if status == 0 { (status, got) = predict(both, x, offset, count) }
                    nnrt_model_free(both)
                    expected = want[3][k]
                }
                if status != 0 || got != expected {
                    failures.add("thread \(index): op \(op) on model \(m), rows \(offset)+\(count): status \(status)")
                }
            }
        }
        let seen = failures.all
        #expect(seen.isEmpty, "\(seen.count) failures, e.g. \(seen.prefix(3))")
        nnrt_session_free(shared)
        for m in models { nnrt_model_free(m) }
    }
}

/// getenv as a Swift string (no Foundation).
private func environment(_ name: String) -> String? {
    guard let value = getenv(name) else { return nil }
    return String(cString: value)
}
