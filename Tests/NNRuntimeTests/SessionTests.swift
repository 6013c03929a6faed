import NNModel
@testable import NNRuntime
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Sessions: the same results as the model's own predictions, bit for bit, for every thread count
/// and batch size, with memory reused between calls.
@Suite struct SessionTests {
    func inputs(_ count: Int, _ size: Int, seed: UInt64) -> [Float] {
        var rng = TestRNG(seed: seed)
        return (0..<(count * size)).map { _ in rng.float() }
    }

    @Test(arguments: [1, 2, 3, 0])
    func sameResultsAsTheModelForEveryThreadCount(threads: Int) throws {
        let models = [try model(makeNetwork([20, 30, 10], seed: 4)),
                      try model(makeConvNetwork()),
                      try ensemble([makeNetwork([20, 7, 10], seed: 5), makeNetwork([20, 9, 10], seed: 6),
                                    makeNetwork([20, 5, 10], seed: 7)], .majority)]
        for m in models {
            // Split even small batches (these networks are tiny), so every part boundary is tested.
            let session = try Session(model: m, threads: threads, minimumWork: 1)
            #expect(session.threads >= 1)
            // Sizes around the split and the 256-row blocks, repeated so the second call of a
            // size reuses the first one's memory.
            for count in [1, 31, 64, 65, 257, 700, 64, 1] {
                let x = inputs(count, m.inputSize, seed: UInt64(count))
                let expected = try m.predict(x)
                var labels = [Int32](repeating: -1, count: count)
                var outputs = [Float](repeating: .nan, count: count * m.classCount)
                try x.withUnsafeBufferPointer { xb in
                    try labels.withUnsafeMutableBufferPointer { lb in
                        try outputs.withUnsafeMutableBufferPointer { ob in
                            try session.predict(xb, count: count, labels: lb, outputs: ob)
                        }
                    }
                }
                #expect(labels == expected.labels, "threads \(threads), count \(count)")
                #expect(outputs == expected.outputs, "threads \(threads), count \(count)")
                let pixels = (0..<(count * m.inputSize)).map { UInt8(truncatingIfNeeded: $0 &* 37) }
                let expectedPixels = try m.predict(pixels: pixels)
                try pixels.withUnsafeBufferPointer { pb in
                    try labels.withUnsafeMutableBufferPointer { lb in
                        try session.predict(pixels: pb, count: count, labels: lb, outputs: nil)
                    }
                }
                #expect(labels == expectedPixels.labels, "pixels, threads \(threads), count \(count)")
            }
        }
    }

    /// The worker hand-off under churn: thousands of back-to-back calls (workers still awake),
    /// calls after a pause longer than the workers' watch window (workers asleep), and calls
    /// that use fewer parts than there are workers, all bit-identical to the model's own results.
    @Test func workerHandOffUnderChurn() throws {
        let m = try model(makeNetwork([20, 30, 10], seed: 8))
        let session = try Session(model: m, threads: 3, minimumWork: 1)
        let counts = [1, 2, 3, 7, 64]
        let cases = try counts.map { count in
            let x = inputs(count, m.inputSize, seed: UInt64(100 + count))
            return (count, x, try m.predict(x).outputs)
        }
        var outputs = [Float](repeating: 0, count: 64 * m.classCount)
        for call in 0..<3000 {
            let (count, x, expected) = cases[call % cases.count]
            if call % 500 == 499 { usleep(2000) }   // past the 0.1 ms watch window: workers sleep
            try x.withUnsafeBufferPointer { xb in
                try outputs.withUnsafeMutableBufferPointer { ob in
                    try session.predict(xb, count: count, labels: nil,
                                        outputs: UnsafeMutableBufferPointer(rebasing: ob[0..<(count * m.classCount)]))
                }
            }
            #expect(Array(outputs[0..<(count * m.classCount)]) == expected, "call \(call), count \(count)")
        }
    }

    @Test func argumentsAreChecked() throws {
        let m = try model(makeNetwork([4, 3, 2]))
        #expect(throws: ModelError.self) { try Session(model: m, threads: 257) }
        let session = try Session(model: m, threads: 2)
        var labels = [Int32](repeating: 0, count: 1)
        let x = [Float](repeating: 0, count: 3)       // one example needs 4
        #expect(throws: ModelError.self) {
            try x.withUnsafeBufferPointer { xb in
                try labels.withUnsafeMutableBufferPointer { lb in try session.predict(xb, count: 1, labels: lb, outputs: nil) }
            }
        }
    }
}
