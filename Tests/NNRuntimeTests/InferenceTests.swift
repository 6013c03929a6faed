import Testing
import Dispatch
import NNModel
@testable import NNRuntime

@Suite struct Inference {
    @Test(arguments: [
        ([7, 5, 3], [Activation.sigmoid, .sigmoid]),
        ([20, 16, 10], [.relu, .softmax]),
        ([33, 9, 8, 4], [.tanh, .linear, .sigmoid]),
        ([784, 30, 10], [.sigmoid, .sigmoid]),
        ([3, 1], [.softmax]),
    ])
    func matchesReference(sizes: [Int], activations: [Activation]) throws {
        let n = makeNetwork(sizes, seed: UInt64(sizes.reduce(0, +)), activations: activations)
        let m = try model(n)
        #expect(m.inputSize == sizes[0])
        #expect(m.classCount == sizes.last!)
        var rng = TestRNG(seed: 5)
        for count in [1, 3, 255, 256, 257, 600] {
            let x = (0..<(count * sizes[0])).map { _ in rng.float() }
            let p = try m.predict(x)
            let classes = sizes.last!
            for r in 0..<count {
                let ref = referenceForward(n, Array(x[(r * sizes[0])..<((r + 1) * sizes[0])]))
                for c in 0..<classes {
                    #expect(abs(Double(p.outputs[r * classes + c]) - ref[c]) <= 1e-5,
                            "row \(r) class \(c): \(p.outputs[r * classes + c]) vs \(ref[c])")
                }
                let got = Int(p.labels[r])
                // The label is the argmax of the outputs (allowing for near-ties in float).
                #expect(got == referenceArgmax(ref) || abs(ref[got] - ref[referenceArgmax(ref)]) < 1e-5)
            }
        }
    }

    /// Digit-like inputs (a blank page, a blob of ink) take the product that skips zeros: six
    /// rows at a time in a batch, one at a time alone. Both agree with the reference and with
    /// each other bit for bit, whatever the batch.
    @Test(arguments: [[784, 30, 10], [784, 100, 10], [50, 40, 3]])
    func blankPagesMatchTheReferenceInAnyBatch(sizes: [Int]) throws {
        let n = makeNetwork(sizes, seed: 11, activations: [.relu, .softmax])
        let m = try model(n)
        var rng = TestRNG(seed: 21)
        let count = 45
        let k = sizes[0]
        var x = [Float](repeating: 0, count: count * k)
        for r in 0..<count {
            let side = Int(Double(k).squareRoot())
            for p in 0..<k where r % 9 != 4 {    // every ninth image blank
                let (y, col) = (p / side, p % side)
                let ink = abs(y - side / 2) < side / 4 && abs(col - side / 2 + r % 5 - 2) < side / 5
                if ink && rng.next() % 4 != 0 { x[r * k + p] = Float(rng.next() % 255 + 1) / 255 }
            }
        }
        let all = try m.predict(x)
        let classes = sizes.last!
        for r in 0..<count {
            let row = Array(x[(r * k)..<((r + 1) * k)])
            let one = try m.predict(row)
            #expect(one.outputs == Array(all.outputs[(r * classes)..<((r + 1) * classes)]), "row \(r)")
            let ref = referenceForward(n, row)
            for c in 0..<classes {
                #expect(abs(Double(all.outputs[r * classes + c]) - ref[c]) <= 1e-5, "row \(r) class \(c)")
            }
        }
    }

    @Test func pixelsAreScaledByTheContract() throws {
        let n = makeNetwork([12, 6, 4], seed: 3, scale: 0.5, offset: -1)
        let m = try model(n)
        var rng = TestRNG(seed: 8)
        let pixels = (0..<(12 * 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let p = try m.predict(pixels: pixels)
        let q = try m.predict(pixels.map { Float($0) * 0.5 - 1 })
        #expect(p == q)
        for r in 0..<40 {
            let ref = referenceForward(n, pixels[(r * 12)..<((r + 1) * 12)].map { Float($0) * 0.5 - 1 })
            for c in 0..<4 { #expect(abs(Double(p.outputs[r * 4 + c]) - ref[c]) <= 1e-5) }
        }
    }

    @Test func largeBatchesUseBoundedBlocks() throws {
        let m = try model(makeNetwork([4, 3, 2]))
        var rng = TestRNG(seed: 1)
        let x = (0..<(4 * 5000)).map { _ in rng.float() }
        let all = try m.predict(x)
        // The same rows one at a time give the same bits.
        for r in stride(from: 0, to: 5000, by: 997) {
            let one = try m.predict(Array(x[(r * 4)..<(r * 4 + 4)]))
            #expect(one.outputs == Array(all.outputs[(r * 2)..<(r * 2 + 2)]))
        }
    }

    @Test func argumentErrors() throws {
        let m = try model(makeNetwork([4, 3]))
        let x = [Float](repeating: 0, count: 8)
        var labels = [Int32](repeating: -1, count: 2)
        var outputs = [Float](repeating: -1, count: 6)
        func call(_ count: Int, _ xs: [Float], _ lc: Int?, _ oc: Int?) -> ModelError? {
            do {
                try xs.withUnsafeBufferPointer { xb in
                    try labels.withUnsafeMutableBufferPointer { lb in
                        try outputs.withUnsafeMutableBufferPointer { ob in
                            try m.predict(xb, count: count,
                                          labels: lc.map { UnsafeMutableBufferPointer(rebasing: lb[0..<$0]) },
                                          outputs: oc.map { UnsafeMutableBufferPointer(rebasing: ob[0..<$0]) })
                        }
                    }
                }
                return nil
            } catch { return error as? ModelError }
        }
        #expect(call(0, x, 2, 6)?.code == .invalidArgument)
        #expect(call(2, x, nil, nil)?.code == .invalidArgument)
        #expect(call(3, x, 2, 6)?.code == .shapeMismatch)
        let small = call(2, x, 1, 6)
        #expect(small?.code == .bufferTooSmall)
        #expect(small?.message.contains("2 needed") == true)
        let smallOut = call(2, x, 2, 5)
        #expect(smallOut?.code == .bufferTooSmall)
        #expect(smallOut?.message.contains("6 needed") == true)
        #expect(labels == [-1, -1] && outputs.allSatisfy { $0 == -1 }, "nothing written on failure")
        #expect(call(Int.max / 2, x, 2, 6)?.code == .invalidArgument)
        #expect(call(2, x, 2, nil) == nil)
        #expect(call(2, x, nil, 6) == nil)
    }

    @Test func concurrentPredictionsAgree() throws {
        let m = try model(makeNetwork([784, 30, 10], seed: 11))
        var rng = TestRNG(seed: 2)
        let x = (0..<(784 * 300)).map { _ in rng.float() }
        let expected = try m.predict(x)
        let results = ResultBox(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            var ok = true
            for _ in 0..<5 {
                if let p = try? m.predict(x), p == expected { continue }
                ok = false
            }
            results.set(i, ok)
        }
        #expect(results.all)
    }
}

/// Collects per-thread results.
final class ResultBox: @unchecked Sendable {
    private var values: [Bool]
    private let lock = NSLockLite()
    init(count: Int) { values = [Bool](repeating: false, count: count) }
    func set(_ i: Int, _ v: Bool) { lock.with { values[i] = v } }
    var all: Bool { lock.with { values.allSatisfy { $0 } } }
}

/// A tiny pthread mutex (no Foundation).
final class NSLockLite: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func with<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body()
    }
}

#if canImport(Glibc)
import Glibc
#endif

@Suite struct Voting {
    @Test func majorityClearWinner() throws {
        let e = try ensemble([constantNetwork([0.9, 0.1, 0]), constantNetwork([0.6, 0.4, 0]), constantNetwork([0, 0, 1])], .majority)
        let p = try e.predict([0, 0])
        #expect(p.labels == [0])
        #expect(p.outputs == [2.0 / 3, 0, 1.0 / 3])
    }

    @Test func majorityTieGoesToLargestSummedOutput() throws {
        // Votes: class 0 once, class 1 once. Summed outputs: class 0 0.8+0.45 = 1.25, class 1 0.2+0.55 = 0.75
        // ... class 1 wins on votes? no: each has one vote; sum decides -> class 0.
        var e = try ensemble([constantNetwork([0.8, 0.2, 0]), constantNetwork([0.45, 0.55, 0])], .majority)
        #expect(try e.predict([0, 0]).labels == [0])
        // Swap which class has the larger summed output: class 1 wins though class 0 has the
        // largest single output.
        e = try ensemble([constantNetwork([0.9, 0.1, 0]), constantNetwork([0.0, 0.95, 0.05])], .majority)
        #expect(try e.predict([0, 0]).labels == [1])
        // Three-way tie in votes; summed outputs decide among the tied labels only (class 3
        // has the largest sum but no vote).
        e = try ensemble([constantNetwork([0.5, 0, 0, 0.4]), constantNetwork([0, 0.6, 0, 0.5]),
                          constantNetwork([0, 0, 0.7, 0.6])], .majority)
        #expect(try e.predict([0, 0]).labels == [2])
    }

    @Test func majorityFullTieGoesToSmallestIndex() throws {
        let e = try ensemble([constantNetwork([0, 0.5, 0.5 - 0.25]), constantNetwork([0, 0.25, 0.5])], .majority)
        // Votes: class 1 (0.5 > 0.25) and class 2 (0.5 > 0.25); sums: class 1 0.75, class 2 0.75.
        let p = try e.predict([0, 0])
        #expect(p.labels == [1])
        #expect(p.outputs == [0, 0.5, 0.5])
    }

    @Test func meanProbability() throws {
        let e = try ensemble([constantNetwork([0.9, 0.1, 0]), constantNetwork([0.6, 0.4, 0]), constantNetwork([0, 0, 1])], .meanProbability)
        let p = try e.predict([0, 0])
        // Means: 0.5, 1/6, 1/3 -> class 0.
        #expect(p.labels == [0])
        #expect(abs(p.outputs[0] - 0.5) < 1e-6 && abs(p.outputs[1] - 0.5 / 3) < 1e-6 && abs(p.outputs[2] - 1.0 / 3) < 1e-6)
        // Majority on the same members also says 0; make mean and majority disagree:
        let f = [constantNetwork([0.51, 0.49]), constantNetwork([0.51, 0.49]), constantNetwork([0, 1])]
        #expect(try ensemble(f, .majority).predict([0, 0]).labels == [0])
        #expect(try ensemble(f, .meanProbability).predict([0, 0]).labels == [1])
        // Ties in the mean go to the smallest index.
        #expect(try ensemble([constantNetwork([0.25, 0.75]), constantNetwork([0.75, 0.25])], .meanProbability).predict([0, 0]).labels == [0])
    }

    @Test func membersAgainstSeparateModels() throws {
        let nets = (0..<3).map { makeNetwork([10, 8, 5], name: "m\($0)", seed: UInt64($0 + 1), activations: [.sigmoid, .softmax]) }
        let e = try ensemble(nets, .majority)
        var rng = TestRNG(seed: 4)
        let x = (0..<(10 * 50)).map { _ in rng.float() }
        var memberLabels = [Int32](repeating: 0, count: 50 * 3)
        var memberOutputs = [Float](repeating: 0, count: 50 * 3 * 5)
        try x.withUnsafeBufferPointer { xb in
            try e.predictMembers(xb, count: 50, memberLabels: memberLabels.withUnsafeMutableBufferPointer { $0 },
                                 memberOutputs: memberOutputs.withUnsafeMutableBufferPointer { $0 })
        }
        let singles = try nets.map { try model($0).predict(x) }
        for r in 0..<50 {
            for m in 0..<3 {
                #expect(memberLabels[r * 3 + m] == singles[m].labels[r])
                #expect(Array(memberOutputs[((r * 3 + m) * 5)..<((r * 3 + m + 1) * 5)]) == Array(singles[m].outputs[(r * 5)..<(r * 5 + 5)]))
            }
        }
        // Runtime-assembled ensembles vote like file ensembles, flatten nested ensembles, and
        // re-vote under a new rule.
        let runtime = try Model(ensembleOf: try nets.map(model), voting: .majority)
        #expect(try runtime.predict(x) == e.predict(x))
        let revoted = try Model(ensembleOf: [e], voting: .meanProbability)
        #expect(revoted.members.count == 3)
        #expect(try revoted.predict(x) == ensemble(nets, .meanProbability).predict(x))
    }

    @Test func mismatchedMembers() throws {
        let a = try model(makeNetwork([4, 2])), b = try model(makeNetwork([5, 2]))
        let c = try model(makeNetwork([4, 2], labels: ["a", "b"]))
        #expect(statusOf { _ = try Model(ensembleOf: [a, b], voting: .majority) } == .shapeMismatch)
        #expect(statusOf { _ = try Model(ensembleOf: [a, c], voting: .majority) } == .shapeMismatch)
        #expect(statusOf { _ = try ensemble([makeNetwork([4, 2]), makeNetwork([4, 3])], .majority) } == .badModel)   // an ensemble file whose members disagree is a bad file
        #expect(statusOf { _ = try Model(ensembleOf: [], voting: .majority) } == .invalidArgument)
    }
}

/// The status code a throwing body fails with, or nil if it succeeds.
func statusOf(_ body: () throws -> Void) -> StatusCode? {
    do {
        try body()
        return nil
    } catch let e as ModelError {
        return e.code
    } catch {
        return .internal
    }
}
